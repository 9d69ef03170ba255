"""Grading a notebook: run it in a fresh Jupyter kernel with a time limit, then the checks in that kernel.

The student's cells run one after the other, as "Run All" would, except that a failing cell does not
stop the run: later cells still get their chance, and the report names the first failure. The whole
notebook has one time limit; past it the kernel is interrupted and the remaining cells are skipped.
Then one more cell, added by the grader, imports :mod:`drlab.check.tp1` and runs the checks against
the kernel's namespace. It prints one line, ``MARKER nonce {json}``; the grader reads that line and
nothing else. The nonce is drawn after the student's cells have run, so no earlier cell can print a
fake verdict. Nothing of the student's is unpickled or imported into the grader's process.

The kernel is ipykernel run by *this* Python (``sys.executable -m ipykernel_launcher``), whatever
kernelspecs are installed (:func:`native_kernel_manager`): a kernel started by ``.venv/bin/drlab`` sees
the venv and its drlab, even when the user has a ``python3`` kernelspec of another Python. Nothing has to
be installed besides the ``notebooks`` extra (ipykernel, nbclient, nbformat).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlab.common.errors import DrlabError, UsageError

MARKER = "DRLAB-CHECK-RESULT"  # the same as drlab.check.tp1.MARKER (that module imports torch)
#: the check cell's own time limit (each check inside it is also limited to ``check_seconds``)
CHECK_CELL_SECONDS = 600
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")


@dataclass
class CheckLine:
    """One check as the grader reports it."""

    id: str
    title: str
    passed: bool
    message: str = ""


@dataclass
class NotebookReport:
    """The verdict on one notebook."""

    notebook: str
    status: str
    """ok | cell-errors | timeout | kernel-died | checks-failed | unreadable"""
    checks: list[CheckLine] = field(default_factory=list)
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    """budget, dataset, test_accuracy, threshold, fashion_mnist_missing (from the check cell)"""
    problem: str = ""
    """why the checks could not run, when they could not"""

    @property
    def score(self) -> int:
        return sum(check.passed for check in self.checks)

    @property
    def max_score(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)


def _first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _cell_label(nb: Any, index: int) -> str:
    first = _first_line(nb.cells[index].source, 60)
    return f"cell {index + 1}" + (f" (`{first}`)" if first else "")


def _describe_cell_error(nb: Any, index: int, error: Mapping[str, Any]) -> str:
    traceback_text = _ANSI.sub("", "\n".join(error.get("traceback", [])))
    lines = _CELL_LINE.findall(traceback_text)
    where = f", line {lines[0]}" if lines else ""
    value = _first_line(error.get("evalue", ""))
    return f"{_cell_label(nb, index)}{where} raised {error.get('ename', 'an error')}" + (
        f": {value}" if value else ""
    )


def read_notebook(path: Path) -> Any:
    """Read a notebook (any nbformat version, upgraded to 4); a broken file is a one-line UsageError."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such notebook") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, KeyError… on bad files
        raise UsageError(
            f"{path}: not a Jupyter notebook ({type(exc).__name__}: {_first_line(str(exc))})"
        ) from None
    if not isinstance(getattr(nb, "cells", None), list):
        raise UsageError(f"{path}: not a Jupyter notebook (no cells)")
    return nb


def kernel_environment(budget: str) -> dict[str, str]:
    """The kernel's environment: ours, with the budget set and matplotlib left to the kernel (inline)."""
    env = dict(os.environ)
    env["DRLAB_NOTEBOOK_BUDGET"] = budget
    env.pop("MPLBACKEND", None)  # ipykernel picks its inline backend only when none is forced
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _check_cell_source(nonce: str, seed: int, budget: str, check_seconds: float) -> str:
    return (
        "# Added by `drlab check tp1`: the checks run here, in the notebook's kernel.\n"
        "import drlab.check.tp1 as _drlab_tp1\n"
        f"_drlab_tp1.report_to_grader(globals(), nonce={nonce!r}, seed={seed}, budget={budget!r}, "
        f"seconds={check_seconds})\n"
    )


def _parse_payload(cell: Any, nonce: str) -> dict[str, Any] | None:
    """The check cell's JSON line, validated; ``None`` when absent or malformed."""
    prefix = f"{MARKER} {nonce} "
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
    lines = [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]
    if not lines:
        return None
    try:
        payload = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("checks"), list):
        return None
    return payload


def _check_lines(payload: Mapping[str, Any]) -> list[CheckLine]:
    lines = []
    for item in payload["checks"]:
        if not isinstance(item, dict):
            continue
        lines.append(
            CheckLine(
                id=str(item.get("id", "?"))[:60],
                title=str(item.get("title", ""))[:200],
                passed=item.get("passed") is True,
                message=str(item.get("message", ""))[:2000],
            )
        )
    return lines


def _facts(payload: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key in ("budget", "dataset", "fashion_mnist_missing"):
        if isinstance(payload.get(key), str):
            facts[key] = payload[key][:300]
    missing = payload.get("missing")
    if isinstance(missing, list) and all(isinstance(name, str) for name in missing):
        facts["missing"] = [name[:40] for name in missing[:10]]
    for key in ("test_accuracy", "threshold"):
        if isinstance(payload.get(key), (int, float)) and not isinstance(payload.get(key), bool):
            facts[key] = float(payload[key])
    return facts


def grade_notebook(
    path: str | os.PathLike[str],
    *,
    timeout: float = 1200.0,
    seed: int = 0,
    budget: str = "full",
    check_seconds: float = 60.0,
) -> NotebookReport:
    """Run the notebook at ``path`` in a fresh kernel (``timeout`` seconds in all), then the TP1 checks.

    Raises :class:`UsageError` for a file that is not a notebook and :class:`DrlabError` when no
    kernel can be started; everything the student's code does wrong ends up in the report.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notebook = Path(path)
    nb = read_notebook(notebook)
    started = time.monotonic()
    deadline = started + timeout
    client = NotebookClient(
        nb,
        km=native_kernel_manager(),
        allow_errors=True,  # keep going after a failing cell; we read the errors from the outputs
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "Timeout", "evalue": "the time limit was reached"},
        shutdown_kernel="immediate",
        record_timing=False,
        resources={"metadata": {"path": str(notebook.resolve().parent)}},
    )
    client.owns_km = True  # made for this run: setup_kernel() shuts the kernel down when it ends
    cell_errors: list[str] = []
    timed_out: str | None = None
    status = "ok"
    checks: list[CheckLine] = []
    facts: dict[str, Any] = {"budget": budget}
    problem = ""
    replies: dict[int, dict[str, Any]] = {}  # cell index → content of its error reply

    def on_cell_error(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        replies[cell_index] = dict(execute_reply.get("content", {}))

    client.on_cell_error = on_cell_error
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                client.setup_kernel(
                    env=kernel_environment(budget), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        except Exception as exc:
            raise DrlabError(
                f"could not start a Jupyter kernel ({type(exc).__name__}: {_first_line(str(exc))}); install the "
                "notebook extra (pip install -e '.[notebooks]') or run: python -m ipykernel install --sys-prefix"
            ) from None
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = _cell_label(nb, index)
                    break
                client.timeout = max(1, int(remaining))
                client.execute_cell(cell, index)
                error = replies.get(index)
                if error is None:
                    continue
                if error.get("ename") == "Timeout":
                    timed_out = _cell_label(nb, index)
                    break
                cell_errors.append(_describe_cell_error(nb, index, error))
            nonce = secrets.token_hex(8)  # drawn now: no cell of the student's could have printed it
            check_cell = nbformat.v4.new_code_cell(_check_cell_source(nonce, seed, budget, check_seconds))
            nb.cells.append(check_cell)
            client.timeout = CHECK_CELL_SECONDS
            client.execute_cell(check_cell, len(nb.cells) - 1)
            payload = _parse_payload(check_cell, nonce)
            error = replies.get(len(nb.cells) - 1)
            if payload is None:
                status = "checks-failed"
                if error is not None and error.get("ename") == "Timeout":
                    problem = f"the checks did not finish within {CHECK_CELL_SECONDS} s"
                elif error is not None:
                    problem = "the checks could not run in the notebook's kernel: " + _first_line(
                        f"{error.get('ename')}: {error.get('evalue', '')}"
                    )
                else:
                    problem = "the checks printed no result (did the notebook replace sys.stdout or print?)"
            else:
                checks = _check_lines(payload)
                facts.update(_facts(payload))
                if payload.get("error"):
                    status = "checks-failed"
                    problem = f"the checks failed: {str(payload['error'])[:300]}"
        except DeadKernelError:
            status = "kernel-died"
            problem = "the kernel died while running the notebook (out of memory? a crash in native code? os._exit?)"
    seconds = time.monotonic() - started
    runs = _runs_line(cell_errors, timed_out, timeout, seconds)
    if timed_out:
        status = "timeout" if status == "ok" else status
    elif cell_errors and status == "ok":
        status = "cell-errors"
    return NotebookReport(
        notebook=str(path),
        status=status,
        checks=[runs, *checks],
        seconds=seconds,
        facts=facts,
        problem=problem,
    )


def native_kernel_manager() -> Any:
    """A manager for a ``python3`` kernel run by *this* interpreter, whatever kernelspecs are installed.

    A user-level kernelspec named ``python3`` (``python -m ipykernel install --user`` writes one) can point
    to another Python, where drlab may be missing. With no kernel directories to search, jupyter_client
    falls back on ipykernel's own spec: ``sys.executable -m ipykernel_launcher``.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    specs = KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def _runs_line(
    cell_errors: Sequence[str], timed_out: str | None, timeout: float, seconds: float
) -> CheckLine:
    title = "the notebook runs top to bottom without errors"
    if timed_out:
        return CheckLine(
            "runs",
            title,
            False,
            f"the notebook did not finish within {timeout:g} s: {timed_out} was still running when the time "
            "limit came (an endless loop? too many epochs for this budget?); the checks below ran on what "
            "was defined by then",
        )
    if cell_errors:
        more = len(cell_errors) - 1
        tail = f" ({more} later cell{'s' if more > 1 else ''} failed too)" if more else ""
        return CheckLine("runs", title, False, f"{cell_errors[0]}{tail}")
    return CheckLine("runs", title, True, f"{seconds:.0f} s")


def unreadable_report(path: str | os.PathLike[str], message: str) -> NotebookReport:
    """The report of a file that is not a notebook (in a folder of submissions)."""
    return NotebookReport(notebook=str(path), status="unreadable", problem=message)


# --------------------------------------------------------------------------------------------------
# Reports as text and as a CSV of scores


def format_report(report: NotebookReport, *, width: int = 100) -> str:
    """The report a student reads: one ✓/✗ line per check, a hint under each ✗, the score."""
    import textwrap

    facts = report.facts
    context = ", ".join(
        part
        for part in (
            str(facts.get("dataset", "")),
            f"budget {facts['budget']}" if facts.get("budget") else "",
            f"{report.seconds:.0f} s" if report.seconds else "",
        )
        if part
    )
    lines = [f"TP1 check — {report.notebook}" + (f"  ({context})" if context else "")]
    if facts.get("fashion_mnist_missing"):
        lines.append("  note: Fashion-MNIST is not available here: graded on the digits (enlarged to 28×28)")
    missing = facts.get("missing") or []
    if len(missing) >= 3:
        warning = (
            f"! this notebook does not define {', '.join(missing)}: is it the TP1 notebook, completed and run "
            "in order? (the names are listed at the top of 03_tp1_fashion_mnist.ipynb)"
        )
        lines.extend(textwrap.wrap(warning, width=width, initial_indent="  ", subsequent_indent="    "))
    for check in report.checks:
        mark = "✓" if check.passed else "✗"
        detail = f" — {check.message}" if check.passed and check.message else ""
        lines.append(f"  {mark} {check.title}{detail}")
        if not check.passed and check.message:
            lines.extend(
                textwrap.wrap(check.message, width=width, initial_indent="      ", subsequent_indent="      ")
            )
    if report.problem:
        lines.extend(
            textwrap.wrap(f"! {report.problem}", width=width, initial_indent="  ", subsequent_indent="    ")
        )
    if report.max_score:
        verdict = "all checks pass" if report.passed else f"{report.max_score - report.score} to fix"
        lines.append(f"score: {report.score}/{report.max_score} — {verdict}")
    else:
        lines.append("score: 0 — not graded")
    return "\n".join(lines)


def write_scores_csv(reports: Sequence[NotebookReport], path: str | os.PathLike[str]) -> None:
    """One row per notebook: score, status, test accuracy, then 1/0 per check (written atomically)."""
    from drlab.common.io import write_csv_atomic

    check_ids: list[str] = []
    for report in reports:
        for check in report.checks:
            if check.id not in check_ids:
                check_ids.append(check.id)
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
        }
        passed_by_id = {check.id: check.passed for check in report.checks}
        for check_id in check_ids:
            row[check_id] = int(passed_by_id[check_id]) if check_id in passed_by_id else ""
        row["first_problem"] = report.problem or (
            f"{failed[0].id}: {failed[0].message}"[:300] if failed else ""
        )
        rows.append(row)
    base = ["notebook", "status", "score", "max_score", "passed", "test_accuracy", "dataset", "seconds"]
    write_csv_atomic(path, rows, fieldnames=[*base, *check_ids, "first_problem"])


def find_notebooks(folder: Path) -> list[Path]:
    """The ``*.ipynb`` files of a folder of submissions (not recursive; checkpoints skipped), sorted."""
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
