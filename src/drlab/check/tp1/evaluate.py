"""TODO 3, ``evaluate(model, x, y)``: the accuracy of ``model`` on ``(x, y)``, a fraction in [0, 1],
measured in evaluation mode (``model.eval()``) without autograd (``torch.no_grad()``).

Judged by the numbers it returns: on a plain probe (64 images, then 1,037: a prime number, so that a
mean of per-chunk accuracies shows), and on two *marked* probes whose scores move by one class in
training mode or under autograd — a forgotten ``model.eval()`` or ``torch.no_grad()`` then gives an
accuracy the grader computes. A wrong number is held against the classic mistakes (a count, a
percentage, the error rate, ``argmax()`` without ``dim``, the accuracy on the notebook's test set
instead of the images it was given…) to choose the hint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from drlab.check.harvest import make_probe
from drlab.check.messages import Text, text
from drlab.check.tp1.evidence import Context, Failed, Returned, calls, returned, sandbox_event
from drlab.check.tp1.reference import (
    accuracy,
    accuracy_variants,
    chunk_mean_accuracies,
    flat_argmax_accuracies,
)
from drlab.check.tp1.request import EVALUATE_BIG


@dataclass(frozen=True)
class EvaluateOutcome:
    """The student's ``evaluate`` on the grader's probe: what it returned, and what it should have."""

    returned: Returned
    expected: float
    returned_big: Returned | None
    """what it returned on the 1,037 images (None: it raised, see error_big)"""
    error_big: Any
    """the sandbox's event when it raised on the 1,037 images"""
    rows: list[int]
    """the images of each forward call of the probe, as the spy saw them (-1: unknown)"""


def evaluate_outcome(ctx: Context) -> EvaluateOutcome:
    """The student's ``evaluate`` on the grader's probe (or why there is none)."""
    data, _ = ctx.harvest.get("evaluate")
    ctx.frame("evaluate", cause="evaluate")
    forward_calls = calls(data.get("calls"))
    if not forward_calls:  # the spy's word can fail evaluate, never pass it
        raise Failed("evaluate.never_called", cause="evaluate")
    big = returned(data["returned_big"]) if "returned_big" in data else None
    return EvaluateOutcome(
        returned(data.get("returned")),
        ctx.request.evaluate_expected,
        big,
        data.get("error_big"),
        [rows for *_, rows in forward_calls],
    )


def check_accuracy(ctx: Context) -> Text:
    outcome = ctx.outcome(evaluate_outcome)
    value, reference = outcome.returned.value, outcome.expected
    n = len(ctx.request.tensors["evaluate.y"])
    if outcome.returned.kind not in ("real", "tensor") or value is None:
        raise Failed("evaluate.not_number", cause="evaluate", type=outcome.returned.type)
    if math.isclose(value, reference, abs_tol=1e-6):
        big = check_big(ctx, outcome)
        if outcome.returned.kind == "tensor":  # the contract's -> float: a tensor is a number, not a float
            raise Failed("evaluate.returns_tensor", cause="evaluate_type", value=value)
        return text("evaluate.ok", value=value, n=n, big=big)
    right = round(reference * n)
    shown = {"value": value, "right": right, "n": n}
    if math.isclose(value, 100 * reference, abs_tol=1e-4):
        raise Failed("evaluate.percentage", cause="evaluate", value=value, reference=reference)
    if math.isclose(value, 1 - reference, abs_tol=1e-6):
        raise Failed("evaluate.error_rate", cause="evaluate")
    if math.isclose(value, right, abs_tol=1e-6):
        raise Failed("evaluate.count", cause="evaluate", **shown)
    if value == 0 and right and outcome.returned.type == "int":
        raise Failed("evaluate.zero", cause="evaluate", **shown)
    other = other_images(ctx, outcome, n)
    if other is not None:
        raise other
    logits, labels = ctx.request.kept["evaluate.logits"], ctx.request.tensors["evaluate.y"]
    if round(value, 6) in flat_argmax_accuracies(logits, labels):
        raise Failed("evaluate.flat_argmax", cause="evaluate", n=n, value=value, reference=reference)
    divisor = right / value if value > 0 else 0.0  # the right answers counted, divided by something else
    if round(divisor) > 1 and math.isclose(divisor, round(divisor), abs_tol=1e-6):
        raise Failed("evaluate.divided_by", cause="evaluate", divisor=round(divisor), **shown)
    raise Failed("evaluate.other_data", cause="evaluate", n=n, value=value, reference=reference)


def other_images(ctx: Context, outcome: EvaluateOutcome, n: int) -> Failed | None:
    """The ✗ of an ``evaluate`` that measured the model on other images than the ``n`` it was given (the
    spy counted them), naming the notebook's test set when the number is the probe's accuracy there."""
    rows = [r for r in outcome.rows if r >= 0]
    if not rows or (sum(rows) % n == 0 and max(rows) <= n):
        return None
    probe = make_probe(ctx.request.tensors, "evaluate").eval()
    with torch.no_grad():
        on_test = accuracy(probe(ctx.request.tensors["test"]), ctx.request.labels["test"])
    value = outcome.returned.value
    key = (
        "evaluate.global_test"
        if value is not None and abs(value - on_test) < 1e-6
        else "evaluate.other_images"
    )
    return Failed(key, cause="evaluate", n=n, seen=sum(rows), value=value)


def check_big(ctx: Context, outcome: EvaluateOutcome) -> Text:
    """evaluate on 1,037 images: the accuracy, not a mean of per-chunk accuracies (raises otherwise)."""
    logits, labels = ctx.request.kept["evaluate_big.logits"], ctx.request.tensors["evaluate_big.y"]
    expected = accuracy(logits, labels)
    big = outcome.returned_big
    if big is None:
        error = sandbox_event(outcome.error_big) if outcome.error_big else text("no_answer")
        raise Failed("evaluate.big_failed", cause="evaluate", n=EVALUATE_BIG, error=error)
    if big.value is None:
        raise Failed("evaluate.big_not_number", cause="evaluate", n=EVALUATE_BIG, type=big.type)
    if math.isclose(big.value, expected, abs_tol=1e-6):
        return text("evaluate.big_ok", n=EVALUATE_BIG)
    if round(big.value, 6) in chunk_mean_accuracies(logits.argmax(dim=1) == labels):
        raise Failed(
            "evaluate.big_chunks", cause="evaluate", n=EVALUATE_BIG, value=big.value, expected=expected
        )
    raise Failed(
        "evaluate.big_wrong",
        cause="evaluate",
        small=len(ctx.request.tensors["evaluate.y"]),
        n=EVALUATE_BIG,
        value=big.value,
        expected=expected,
    )


@dataclass(frozen=True)
class MarkedVerdict:
    """What ``evaluate`` returned on a marked probe, read against both ways the probe can be measured:
    right (eval mode, no autograd), or with its marker on (its scores moved by one class)."""

    value: float
    n: int
    """images of the probe"""
    right: float
    """the probe's accuracy, measured right"""
    marked: float
    """its accuracy with the marker on"""
    is_right: bool
    is_marked: bool

    def decide(self, ctx: Context, passed: Text, mistake: Failed, state: Text) -> Text:
        """``passed`` when measured right; ``mistake`` raised when measured with the marker on (in
        ``state``: "training mode", "under autograd"); else the ✗ of a number that is neither."""
        if self.is_right:
            return passed
        if self.is_marked:
            raise mistake
        if ctx.first_cause("evaluate"):  # a wrong evaluate, reported above
            raise Failed("evaluate.wrong_above", cause="evaluate")
        raise Failed(
            "evaluate.neither",
            cause="evaluate",
            n=self.n,
            value=self.value,
            right=self.right,
            marked=self.marked,
            state=state,
        )


def marked_verdict(ctx: Context, name: str) -> MarkedVerdict:
    """The student's ``evaluate`` on the marked probe ``name`` (``eval_mode``, ``eval_no_grad``)."""
    ctx.outcome(evaluate_outcome)  # evaluate is missing, raised, or never called its model: said once, above
    data, _ = ctx.frame(name, cause="evaluate")
    result = returned(data.get("returned"))
    if result.value is None:
        raise Failed("evaluate.needs_number", cause="evaluate", type=result.type)
    value = result.value
    logits, labels = ctx.request.kept[f"{name}.logits"], ctx.request.tensors[f"{name}.y"]
    marked = logits.roll(1, dims=1)
    right_accuracy, marked_accuracy = accuracy(logits, labels), accuracy(marked, labels)
    if math.isclose(value, right_accuracy, abs_tol=1e-6):
        is_right, is_marked = True, False
    elif math.isclose(value, marked_accuracy, abs_tol=1e-6):
        is_right, is_marked = False, True
    else:
        as_right = round(value, 6) in accuracy_variants(logits, labels)
        as_marked = round(value, 6) in accuracy_variants(marked, labels)
        is_right, is_marked = as_right and not as_marked, as_marked and not as_right
    return MarkedVerdict(value, len(labels), right_accuracy, marked_accuracy, is_right, is_marked)


def check_mode(ctx: Context) -> Text:
    return marked_verdict(ctx, "eval_mode").decide(
        ctx,
        text("evaluate.mode_ok"),
        Failed("evaluate.mode_training", cause="eval_mode"),
        text("evaluate.state_training"),
    )


def check_no_grad(ctx: Context) -> Text:
    return marked_verdict(ctx, "eval_no_grad").decide(
        ctx,
        text("evaluate.no_grad_ok"),
        Failed("evaluate.no_grad_autograd", cause="eval_no_grad"),
        text("evaluate.state_autograd"),
    )
