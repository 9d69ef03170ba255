"""What a grading produces: one result per check, a report per notebook, a CSV row per notebook.

No torch here: the command line formats reports and writes score sheets without it.
"""

from __future__ import annotations

import os
import stat
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drlab.check.messages import format_number, say

Status = Literal["ok", "cell-errors", "timeout", "killed", "checks-failed", "unreadable"]
#: the characters a spreadsheet reads as the start of a formula (OWASP's list, with tab and CR), and the
#: quote that marks a cell as text (so that "'=x" and "=x" stay two different cells once guarded)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
BACKSLASH = "\\"
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
    limits: str = ""
    """how its budget was held: by a control group for all its processes, or per process (and why)"""
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


#: the Unicode categories never shown as they are: controls (escape sequences, new lines, carriage
#: returns), invisible formatting (bidirectional overrides, zero-width characters), the surrogates that
#: stand for a file name's bytes that are not UTF-8, private and unassigned code points, line and
#: paragraph separators. Letters, accents, symbols and every space (French typography's no-break
#: spaces) are kept.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def printable(text: str, *, injective: bool = False) -> str:
    """``text`` safe to show on a terminal or in a spreadsheet, whoever wrote it: every character of
    :data:`HIDDEN_CATEGORIES` is written as a visible escape (``\\x1b``, ``\\r``, ``\\u202e``; a file
    name's byte that is not UTF-8 as ``\\xff``), so that no escape sequence reaches the terminal and no
    carriage return splits a CSV row. Escaped text comes out unchanged.

    ``injective``: a backslash is doubled too, so that two different texts never look the same (a name
    holding a carriage return, another holding the two characters backslash and r): a notebook's row in
    the score sheet is found by its name escaped so."""
    return "".join(_shown(char, injective) for char in text)


def _shown(char: str, injective: bool) -> str:
    if unicodedata.category(char) in HIDDEN_CATEGORIES:
        return _escaped(char)
    return BACKSLASH * 2 if injective and char == BACKSLASH else char


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    )


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
        if stat.S_ISDIR(info.st_mode):
            raise ValueError("a folder, not a notebook: not read (hand in the .ipynb file itself)")
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
    """Every entry of a folder of submissions whose name ends in ``.ipynb`` (in any case; not
    recursive), sorted: hidden files, folders, links and other non-regular entries too, so that each
    gets a row — graded, or saying why it is not (:func:`read_submission`)."""
    return sorted(Path(entry.path) for entry in os.scandir(folder) if entry.name.lower().endswith(".ipynb"))


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
        lines.extend(_wrap(f"! {printable(report.sandbox)}: {say(lang, 'report.unsandboxed')}", width))
    if report.limits.startswith("no cgroup"):
        lines.extend(_wrap(f"! {printable(report.limits)}: {say(lang, 'report.per_process')}", width))
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
        message = printable(check.message)  # it may quote the notebook: a cell's first line, an error
        detail = f" — {message}" if check.passed and message else ""
        lines.append(f"  {mark} {printable(check.title)}{detail}")
        if not check.passed and message:
            lines.extend(
                textwrap.wrap(message, width=width, initial_indent="      ", subsequent_indent="      ")
            )
    if report.problem:
        lines.extend(_wrap(f"! {printable(report.problem)}", width))
    lines.append(
        say(lang, "report.score", score=report.score, max_score=report.max_score, verdict=verdict(report))
    )
    return "\n".join(printable(line) for line in lines)  # whatever else a notebook put in: shown, not obeyed


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
    """A CSV cell a spreadsheet shows as text, on one line: control characters escaped (:func:`printable`:
    no carriage return or new line can start a row of its own), then a leading ``= + - @`` (a formula)
    gets a ``'`` before it."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def score_rows(reports: Sequence[NotebookReport], check_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One row per notebook: score, status, test accuracy, how it ran, then 1/0 per check."""
    rows = []
    for report in reports:
        failed = [check for check in report.checks if not check.passed]
        row: dict[str, Any] = {
            "notebook": printable(report.notebook, injective=True),  # the row's key: one per notebook
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
            "limits": report.limits,
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
    "limits",
)


def score_columns(check_ids: Sequence[str]) -> list[str]:
    """drlab's columns of the score sheet, in order."""
    return [*CSV_BASE, *check_ids, "first_problem"]


def write_scores_csv(
    reports: Sequence[NotebookReport], path: str | os.PathLike[str], check_ids: Sequence[str]
) -> None:
    """Write the rows of ``reports`` into the score sheet at ``path``: drlab's columns of those notebooks'
    rows only, every other column and row kept (:mod:`drlab.check.scoresheet`), atomically."""
    from drlab.check.scoresheet import update_sheet

    update_sheet(Path(path), score_rows(reports, check_ids), score_columns(check_ids))


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
    from drlab.check.scoresheet import SheetError, read_sheet

    try:
        read_sheet(path)  # a score sheet (drlab updates its columns in place), or refused untouched
    except SheetError as exc:
        return str(exc)
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
    "score_columns",
    "score_rows",
    "spreadsheet_safe",
    "unreadable_report",
    "verdict",
    "write_scores_csv",
]
