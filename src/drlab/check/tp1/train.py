"""TODO 2, ``train_one_epoch(model, batches, optimizer, loss_fn)``: one epoch of the lecture's four steps
(❶ forward, ❷ loss, ❸ backward, ❹ step, and the gradients zeroed), returning the mean batch loss.

Judged by the weights it leaves on the grader's probes, against the reference's four steps
(:mod:`drlab.check.tp1.reference`), and its training mode by a batch-norm probe's statistics, which
move only in a forward pass in training mode. The zero_grad probe is trained with a loss that is not the
notebook's (:data:`~drlab.check.harvest.PROBE_TRAINING`), so a function that ignores the ``loss_fn`` it
is given leaves other weights. What the sandbox's spies saw of the four steps (forward calls and their
images, the calls of the loss it was given, gradients in, ``.grad`` at each step) only chooses the hint
of a check that already failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from drlab.check.harvest import PROBE_TRAINING, make_probe
from drlab.check.messages import Text, text
from drlab.check.tp1.evidence import (
    Context,
    Failed,
    Returned,
    calls,
    counts,
    is_count,
    max_difference,
    parameters,
    returned,
    same,
    same_shapes,
)
from drlab.check.tp1.reference import parameters_of, probe_loss, reference_train_one_epoch

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class TrainOutcome:
    """The student's ``train_one_epoch`` on two batches (SGD), beside the reference and its classic mistakes."""

    parameters: list[torch.Tensor]
    returned: Returned
    start: list[torch.Tensor]
    reference: list[torch.Tensor]
    mean_loss: float
    """the reference epoch's mean batch loss"""
    first_loss: float
    """the reference's first batch loss"""
    evidence: dict[str, Any]
    """what the sandbox saw of the four steps: forward calls, gradients in, gradients at each step"""


def two_batches(ctx: Context) -> list[Batch]:
    """The zero_grad probe's data, as the sandbox cut it: two batches (of 16)."""
    x, y = ctx.request.tensors["zero_grad.x"], ctx.request.tensors["zero_grad.y"]
    size = PROBE_TRAINING["zero_grad"][1]
    return list(zip(x.split(size), y.split(size), strict=True))


def reference_run(ctx: Context, batches: list[Batch], **mistake: Any) -> tuple[list[torch.Tensor], float]:
    """The reference's epoch (or one of its classic mistakes) on the zero_grad probe, trained as the
    sandbox trains it (:data:`PROBE_TRAINING`): its weights and its mean batch loss."""
    _, _, optimizer_name, lr, smoothing = PROBE_TRAINING["zero_grad"]
    model = make_probe(ctx.request.tensors, "zero_grad")
    optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), lr=lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.request.seed)
        loss = reference_train_one_epoch(
            model, batches, optimizer, nn.CrossEntropyLoss(label_smoothing=smoothing), **mistake
        )
    return parameters_of(model), loss


def train_outcome(ctx: Context) -> TrainOutcome:
    """The student's one epoch on two batches, with the reference's (or why there is none)."""
    data, tensors = ctx.frame("train_zero_grad", cause="train")
    batches = two_batches(ctx)
    reference, mean_loss = reference_run(ctx, batches)
    _, first_loss = reference_run(ctx, batches, max_batches=1)
    start = parameters_of(make_probe(ctx.request.tensors, "zero_grad"))
    after = parameters(tensors)
    if not same_shapes(after, start):
        raise Failed("malformed_weights", cause="train")
    return TrainOutcome(after, returned(data.get("returned")), start, reference, mean_loss, first_loss, data)


def why_no_update(evidence: Mapping[str, Any]) -> Failed | None:
    """The likely reason why the parameters of the model given to ``train_one_epoch`` did not move.

    From what the sandbox recorded: the model's forward calls (❶), the gradients that reached its
    parameters in ``backward()`` (❸), and whether ``.grad`` held anything at each ``optimizer.step()`` (❹).
    """
    forward, gradients_in = evidence.get("forward_calls"), evidence.get("gradients_in")
    steps = evidence.get("steps")
    if not (is_count(forward) and is_count(gradients_in) and isinstance(steps, list)):
        return None
    if forward == 0:
        return Failed("train.never_called_model", cause="train")
    if gradients_in == 0:
        return Failed("train.no_gradient", cause="train")
    if not steps:
        return Failed("train.no_step", cause="train")
    if all(state in ("none", "zero") for state in steps):
        return Failed("train.gradients_wiped", cause="train")
    return None


def why_other_update(ctx: Context, name: str, evidence: Mapping[str, Any]) -> Failed | None:
    """The likely reason why the weights moved, but not as the reference's: the model was given other
    images than the batches it received, or the loss was not the ``loss_fn`` it received."""
    rows, given = counts(evidence.get("rows")), len(ctx.request.tensors[f"{name}.y"])
    size = PROBE_TRAINING[name][1]
    if any(r > size for r in rows):  # a batch larger than any it was given: another source of batches
        return Failed("train.other_batches", cause="train", size=size, given=given, largest=max(rows))
    if evidence.get("loss_calls") == 0 and evidence.get("forward_calls"):
        return Failed("train.loss_fn_ignored", cause="train")
    return None


def check_lowers_loss(ctx: Context) -> Text:
    data, tensors = ctx.frame("train_lowers", cause="train")
    sent = ctx.request.tensors
    start = parameters_of(make_probe(sent, "lowers"))
    after = parameters(tensors)
    if not same_shapes(after, start):
        raise Failed("malformed_weights", cause="train")
    if same(start, after):
        raise why_no_update(data) or Failed("train.unchanged", cause="train")
    before, after_loss = probe_loss(sent, "lowers", None), probe_loss(sent, "lowers", after)
    epochs = PROBE_TRAINING["lowers"][0]
    if not after_loss < 0.98 * before:
        raise why_other_update(ctx, "lowers", data) or Failed(
            "train.not_lower", cause="train", epochs=epochs, before=before, after=after_loss
        )
    return text("train.lowers_ok", before=before, after=after_loss, epochs=epochs)


def check_zero_grad(ctx: Context) -> Text:
    outcome = ctx.outcome(train_outcome)
    result = outcome.parameters
    _, _, optimizer, lr, _ = PROBE_TRAINING["zero_grad"]
    batches = two_batches(ctx)
    if same(result, outcome.reference):
        return text("train.reference_ok", batches=len(batches), optimizer=optimizer)
    if same(result, outcome.start):
        raise why_no_update(outcome.evidence) or Failed("train.unchanged_two_batches", cause="train")
    other = why_other_update(ctx, "zero_grad", outcome.evidence)
    if other is not None:
        raise other
    for mistake, hint in (
        ({"zero_grad": False}, "train.accumulated"),
        ({"softmax_first": True}, "train.softmax_first"),
        ({"max_batches": 1}, "train.first_batch_only"),
    ):
        if same(result, reference_run(ctx, batches, **mistake)[0]):
            raise Failed(hint, cause="train")
    raise Failed(
        "train.differs",
        cause="train",
        batches=len(batches),
        optimizer=optimizer,
        lr=lr,
        gap=max_difference(result, outcome.reference),
    )


def check_returns_loss(ctx: Context) -> Text:
    try:
        outcome = ctx.outcome(train_outcome)
    except Failed as failure:
        raise Failed("train.needs_run", cause=failure.cause or "train") from None
    value = outcome.returned.value
    if outcome.returned.kind == "tensor":
        raise Failed("train.returns_tensor", cause="returns")
    if outcome.returned.kind != "real" or value is None:
        raise Failed("train.returns_other", cause="returns", type=outcome.returned.type)
    if not math.isfinite(value):
        raise Failed("train.returns_infinite", cause="returns", value=value)

    def near(target: float) -> bool:
        return math.isclose(value, target, rel_tol=1e-4, abs_tol=1e-6)

    if near(outcome.mean_loss):
        return text("train.returns_ok", value=value)
    if near(2 * outcome.mean_loss):
        raise Failed("train.returns_sum", cause="returns")
    if near(2 * outcome.mean_loss - outcome.first_loss):
        raise Failed("train.returns_last", cause="returns")
    if not same(outcome.parameters, outcome.reference):
        # a training that is wrong (see above) gives other batch losses than the reference's: the
        # number cannot be judged, and the same root is not a second mistake
        raise Failed("train.returns_unjudged", cause="train")
    raise Failed("train.returns_wrong", cause="returns", value=value, mean=outcome.mean_loss)


def train_mode_reference(ctx: Context) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The batch-norm probe's statistics before, and after one forward pass in training mode."""
    probe = make_probe(ctx.request.tensors, "train_mode")
    start = {name: buffer.clone() for name, buffer in probe.named_buffers()}
    probe.train()
    with torch.no_grad():
        probe(ctx.request.tensors["train_mode.x"])
    return start, {name: buffer.clone() for name, buffer in probe.named_buffers()}


def check_mode(ctx: Context) -> Text:
    data, tensors = ctx.frame("train_mode", cause="train")
    start, expected = ctx.outcome(train_mode_reference)
    got = {name: tensors[f"buffer.{name}"] for name in expected if f"buffer.{name}" in tensors}
    if not all(name in got and got[name].shape == expected[name].shape for name in expected):
        raise Failed("train.mode_malformed", cause="train")

    def matches(reference: Mapping[str, torch.Tensor]) -> bool:
        return all(
            torch.allclose(got[name].double(), reference[name].double(), rtol=1e-4, atol=1e-5)
            for name in reference
        )

    if matches(expected):
        return text("train.mode_ok")
    forward_calls = calls(data.get("calls"))
    if not forward_calls:
        raise Failed("train.mode_never_called", cause="train")
    if matches(start):
        raise Failed("train.mode_eval", cause="train_mode")
    raise Failed("train.mode_wrong", cause="train", calls=len(forward_calls))
