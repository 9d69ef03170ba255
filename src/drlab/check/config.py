"""Options of ``drlab check tp1`` (no torch here: the command line must start at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class CheckConfig:
    """How a TP1 notebook, or a class of them, is graded."""

    timeout: float = 1200.0
    """seconds the whole notebook may compute (its training included), counted in the CPU time of its
    sandbox divided by its CPUs, so that a busy machine or a classmate does not eat it; a notebook that
    waits instead is stopped at 3 times as long on the clock. Past it the rest is skipped, and a notebook
    that will not stop is killed with everything it started"""
    seed: int = 0
    """seed of the checker's probe networks, their data and the test set's shuffle (the notebook keeps its own SEED)"""
    budget: Literal["full", "tiny"] = "full"
    """the notebook's budget (DRLAB_NOTEBOOK_BUDGET): full trains for real; tiny is a quick run with a lower bar"""
    check_seconds: float = 60.0
    """time limit of each check's call into the notebook's functions"""
    csv: str | None = None
    """the score sheet: one row per notebook, written atomically as each one is graded; an existing sheet
    (your gradebook) keeps every column and row of yours: drlab updates only its own columns"""
    jobs: int = 1
    """notebooks graded at the same time, each in its own sandbox"""
    memory_gb: float = 4.0
    """memory (GiB) each notebook may use, all its processes and in-memory files together (and the address
    space of each process)"""
    lang: Literal["auto", "en", "fr"] = "auto"
    """language of the reports: auto is the notebook's own (its metadata drlab.lang: en or fr), else English"""
