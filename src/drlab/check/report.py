"""What a grading produces: one result per check, a report per notebook, a CSV row per notebook.

No torch here: the command line formats reports and writes score sheets without it.
"""

from __future__ import annotations

import os
import stat
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drlab.check.messages import format_number, say

Status = Literal["ok", "cell-errors", "timeout", "killed", "checks-failed", "unreadable"]
#: the characters a spreadsheet reads as the start of a formula (OWASP's list, with tab and CR)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a notebook larger than this is not read (a TP1 notebook without outputs is ~30 KB)
MAX_NOTEBOOK_BYTES = 64 << 20


@dataclass
class CheckResult:
    """One line of the report: ✓ or ✗, the title, and a message (the hint when it failed)."""

    id: str
    title: str
    passed: bool
    message: str = ""
    caused_by: str = ""
    """the id of the check above whose failure has the same root (empty: this failure is a root)"""


@dataclass
class NotebookReport:
    """The verdict on one notebook."""

    notebook: str
    status: Status
    max_score: int
    """the number of checks: fixed, whatever came back from the sandbox"""
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    """budget, dataset, test_accuracy, threshold, fashion_mnist_missing, missing (names not defined)"""
    problem: str = ""
    """why some checks could not run, when they could not"""
    sandbox: str = ""
    """how the notebook ran: "bwrap", or "not sandboxed (why)\""""
    lang: str = "en"
    """the language of the report: the notebook's ("en" or "fr"), or --lang"""

    @property
    def score(self) -> int:
        return sum(check.passed for check in self.checks)

    @property
    def passed(self) -> bool:
        return self.max_score > 0 and self.score == self.max_score

    @property
    def sandboxed(self) -> bool:
        return self.sandbox == "bwrap"


def printable(text: str) -> str:
    """``text`` with control characters (escape sequences, new lines) shown as ``?``: safe on a terminal."""
    return "".join(char if char.isprintable() else "?" for char in text)


def unreadable_report(path: str | os.PathLike[str], message: str, max_score: int) -> NotebookReport:
    """The report of a file that is not read (not a notebook, a link, too large…): 0 of ``max_score``."""
    return NotebookReport(notebook=str(path), status="unreadable", max_score=max_score, problem=message)


# --------------------------------------------------------------------------------------------------
# Reading submissions: regular files only, never through a link


def read_submission(path: Path) -> bytes:
    """The bytes of the notebook at ``path``: a regular file (not a link, not a FIFO), at most 64 MiB.

    Raises ``ValueError`` with a one-line reason otherwise.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ValueError("no such notebook") from None
    except OSError as exc:
        if path.is_symlink():
            raise ValueError("a symbolic link: not read (give the notebook itself)") from None
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file: not read")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{info.st_size / 2**20:.0f} MiB: too large for a notebook (at most 64 MiB)")
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > MAX_NOTEBOOK_BYTES:
                raise ValueError("too large for a notebook (at most 64 MiB)")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def find_notebooks(folder: Path) -> list[Path]:
    """The ``*.ipynb`` entries of a folder of submissions (not recursive, hidden ones skipped), sorted.

    Links and other non-regular entries are listed too: :func:`read_submission` refuses them, so they
    get a row that says why.
    """
    return sorted(
        Path(entry.path)
        for entry in os.scandir(folder)
        if entry.name.endswith(".ipynb") and not entry.name.startswith(".")
        and not entry.is_dir(follow_symlinks=False)
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Reports as text


def format_report(report: NotebookReport, *, width: int = 100) -> str:
    """The report a student reads, in the report's language: one ✓/✗ line per check, a hint under each
    ✗ (a ✗ whose root is reported above says so), the score."""
    lang = report.lang
    facts = report.facts
    context = ", ".join(
        part
        for part in (
            str(facts.get("dataset", "")),
            f"{say(lang, 'report.budget')} {facts['budget']}" if facts.get("budget") else "",
            f"{format_number(report.seconds, '.0f', lang)} s" if report.seconds else "",
            report.sandbox if report.sandboxed else "",
        )
        if part
    )
    lines = [
        f"{say(lang, 'report.title')} — {printable(report.notebook)}" + (f"  ({context})" if context else "")
    ]
    if report.sandbox and not report.sandboxed:
        lines.extend(_wrap(f"! {report.sandbox}: {say(lang, 'report.unsandboxed')}", width))
    if facts.get("fashion_mnist_missing"):
        lines.append(f"  {say(lang, 'report.digits')}")
    missing = facts.get("missing") or []
    if facts.get("todos"):  # the exercise, not finished yet: say what is left, not "is it TP1's?"
        todos = ", ".join(str(n) for n in facts["todos"])
        lines.extend(_wrap("! " + say(lang, "report.todos", todos=todos), width))
    elif len(missing) >= 3:
        lines.extend(_wrap("! " + say(lang, "report.missing", names=", ".join(missing)), width))
    for check in report.checks:
        mark = "✓" if check.passed else "✗"
        detail = f" — {check.message}" if check.passed and check.message else ""
        lines.append(f"  {mark} {check.title}{detail}")
        if not check.passed and check.message:
            lines.extend(
                textwrap.wrap(check.message, width=width, initial_indent="      ", subsequent_indent="      ")
            )
    if report.problem:
        lines.extend(_wrap(f"! {printable(report.problem)}", width))
    lines.append(
        say(lang, "report.score", score=report.score, max_score=report.max_score, verdict=verdict(report))
    )
    return "\n".join(lines)


def verdict(report: NotebookReport) -> str:
    """The score's word, in the report's language: "all checks pass", "2 to fix" or "not graded"."""
    if report.status == "unreadable":
        return say(report.lang, "report.not_graded")
    if report.passed:
        return say(report.lang, "report.all_pass")
    return say(report.lang, "report.to_fix", n=report.max_score - report.score)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="    ")


# --------------------------------------------------------------------------------------------------
# The score sheet


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` (a formula) gets a ``'`` before it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def score_rows(reports: Sequence[NotebookReport], check_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One row per notebook: score, status, test accuracy, how it ran, then 1/0 per check."""
    rows = []
    for report in reports:
        failed = [check for check in report.checks if not check.passed]
        row: dict[str, Any] = {
            "notebook": report.notebook,
            "status": report.status,
            "score": report.score,
            "max_score": report.max_score,
            "passed": int(report.passed),
            "test_accuracy": f"{report.facts['test_accuracy']:.4f}"
            if "test_accuracy" in report.facts
            else "",
            "dataset": report.facts.get("dataset", ""),
            "seconds": f"{report.seconds:.1f}",
            "sandbox": report.sandbox,
        }
        passed_by_id = {check.id: check.passed for check in report.checks}
        for check_id in check_ids:
            row[check_id] = int(passed_by_id.get(check_id, False))
        row["first_problem"] = report.problem[:300] or (
            f"{failed[0].id}: {failed[0].message}"[:300] if failed else ""
        )  # the first ✗ is a root: later ones may be its consequences
        rows.append({key: spreadsheet_safe(value) for key, value in row.items()})
    return rows


CSV_BASE = (
    "notebook",
    "status",
    "score",
    "max_score",
    "passed",
    "test_accuracy",
    "dataset",
    "seconds",
    "sandbox",
)


def write_scores_csv(
    reports: Sequence[NotebookReport], path: str | os.PathLike[str], check_ids: Sequence[str]
) -> None:
    """The score sheet, written atomically (a reader sees the previous sheet or this one, never half)."""
    from drlab.common.io import write_csv_atomic

    write_csv_atomic(
        path, score_rows(reports, check_ids), fieldnames=[*CSV_BASE, *check_ids, "first_problem"]
    )


def check_csv_target(path: Path) -> str | None:
    """Why the score sheet cannot be written at ``path`` (checked before any grading), or ``None``."""
    if path.is_symlink():
        return "is a symbolic link; give a plain file name such as scores.csv"
    if path.is_dir():
        return "is a folder; give a file name such as scores.csv"
    if path.exists() and not path.is_file():
        return "is not a regular file"
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return f"its folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"its folder {parent} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "is not writable"
    if path.exists() and path.stat().st_size > 0:
        # replace only a score sheet drlab wrote: its header starts with drlab's columns
        with path.open("rb") as handle:
            first = handle.readline(4096).decode("utf-8", "replace").strip()
        if not first.startswith(",".join(CSV_BASE)):
            return "exists and is not a drlab score sheet; choose another name (drlab never overwrites it)"
    return None


__all__ = [
    "CSV_BASE",
    "CheckResult",
    "NotebookReport",
    "Status",
    "check_csv_target",
    "find_notebooks",
    "format_report",
    "printable",
    "read_submission",
    "score_rows",
    "spreadsheet_safe",
    "unreadable_report",
    "verdict",
    "write_scores_csv",
]
