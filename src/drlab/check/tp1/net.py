"""TODO 1, ``class Net(nn.Module)``: ``Net()`` maps images ``(B, 1, 28, 28)`` to ``(B, 10)`` logits, with
a sane number of weights.

The sandbox builds ``Net()`` with the grader's seed and calls it on 5 of the grader's images; these
checks read its output and its parameters. (They are the data themselves: any ``(5, 10)`` tensor of raw
scores *is* a right answer, so a notebook that forges the frame passes them — ``test_check_forgery.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from drlab.check.messages import Text, text
from drlab.check.tp1.contract import (
    CNN_PARAMETERS,
    MLP_PARAMETERS,
    NUM_CLASSES,
    PARAMETER_RANGE,
    SOFTMAX_REGRESSION_PARAMETERS,
)
from drlab.check.tp1.evidence import (
    Context,
    Failed,
    exception_words,
    missing_name,
    parameters,
    returned,
    sandbox_event,
)


@dataclass(frozen=True)
class NetOutcome:
    """``Net()`` as built in the sandbox: its output on 5 images, and how many trainable weights it has."""

    output: torch.Tensor | None
    output_type: str
    parameters: int
    input_scale: float | None
    """the images' spread where the first layer receives them, relative to the images given (1: unchanged)"""


def student_net(ctx: Context) -> NetOutcome:
    """``Net()``: its output on 5 of the grader's images and its size (or why there is none)."""
    data, tensors = ctx.harvest.get("net")
    status = data.get("status")
    if status == "missing":
        raise missing_name("Net")
    if status == "not-module":
        raise Failed("net.not_module", cause="net")
    if status == "init-error":
        words = exception_words(data.get("error"))
        if "before Module.__init__() call" in words:
            raise Failed("net.super_init", cause="net", error=sandbox_event(data.get("error")))
        if "argument" in words:
            raise Failed("net.init_arguments", cause="net", error=sandbox_event(data.get("error")))
        raise Failed(sandbox_event(data.get("error")), cause="net")
    if status == "forward-error":
        # forward failed on the grader's (5, 1, 28, 28) batch: the hint names the usual cause, a shape
        raise Failed("net.forward_shape", cause="net", error=sandbox_event(data.get("error")))
    if status != "ok":
        raise Failed("no_answer", cause="no_answer")
    count = sum(t.numel() for t in parameters(tensors))
    scale = data.get("input_scale")
    first = scale[0] if isinstance(scale, list) and scale and isinstance(scale[0], (int, float)) else None
    return NetOutcome(tensors.get("output"), returned(data.get("output")).type, count, first)


def log_probabilities(output: torch.Tensor) -> bool:
    """Every row is a log-softmax's: ≤ 0, and its exponentials sum to 1."""
    rows = output.double()
    return (
        rows.ndim == 2
        and bool((rows <= 1e-6).all())
        and bool(torch.allclose(rows.exp().sum(dim=1), torch.ones(len(rows), dtype=rows.dtype), atol=1e-4))
    )


def check_output(ctx: Context) -> Text:
    net = ctx.outcome(student_net)
    if net.output is None:
        raise Failed("net.not_tensor", cause="net", type=net.output_type)
    shape = tuple(net.output.shape)
    if shape == (5, NUM_CLASSES):
        return text("net.output_ok")
    if len(shape) == 2 and shape[0] == 5:
        raise Failed("net.output_classes", cause="net", shape=str(shape), outputs=shape[1])
    raise Failed("net.output_shape", cause="net", shape=str(shape))


def check_logits(ctx: Context) -> Text:
    output = ctx.outcome(student_net).output
    if output is None or output.ndim != 2 or not output.is_floating_point():
        raise Failed("net.needs_output", cause="net")
    rows = output.float()
    if bool((rows >= 0).all()) and bool(torch.allclose(rows.sum(dim=1), torch.ones(len(rows)), atol=1e-4)):
        raise Failed("net.probabilities", cause="softmax")
    if log_probabilities(rows):
        return text("net.log_probabilities_ok")
    return text("net.logits_ok")


def check_size(ctx: Context) -> Text:
    count = ctx.outcome(student_net).parameters
    low, high = PARAMETER_RANGE
    if count < low:
        raise Failed(
            "net.too_few", cause="net", count=count, softmax_regression=SOFTMAX_REGRESSION_PARAMETERS
        )
    if count > high:
        raise Failed(
            "net.too_many",
            cause="net_size",
            count=count,
            mlp=MLP_PARAMETERS,
            cnn_low=CNN_PARAMETERS[0],
            cnn_high=CNN_PARAMETERS[1],
        )
    return text("net.size_ok", count=count)
