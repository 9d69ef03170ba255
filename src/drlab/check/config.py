"""Options of ``drlab check tp1`` (no torch here: the command line must start at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class CheckConfig:
    """How a TP1 notebook is graded."""

    timeout: float = 1200.0
    """seconds the whole notebook may run (its training included); past it the kernel is interrupted"""
    seed: int = 0
    """seed of the checker's probe networks and data (the notebook keeps its own SEED)"""
    budget: Literal["full", "tiny"] = "full"
    """the notebook's budget (DRLAB_NOTEBOOK_BUDGET): full trains for real; tiny is a quick run with a lower bar"""
    check_seconds: float = 60.0
    """time limit of each check (each calls the student's functions once or a few times)"""
    csv: str | None = None
    """write one row of scores per notebook to this CSV file (atomically)"""
