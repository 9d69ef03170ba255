"""Grading: one notebook (read it, run it in its sandbox, decide), or a class of them, in parallel.

A class is graded whole: a notebook that crashes, hangs, floods its output or attacks the grader
costs its own row and nothing else. Each report is handed to ``on_report`` as soon as it is decided
(the command line prints it and rewrites the score sheet atomically), so an interrupted grading keeps
every row already graded.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drlab.check import scratch
from drlab.check.report import NotebookReport, read_submission, unreadable_report
from drlab.common.errors import DrlabError

if TYPE_CHECKING:
    from drlab.check.config import CheckConfig
    from drlab.check.tp1 import Lang

#: the file of a request folder that holds the request's tensors (probes, their data, the images)
REQUEST_TENSORS = "request.safetensors"
#: the checks' share of the wall-clock limit, after the cells: this many times --check-seconds…
CHECKS_SHARE = 6
#: …and never more than this (seconds)
CHECKS_SHARE_MAX = 300.0


@dataclass(frozen=True)
class GradingSettings:
    """How every notebook of a grading runs (from the command line's CheckConfig)."""

    timeout: float
    seed: int
    budget: str
    check_seconds: float
    memory_gb: float
    threads: int = 1
    lang: str = "auto"
    """"auto" (the notebook's language), "en" or "fr\""""


def grading_settings(config: CheckConfig) -> GradingSettings:
    """The settings of a grading from the command line's options (the CPU's threads shared by the jobs)."""
    return GradingSettings(
        timeout=config.timeout, seed=config.seed, budget=config.budget, check_seconds=config.check_seconds,
        memory_gb=config.memory_gb, threads=max(1, (os.cpu_count() or 1) // config.jobs), lang=config.lang,
    )  # fmt: skip


def checks_share(settings: GradingSettings) -> float:
    """Seconds the grader's steps get in the sandbox once the cells have run."""
    return min(CHECKS_SHARE * settings.check_seconds, CHECKS_SHARE_MAX) + 30.0


@lru_cache(maxsize=4)
def _request(seed: int, budget: str) -> Any:
    from drlab.check.tp1 import build_request

    return build_request(seed, budget)


@lru_cache(maxsize=4)
def _shared_files(seed: int, budget: str) -> Path:
    """The files every notebook of this grading gets — the dataset it may see (without the private
    images) and the request's tensors — written once per grading into a private folder of their own
    (:mod:`drlab.check.scratch`), removed when the grader exits (or by the next grading, after a kill)."""
    import atexit

    from safetensors.torch import save

    from drlab.check.sandbox import NOTEBOOK_DATA
    from drlab.data.tp1 import tp1_snapshot_bytes

    request = _request(seed, budget)
    folder = scratch.make_folder("drlab-data-")
    atexit.register(scratch.remove_folder, folder)
    scratch.write_private(
        folder / NOTEBOOK_DATA, tp1_snapshot_bytes(request.notebook_data, request.fashion_mnist_missing)
    )
    scratch.write_private(folder / REQUEST_TENSORS, save(request.tensors))
    return folder


def _place(source: Path, target: Path) -> None:
    """``target`` holds ``source``'s bytes: a hard link when the file system allows, else a private copy."""
    try:
        os.link(source, target)
    except OSError as exc:
        full = scratch.no_room(exc)
        if full is not None:
            raise full from None
        scratch.write_private(target, source.read_bytes())


def max_score() -> int:
    from drlab.check.tp1 import CHECK_IDS

    return len(CHECK_IDS)


def parse_notebook(raw: bytes) -> Any:
    """The notebook in ``raw`` (any nbformat version, upgraded to 4); ``ValueError`` with a reason otherwise."""
    import nbformat

    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise ValueError("not a Jupyter notebook (not UTF-8 text)") from None
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, KeyError… on bad files
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise ValueError(f"not a Jupyter notebook ({type(exc).__name__}: {first[:150]})") from None
    if not isinstance(getattr(nb, "cells", None), list):
        raise ValueError("not a Jupyter notebook (no cells)")
    return nb


def cell_labels(nb: Any) -> dict[int, tuple[int, str]]:
    """By cell index: the cell's number among the code cells (markdown cells are not counted, as the
    student does not count them) and its first line, for the messages."""
    labels = {}
    number = 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source") if isinstance(cell.get("source"), str) else ""
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        labels[index] = (number, first if len(first) <= 60 else first[:59] + "…")
    return labels


def report_language(nb: Any, wanted: str) -> Lang:
    """``wanted`` ("en"/"fr"), or for "auto" the notebook's ``metadata.drlab.lang``; English otherwise."""
    if wanted in ("en", "fr"):
        return wanted  # type: ignore[return-value]
    drlab = nb.get("metadata", {}).get("drlab", {})
    lang = drlab.get("lang") if isinstance(drlab, dict) else None
    return "fr" if lang == "fr" else "en"


def grade_notebook(
    path: Path, settings: GradingSettings, cancel: threading.Event | None = None
) -> NotebookReport:
    """Read ``path``, run it in its own sandbox, decide every check here; a bad file is an ``unreadable`` row."""
    import json

    from drlab.check import harvest
    from drlab.check.sandbox import NOTEBOOK_DATA, Limits, run_sandboxed
    from drlab.check.tp1 import Harvest, decide

    started = time.monotonic()
    try:
        raw = read_submission(path)
        nb = parse_notebook(raw)
    except ValueError as exc:
        apple = " (macOS writes such a ._ file beside each file it copies: the notebook is the other one)"
        return unreadable_report(
            path, f"{path.name}: {exc}" + (apple if path.name.startswith("._") else ""), max_score()
        )
    cells = [
        {"index": index, "source": cell.source}
        for index, cell in enumerate(nb.cells)
        if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str) and cell.source.strip()
    ]
    request = _request(settings.seed, settings.budget)
    limits = Limits(
        notebook_seconds=settings.timeout,
        checks_seconds=checks_share(settings),
        memory_bytes=int(settings.memory_gb * 2**30),
        threads=settings.threads,
    )
    with scratch.private_folder("drlab-request-") as request_dir:
        scratch.write_private(
            request_dir / "request.json",
            json.dumps(
                {
                    "seed": settings.seed,
                    "budget": settings.budget,
                    "notebook_seconds": settings.timeout,
                    "check_seconds": settings.check_seconds,
                    "notebook_name": "notebook.ipynb",
                    "cells": cells,
                }
            ).encode(),
        )
        scratch.write_private(request_dir / "notebook.ipynb", raw)
        scratch.write_private(request_dir / "harvest.py", Path(harvest.__file__).read_bytes())
        shared = _shared_files(settings.seed, settings.budget)
        _place(shared / REQUEST_TENSORS, request_dir / REQUEST_TENSORS)
        _place(shared / NOTEBOOK_DATA, request_dir / NOTEBOOK_DATA)
        run = run_sandboxed(request_dir, settings.budget, limits, cancel)
    outcome = Harvest.decode(
        run.frames,
        killed=run.killed,
        exit_code=run.exit_code,
        cell_labels=cell_labels(nb),
        cell_sources={cell["index"]: cell["source"] for cell in cells},
    )
    lang = report_language(nb, settings.lang)
    checks, facts = decide(request, outcome, notebook_timeout=settings.timeout, lang=lang)
    problems = []
    status = "ok"
    cells_frame = outcome.frames.get("cells")
    if cells_frame is None:
        status = "killed"
    elif cells_frame[0].get("timed_out_at") is not None:
        status = "timeout"
    elif cells_frame[0].get("errors"):
        status = "cell-errors"
    if cells_frame is not None and "done" not in outcome.frames:
        status = "checks-failed" if status == "ok" else status
        problems.append(
            "the sandbox was stopped before every check's data came back"
            if run.killed
            else f"the notebook's process ended before every check's data came back (exit status {run.exit_code})"
        )
    if run.channel_problem:
        problems.append(run.channel_problem)
    if run.oom_kills:
        problems.append(
            f"the kernel stopped {run.oom_kills} of its processes: together they went past --memory-gb "
            f"{settings.memory_gb:g}"
        )
    if run.output_total > len(run.output):
        problems.append(
            f"the notebook printed {run.output_total:,} bytes; the first {len(run.output):,} were kept"
        )
    return NotebookReport(
        notebook=str(path),
        status=status,  # type: ignore[arg-type]
        max_score=len(checks),
        checks=checks,
        seconds=time.monotonic() - started,
        facts=facts,
        problem="; ".join(problems),
        sandbox=run.note,
        lang=lang,
        limits=run.limits,
    )


def grade_class(
    paths: Sequence[Path],
    settings: GradingSettings,
    *,
    jobs: int,
    on_report: Callable[[NotebookReport], None],
    on_start: Callable[[Path], None] | None = None,
) -> list[NotebookReport]:
    """Grade ``paths`` with ``jobs`` sandboxes at a time; ``on_report`` gets each report as it is decided.

    Ctrl-C (KeyboardInterrupt) stops every running sandbox at once and is raised again, after the
    reports already decided were handed to ``on_report``. The interrupt is only noted when it comes
    (:class:`_CtrlC`) and raised between two waits: raised in the middle of ``wait()``, it could leave a
    future's lock held, and the pool's worker, unable to hand its report over, would hang the grader.
    """
    scratch.remove_leftovers()  # of a grading that was killed: nothing of it stays readable
    try:
        _shared_files(settings.seed, settings.budget)  # drawn and written once, before the sandboxes start
    except OSError as exc:
        raise scratch.no_room(exc) or exc from None
    cancel = threading.Event()
    reports: list[NotebookReport] = []
    pending = list(paths)
    running: dict[Future[NotebookReport], Path] = {}
    ctrl_c = _CtrlC()

    def grade(path: Path) -> NotebookReport:
        try:
            return grade_notebook(path, settings, cancel)
        except DrlabError:
            raise
        except OSError as exc:  # the grader's temporary folder is full: every notebook would fail so
            full = scratch.no_room(exc)
            if full is not None:
                raise full from None
            return unreadable_report(
                path, f"{path.name}: the grader failed on it ({type(exc).__name__}: {exc})", max_score()
            )
        except Exception as exc:  # one notebook must never stop the grading of a class
            return unreadable_report(
                path, f"{path.name}: the grader failed on it ({type(exc).__name__}: {exc})", max_score()
            )

    with ctrl_c, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            while pending or running:
                while pending and len(running) < max(1, jobs):
                    path = pending.pop(0)
                    if on_start is not None:
                        on_start(path)
                    running[pool.submit(grade, path)] = path
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                ctrl_c.raise_if_pressed()
                for future in done:
                    running.pop(future)
                    report = future.result()
                    reports.append(report)
                    on_report(report)
                    ctrl_c.raise_if_pressed()
        except BaseException:
            cancel.set()  # every sandbox is killed; the pool's threads end within a fraction of a second
            pending.clear()
            raise
    return reports


#: the signals that stop a grading as Ctrl-C does (every sandbox stopped, the rows kept, the temporary
#: files removed): Ctrl-C, ``kill``, the terminal closing
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _CtrlC:
    """While active (``with``), Ctrl-C (SIGINT, and SIGTERM, SIGHUP) only sets a flag;
    :meth:`raise_if_pressed` raises KeyboardInterrupt.

    Only the main thread can install a signal handler; elsewhere Python's own handling stays.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._note) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous = {}

    def _note(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def raise_if_pressed(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt
