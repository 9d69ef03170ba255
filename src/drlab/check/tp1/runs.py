"""The notebook as a whole: it runs top to bottom, within its time, without errors."""

from __future__ import annotations

import math
from typing import Any

from drlab.check.messages import Text, text
from drlab.check.tp1.evidence import Context, Failed, quoted


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


def check_runs(ctx: Context) -> Text | None:
    harvest = ctx.harvest
    if "cells" not in harvest.frames:
        if harvest.killed:
            raise Failed("runs.killed", cause="runs", timeout=ctx.notebook_timeout)
        raise Failed("runs.ended", cause="runs", exit_code=harvest.exit_code)
    data, _ = harvest.frames["cells"]
    timed_out = data.get("timed_out_at")
    if isinstance(timed_out, int) and not isinstance(timed_out, bool):
        raise Failed(
            "runs.timed_out", cause="runs", timeout=ctx.notebook_timeout, where=cell_name(ctx, timed_out)
        )
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
        raise Failed(
            "runs.raised",
            cause="runs",
            where=cell_name(ctx, first.get("index")),
            line=text("runs.line", line=line) if isinstance(line, int) and not isinstance(line, bool) else "",
            error=text("exception", type=name, message=value, where="") if value else name,
            more=text("runs.more_one" if more == 1 else "runs.more_many", more=more) if more else "",
        )
    seconds = data.get("seconds")
    if isinstance(seconds, (int, float)) and math.isfinite(seconds):
        return text("runs.ok", seconds=seconds)
    return None
