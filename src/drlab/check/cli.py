"""``drlab check tp1``: grade the TP1 notebook (one file, or a folder of submissions).

Only the standard library and light drlab modules are imported here; nbformat and torch load when the
command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import threading
from pathlib import Path
from typing import Any

from drlab.check.config import CheckConfig, ClassReportConfig
from drlab.common.config import add_command, add_dataclass_arguments, dataclass_from_namespace
from drlab.common.errors import DrlabError, UsageError

CHECK_DESCRIPTION = """\
Grade course exercises automatically. One exercise so far:

  tp1    the TP1 notebook (notebooks/03_tp1_fashion_mnist.ipynb): a classifier for Fashion-MNIST

and the class report of a grading already done (drlab check report SCORES.csv --out DIR).
"""

TP1_DESCRIPTION = """\
Run a TP1 notebook in a sandbox of its own, call what it defines on inputs the grader chooses, and
decide every check in the grader's process, against its own reference:

  Net               class Net(nn.Module): images (B, 1, 28, 28) → (B, 10) logits, a sane size
  train_one_epoch   (model, batches, optimizer, loss_fn) → mean loss: lowers the loss, zeroes the
                    gradients at every batch, puts the model in training mode
  evaluate          (model, x, y) → accuracy in [0, 1]: eval mode, no_grad, the data it is given
  loss_fn           the loss of a classification: cross-entropy of the logits and integer labels
  model             the trained Net beats the stated accuracy on images it never saw: training
                    images the grader keeps back (5,000; 600 with --budget tiny), drawn from --seed
  test_accuracy     evaluate(model, x_test, y_test), as the checker measures it

One line per check (✓/✗), a hint under each ✗ that names the likely cause (a ✗ with the same
root as one above says "caused by the failure above"), a score out of 14, in the notebook's language
(metadata drlab.lang: en or fr; --lang overrides). Exit status 0 only when every notebook passes
every check (1 otherwise, 2 for bad arguments, 130 when interrupted). Given a folder,
every *.ipynb in it is graded (--jobs at a time; a folder or a link named *.ipynb gets a row saying why
it is not).

--csv FILE keeps one row per notebook, written as each one is graded (Ctrl-C keeps the rows already
graded). FILE may be your gradebook: drlab updates only its own columns (notebook, status, score, …,
one per check, first_problem) of the rows of the notebooks it grades, matched by the notebook column,
and adds a row for a notebook it does not find. Your columns (a final grade, comments), your rows (late
submissions graded another day, other students), their order, the delimiter (, ; or tab), the line
endings and the permissions stay as they are. A file without drlab's notebook and score columns, or not
UTF-8, is refused before anything is graded and never touched.

The sandbox (bubblewrap, `bwrap`; setup.sh installs it on Linux): an empty working folder with a copy of
the one notebook, the system and drlab's environment read-only (without the grader), no network, its
own process namespace (nothing it starts survives it), no variables of yours, printed output capped.
One budget for all its processes, held by a control group of the kernel (cgroup v2, or v1 as root):
its CPUs (the machine's cores / --jobs), --memory-gb, 512 tasks; every folder it can write is a small
in-memory one (256 MiB), and / is read-only. --timeout counts the time it computes (its CPU time), so
that a classmate's notebook or a busy machine does not make it time out; one that waits instead is
stopped at 3 x --timeout on the clock; then a share for the checks; then everything is killed. Where
no control group can be made (not root on cgroup v1; a cgroup v2 session not delegated: run under
`systemd-run --user --scope -p Delegate=yes`), the limits hold each process, and every report and CSV
row (column limits) says so. Of the dataset, the notebook sees the grader's copy without the images
kept back; the dataset's own files are hidden. Without bwrap every report and CSV row says
"not sandboxed".

No check passes on the sandbox's word: each is decided on data held against the grader's reference
(weights, batch-norm statistics, the numbers evaluate returns on marked probes, logits on the images
kept back). The trained model must also have learned: a fresh Net() trained by the notebook's
train_one_epoch on images whose 10 classes the checker renamed must learn the renaming, a fresh Net()
given the model's state_dict must answer as the model does, and no accuracy above what a TP1 model
reaches is taken (a Net that looks the public dataset's labels up fails all three). What the grader
cannot tell is who computed the data: a notebook that writes the data channel itself still needs the
right data, but Net's output and size are those data, and a classifier that is not the student's
trained Net can pass the model's checks (docs/grading.md, "Known limits"). Open the notebook when a score
surprises you.
"""

TP1_EPILOG = """\
examples:
  drlab check tp1 notebooks/03_tp1_fashion_mnist.ipynb              your work, the full budget
  drlab check tp1 my_tp1.ipynb --budget tiny                        a quick look (small data, lower bar)
  drlab check tp1 notebooks/fr/03_tp1_fashion_mnist.ipynb --lang en the French edition, reported in English
  drlab check tp1 submissions/ --csv scores.csv --jobs 2            a class's submissions
  drlab check tp1 submissions.zip --moodle worksheet.csv --out graded/ --jobs 2
        Moodle's round trip: graded/ gets the filled worksheet (same name) for "Upload grading worksheet",
        feedback.zip for "Upload multiple feedback files in a zip", scores.csv, report.html (the class)
  drlab check tp1 submissions/ --out graded/                          feedback pages, report, scores.csv
  drlab check report graded/scores.csv --out report/                  the class report, without grading again

The notebook trains on Fashion-MNIST when its files are cached (drlab data download fashion-mnist),
else on the digits, enlarged to 28×28, with a lower bar — as when you run it yourself.
"""


REPORT_DESCRIPTION = """\
The class report of a grading already done, from its score sheet (the scores.csv of --out, or a --csv):
the score histogram, each check's pass rate, the causes the hints named for each check that failed first,
the notebooks that crashed, timed out or ran without a sandbox, the time per notebook. The submissions
that look alike need the notebooks: they are in the report that --out writes.
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``check`` (and its exercise ``tp1``) to the drlab command line."""
    check = add_command(
        subparsers,
        "check",
        help="grade an exercise notebook automatically (TP1)",
        description=CHECK_DESCRIPTION,
    )
    exercises = check.add_subparsers(title="exercises", metavar="EXERCISE")
    check.set_defaults(handler=lambda args: _print_help(check))
    tp1 = add_command(
        exercises,
        "tp1",
        help="grade a TP1 notebook (Fashion-MNIST classifier), or a folder of them",
        description=TP1_DESCRIPTION,
        epilog=TP1_EPILOG,
    )
    tp1.add_argument(
        "path",
        metavar="NOTEBOOK_OR_FOLDER",
        help="a .ipynb file, a folder of them, or Moodle's submissions zip",
    )
    add_dataclass_arguments(
        tp1,
        CheckConfig,
        metavars={
            "out": "DIR",
            "moodle": "WORKSHEET.csv",
            "moodle_columns": "COLUMNS",
            "skeleton": "NOTEBOOK",
        },
    )
    tp1.set_defaults(handler=run_check_tp1)
    report = add_command(
        exercises,
        "report",
        help="the class report of a grading already done, from its scores.csv (no grading again)",
        description=REPORT_DESCRIPTION,
    )
    report.add_argument(
        "scores", metavar="SCORES.csv", help="the score sheet of a grading (scores.csv, or --csv)"
    )
    add_dataclass_arguments(report, ClassReportConfig, metavars={"out": "DIR"})
    report.set_defaults(handler=run_check_report)


def run_check_report(args: argparse.Namespace) -> int:
    """``drlab check report SCORES.csv --out DIR``."""
    from drlab.check.roundtrip import run_class_report

    return run_class_report(dataclass_from_namespace(ClassReportConfig, args), Path(args.scores))


def _print_help(parser: argparse.ArgumentParser) -> int:
    """``drlab check`` alone: its help, exit 0 (as ``drlab rl`` and ``drlab data``)."""
    parser.print_help()
    return 0


def validate(config: CheckConfig) -> None:
    """Reject impossible settings with a one-line error (before anything is read or run)."""
    if not (math.isfinite(config.timeout) and 0 < config.timeout <= 7 * 86400):
        raise UsageError(f"--timeout must be a number of seconds in (0, 604800], got {config.timeout:g}")
    if not (math.isfinite(config.check_seconds) and 0 < config.check_seconds <= 600):
        raise UsageError(f"--check-seconds must be in (0, 600], got {config.check_seconds:g}")
    if not 0 <= config.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), got {config.seed}")
    if not 1 <= config.jobs <= 64:
        raise UsageError(f"--jobs must be in [1, 64], got {config.jobs}")
    if not (math.isfinite(config.memory_gb) and 0.5 <= config.memory_gb <= 1024):
        raise UsageError(f"--memory-gb must be in [0.5, 1024], got {config.memory_gb:g}")


class Printer:
    """Prints reports; once the reader is gone (``drlab check … | head``), prints nothing more, grades on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed = False

    def __call__(self, text: str, *, err: bool = False) -> None:
        with self.lock:
            if self.closed:
                return
            try:
                stream = sys.stderr if err else sys.stdout
                try:
                    print(text, file=stream, flush=True)
                except UnicodeEncodeError:  # a terminal that cannot show ✓ or é: escaped, never dropped
                    encoding = getattr(stream, "encoding", None) or "ascii"
                    print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream, flush=True)
            except (BrokenPipeError, ValueError, OSError):
                self.closed = True
                # the pipe is gone: later writes (and the interpreter's final flush) go nowhere
                devnull = os.open(os.devnull, os.O_WRONLY)
                with contextlib.suppress(OSError, ValueError):
                    os.dup2(devnull, stream.fileno())
                os.close(devnull)


def run_check_tp1(args: argparse.Namespace) -> int:
    """Grade one notebook or a folder; print the reports; exit 0 only when every check passes."""
    config = dataclass_from_namespace(CheckConfig, args)
    validate(config)
    try:
        import nbformat  # noqa: F401  (reads the notebooks: an optional dependency)
    except ImportError as exc:
        raise DrlabError(
            f"drlab check reads notebooks with nbformat, which is missing ({exc.name}): "
            "pip install -e '.[notebooks]' (or bash setup.sh --dev)"
        ) from None
    target = Path(args.path)
    if config.out is not None or config.moodle is not None or target.suffix.lower() == ".zip":
        from drlab.check.roundtrip import run_class  # the class round trip: a zip, a run folder, Moodle

        return run_class(config, target, Printer())
    from drlab.check.report import (
        check_csv_target,
        find_notebooks,
        format_report,
        printable,
        write_scores_csv,
    )
    from drlab.check.runner import grade_class, grading_settings
    from drlab.check.sandbox import bwrap_problem
    from drlab.check.scoresheet import SheetError

    if target.is_symlink():
        raise UsageError(f"{target}: a symbolic link; give the notebook or the folder itself")
    if not target.exists():
        raise UsageError(f"{target}: no such notebook or folder")
    if target.is_dir():
        notebooks = find_notebooks(target)
        if not notebooks:
            raise UsageError(f"{target}: no .ipynb notebook in this folder")
    elif target.is_file():
        notebooks = [target]
    else:
        raise UsageError(f"{target}: not a regular file or a folder")
    csv_path = Path(config.csv) if config.csv is not None else None
    if csv_path is not None:
        reason = check_csv_target(csv_path)
        if reason:
            raise UsageError(f"--csv {csv_path}: {reason}")

    from drlab.check.tp1 import CHECK_IDS

    out = Printer()
    problem = bwrap_problem()
    if problem is not None:
        out(f"warning: not sandboxed ({problem}): each notebook runs with your rights", err=True)
    settings = grading_settings(config)
    graded: list[Any] = []
    started: list[Path] = []
    many = len(notebooks) > 1

    def on_start(path: Path) -> None:
        started.append(path)
        if many:
            out(f"[{len(started)}/{len(notebooks)}] grading {printable(path.name)} …", err=True)

    def on_report(report: Any) -> None:
        graded.append(report)
        out(format_report(report) + ("\n" if many else ""))
        if csv_path is not None:
            try:
                write_scores_csv(sorted(graded, key=lambda r: r.notebook), csv_path, CHECK_IDS)
            except OSError as exc:  # disk full, folder removed…: the sheet as last written stays
                raise DrlabError(
                    f"--csv {csv_path}: cannot write the score sheet ({exc.strerror or exc})"
                ) from None
            except SheetError as exc:  # replaced by another file during the grading: left as it is
                raise DrlabError(f"--csv {csv_path}: {exc}; it was not changed") from None

    try:
        grade_class(notebooks, settings, jobs=config.jobs, on_report=on_report, on_start=on_start)
    except KeyboardInterrupt:
        kept = f"; {csv_path} holds them" if csv_path is not None and graded else ""
        out(f"interrupted: {len(graded)} of {len(notebooks)} notebooks graded{kept}", err=True)
        return 130
    graded.sort(key=lambda r: r.notebook)
    if many:
        width = max(len(printable(r.notebook)) for r in graded)
        out("summary:")
        for report in graded:
            out(
                f"  {printable(report.notebook):<{width}}  {report.score:>2}/{report.max_score:<2}  {report.status}"
            )
    if csv_path is not None:
        out(f"scores written to {csv_path}")
    return 0 if all(report.passed for report in graded) else 1
