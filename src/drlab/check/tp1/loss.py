"""TODO 4, ``loss_fn(logits, y_batch)``: the loss of a classification into 10 classes, the cross-entropy
of the logits ``(B, 10)`` and the integer labels ``(B,)``, with a gradient back to the logits.

Judged by its value on the grader's logits and labels (a batch of 7, not 10, so that a ``(B, 10) -
(B,)`` broadcast fails as in training), held against the classic choices of loss, and by the gradient
it sends back. ``nn.NLLLoss()`` is accepted beside a ``Net`` that ends with a log-softmax: the pair
computes the cross-entropy (log-softmax leaves log-probabilities unchanged).
"""

from __future__ import annotations

import math

import torch

from drlab.check.messages import Text, text
from drlab.check.tp1.contract import NUM_CLASSES
from drlab.check.tp1.evidence import Context, Failed, exception_words, quoted, returned, sandbox_event
from drlab.check.tp1.net import log_probabilities, student_net
from drlab.check.tp1.reference import cross_entropy_gradient, loss_references

#: a value of loss_fn that is one of these classic choices gets its own hint
MISTAKES = {
    "mse_one_hot": "loss.mse",
    "mse_probabilities": "loss.mse",
    "nll_logits": "loss.nll",
    "nll_probabilities": "loss.nll",
    "cross_entropy_sum": "loss.sum",
    "bce_one_hot": "loss.bce",
}


def check_loss_fn(ctx: Context) -> Text:
    data, tensors = ctx.frame("loss", cause="loss")
    logits, labels = ctx.request.tensors["loss.logits"], ctx.request.tensors["loss.y"]
    references = loss_references(logits, labels)
    raised = data.get("raised")
    if data.get("type") == "type":  # loss_fn = nn.CrossEntropyLoss: the class, called with the logits
        raise Failed("loss.class_not_instance", cause="loss")
    if raised:
        words = exception_words(raised)
        # MSELoss on integer labels fails with a broadcast or a dtype error: the hint says why
        if "MSE" in quoted(data.get("type")) or any(
            w in words for w in ("mse", "must match the size", "Long")
        ):
            raise Failed("loss.raised_mse", cause="loss", raised=sandbox_event(raised))
        raise Failed("loss.raised", cause="loss", raised=sandbox_event(raised))
    value = returned(data.get("returned"))
    if value.value is None:
        shape = data.get("shape")
        of_shape = text("loss.of_shape", shape=quoted(tuple(shape))) if isinstance(shape, list) else ""
        raise Failed("loss.not_number", cause="loss", type=value.type, shape=of_shape)
    match = next(
        (
            name
            for name, target in references.items()
            if math.isclose(value.value, target, rel_tol=1e-4, abs_tol=1e-6)
        ),
        None,
    )
    if match == "cross_entropy":
        grad = tensors.get("grad")
        expected = cross_entropy_gradient(logits, labels)
        if (
            not isinstance(grad, torch.Tensor)
            or grad.shape != expected.shape
            or not torch.allclose(grad.double(), expected.double(), rtol=1e-3, atol=1e-6)
        ):
            raise Failed("loss.no_gradient", cause="loss")
        return text("loss.ok", value=value.value)
    if match == "nll_logits" and nll_beside_log_softmax(ctx):
        return text("loss.nll_log_softmax_ok", value=value.value)
    if match == "softmax_cross_entropy":
        # the smallest cross-entropy of probabilities: p = 1 on the true class, 0 elsewhere → log(1 + 9/e)
        raise Failed("loss.softmax", cause="loss", floor=math.log(1 + (NUM_CLASSES - 1) / math.e))
    if match in MISTAKES:
        raise Failed(MISTAKES[match], cause="loss")
    raise Failed("loss.other", cause="loss", value=value.value, cross_entropy=references["cross_entropy"])


def nll_beside_log_softmax(ctx: Context) -> bool:
    """``Net()`` ends with a log-softmax: its outputs are log-probabilities, which NLLLoss expects."""
    try:
        output = ctx.outcome(student_net).output
    except Failed:
        return False
    return output is not None and log_probabilities(output)
