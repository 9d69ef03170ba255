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
    out: str | None = None
    """write the grading into this folder: scores.csv, the class report (report.html and its PNGs) and each
    student's feedback page (feedback/, or feedback.zip with --moodle); a new or empty folder, or a grading
    drlab wrote (with --force)"""
    moodle: str | None = None
    """Moodle's grading worksheet (CSV, from "Download grading worksheet"): its filled copy, under the same
    name, and feedback.zip for "Upload multiple feedback files in a zip" go into --out; it is never modified"""
    moodle_columns: str | None = None
    """the worksheet's columns by name, for a Moodle site neither in English nor in French:
    'IDENTIFIER,GRADE,MAXIMUM GRADE[,FEEDBACK COMMENTS]'"""
    skeleton: tuple[str, ...] = ()
    """the exercise notebooks handed out: their lines are nobody's own code when submissions are compared
    (default: drlab's TP1 exercise, in English and French, when its notebooks are found)"""
    force: bool = False
    """replace the grading already in --out (only the files drlab wrote there are deleted)"""


@dataclass
class ClassReportConfig:
    """``drlab check report``: the class report of a grading already done, from its score sheet."""

    out: str | None = None
    """the folder to write report.html and its PNGs into (required)"""
    lang: Literal["en", "fr"] = "en"
    """the language of the report"""
    force: bool = False
    """replace a report drlab wrote in --out before"""
