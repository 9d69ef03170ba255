"""The notebook as a whole: it runs top to bottom, within its time, without errors.

A cell that raised is named as the student counts it ("code cell 10", the code cells from the top), and
when the grader can tell, its ✗ names the mistake elsewhere that made it raise:

- the notebook loads the data its own way (an earlier template, a tutorial) instead of the data cell's
  ``load_tp1_dataset``, the one loader that finds the images in the grader's sandbox;
- one of the student's functions raises the same error on the grader's own inputs (``loss_fn =
  nn.MSELoss()`` breaks the training cell, and breaks on the grader's logits the same way): the ✗ names
  that function, where the notebook asks for it, with its check's hint;
- a later cell meets a tensor that still requires grad where it expects numbers: ``train_one_epoch``
  returns the loss tensor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from drlab.check.messages import Text, text
from drlab.check.sandbox import WALL_FACTOR
from drlab.check.tp1 import evaluate, loss, net, train
from drlab.check.tp1.contract import WHERE
from drlab.check.tp1.evidence import Context, Failed, quoted

#: the loader of the exercise's data cell: in the grader's sandbox, the only one that finds the images
DATA_CELL_LOADER = "load_tp1_dataset"
#: loaders that earlier templates and tutorials call instead, which find no data in the sandbox
OTHER_LOADERS = (
    "load_fashion_mnist", "load_digits", "FashionMNIST", "fetch_openml", "load_data", "read_idx",
    "load_dataset",
)  # fmt: skip
#: the student's functions a cell's crash can come from: where the sandbox recorded the errors they
#: raised on the grader's inputs, and the check whose hint names the mistake
CULPRITS: tuple[tuple[str, tuple[tuple[str, str], ...], Callable[[Context], Any]], ...] = (
    ("Net", (("net", "error"),), net.check_output),
    ("loss_fn", (("loss", "raised"),), loss.check_loss_fn),
    (
        "train_one_epoch",
        (("train_lowers", "error"), ("train_zero_grad", "error"), ("train_mode", "error")),
        train.check_lowers_loss,
    ),
    (
        "evaluate",
        (("evaluate", "error"), ("evaluate", "error_big"), ("eval_mode", "error"), ("eval_no_grad", "error")),
        evaluate.check_accuracy,
    ),
)


#: crashes of a later cell that a function's mistake explains: words of the error, the function, the check
#: whose ✗ names the mistake, and that ✗'s message
SYMPTOMS: tuple[tuple[str, str, Callable[[Context], Any], str], ...] = (
    # numbers expected, a tensor of the graph found (the plot of the losses): the loss tensor returned
    ("requires grad", "train_one_epoch", train.check_returns_loss, "train.returns_tensor"),
    # the optimizer of the training cell given no parameters: layers the module does not hold
    ("empty parameter list", "Net", net.check_size, "net.too_few"),
)


def cell_name(ctx: Context, index: Any) -> Text:
    """``code cell 5 (`first line`)``: numbered among the code cells, as the student sees them."""
    label = ctx.harvest.cell_labels.get(index) if isinstance(index, int) else None
    if label is None:
        return text("runs.a_cell")
    number, first = label
    return (
        text("runs.cell_first_line", number=number, first=first)
        if first
        else text("runs.cell", number=number)
    )


def own_data_loaders(ctx: Context) -> list[str]:
    """The data loaders the notebook calls instead of the data cell's (none when it calls that one)."""
    sources = list(ctx.harvest.cell_sources.values())
    if any(f"{DATA_CELL_LOADER}(" in source for source in sources):
        return []
    return sorted(
        {name for name in OTHER_LOADERS for source in sources if re.search(rf"\b{name}\s*\(", source)}
    )


def _signature(kind: Any, message: Any) -> tuple[str, str]:
    """An error as the grader compares two of them: its type, and its message's first line without its
    numbers (a batch of 128 in the notebook is a batch of 7 on the grader's inputs)."""
    first = quoted(message).splitlines()[0] if quoted(message) else ""
    return quoted(kind, 80), re.sub(r"\d+", "#", first.rstrip("…"))[:150]


def _raised_the_same(ctx: Context, signature: tuple[str, str], frames: tuple[tuple[str, str], ...]) -> bool:
    for frame, key in frames:
        event = ctx.harvest.frames.get(frame, ({}, {}))[0].get(key)
        if isinstance(event, dict) and event.get("kind") == "exception":
            theirs = _signature(event.get("type"), event.get("message"))
            if theirs[0] == signature[0] and theirs[1] and signature[1].startswith(theirs[1][:60]):
                return True
    return False


def _hint_of(ctx: Context, check: Callable[[Context], Any]) -> Failed | None:
    try:
        check(ctx)
    except Failed as failure:
        return failure
    return None


def crash_cause(ctx: Context, error: dict[str, Any]) -> tuple[Text, Failed] | None:
    """The mistake elsewhere that made a cell raise ``error``, when the grader can tell: where it is, and
    the failure that names it (its hint, its root)."""
    loaders = own_data_loaders(ctx)
    if loaders:
        return text("where.data"), Failed("runs.own_data", cause="own_data", loaders=", ".join(loaders))
    signature = _signature(error.get("ename"), error.get("evalue"))
    for name, frames, check in CULPRITS:
        if _raised_the_same(ctx, signature, frames):
            failure = _hint_of(ctx, check)
            if failure is not None:
                return text(WHERE[name]), failure
    for symptom, name, check, key in SYMPTOMS:
        if symptom in signature[1]:
            failure = _hint_of(ctx, check)
            if failure is not None and failure.message.key == key:
                return text(WHERE[name]), failure
    return None


def todos_left(ctx: Context) -> list[int]:
    """The TODOs whose cells still raise the exercise's NotImplementedError("TODO n: …")."""
    events: list[Any] = []
    if "cells" in ctx.harvest.frames and isinstance(ctx.harvest.frames["cells"][0].get("errors"), list):
        events += [
            (e.get("ename"), e.get("evalue"))
            for e in ctx.harvest.frames["cells"][0]["errors"]
            if isinstance(e, dict)
        ]
    for data, _ in ctx.harvest.frames.values():
        for key in ("error", "raised", "error_big"):
            event = data.get(key)
            if isinstance(event, dict) and event.get("kind") == "exception":
                events.append((event.get("type"), event.get("message")))
    found = {
        int(match[1])
        for kind, message in events
        if kind == "NotImplementedError" and (match := re.match(r"TODO (\d)\b", quoted(message)))
    }
    return sorted(found)


def check_runs(ctx: Context) -> Text | None:
    harvest = ctx.harvest
    if "cells" not in harvest.frames:
        if harvest.killed:
            raise Failed("runs.killed", cause="runs", timeout=ctx.notebook_timeout, factor=WALL_FACTOR)
        raise Failed("runs.ended", cause="runs", exit_code=harvest.exit_code)
    data, _ = harvest.frames["cells"]
    timed_out = data.get("timed_out_at")
    if isinstance(timed_out, int) and not isinstance(timed_out, bool):
        # the limit counts the time it computes; a notebook that waits meets the wall clock's, longer
        how = {"idle": "runs.limit_idle", "clock": "runs.limit_clock"}.get(str(data.get("timed_out_by")))
        limit = text(how or "runs.limit_cpu", timeout=ctx.notebook_timeout, factor=WALL_FACTOR)
        raise Failed("runs.timed_out", cause="runs", limit=limit, where=cell_name(ctx, timed_out))
    errors = (
        [e for e in data.get("errors", []) if isinstance(e, dict)]
        if isinstance(data.get("errors"), list)
        else []
    )
    if errors:
        first = errors[0]
        line = first.get("line")
        name, message = quoted(first.get("ename")), quoted(first.get("evalue"))
        value = message.splitlines()[0] if message else ""
        more = len(errors) - 1
        shown = {
            "where": cell_name(ctx, first.get("index")),
            "line": text("runs.line", line=line)
            if isinstance(line, int) and not isinstance(line, bool)
            else "",
            "error": text("exception", type=name, message=value, where="") if value else name,
            "more": text("runs.more_one" if more == 1 else "runs.more_many", more=more) if more else "",
        }
        cause = crash_cause(ctx, first)
        if cause is None:
            raise Failed("runs.raised", cause="runs", **shown)
        culprit, failure = cause
        raise Failed(
            "runs.raised_because", cause=failure.cause, culprit=culprit, hint=failure.message, **shown
        )
    seconds = data.get("seconds")
    if isinstance(seconds, (int, float)) and math.isfinite(seconds):
        return text("runs.ok", seconds=seconds)
    return None
