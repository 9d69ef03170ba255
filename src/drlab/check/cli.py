"""``drlab check tp1``: grade the TP1 notebook (one file, or a folder of submissions).

Only the standard library and light drlab modules are imported here; nbclient and torch load when the
command runs (torch only inside the notebook's kernel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drlab.check.config import CheckConfig
from drlab.common.config import add_command, add_dataclass_arguments, dataclass_from_namespace
from drlab.common.errors import DrlabError, UsageError

CHECK_DESCRIPTION = """\
Grade course exercises automatically. One exercise so far:

  tp1    the TP1 notebook (notebooks/03_tp1_fashion_mnist.ipynb): a classifier for Fashion-MNIST
"""

TP1_DESCRIPTION = """\
Run a TP1 notebook in a fresh Jupyter kernel (with a time limit), then check what it defines against
the reference, in that same kernel:

  Net               class Net(nn.Module): images (B, 1, 28, 28) → (B, 10) logits, a sane size
  train_one_epoch   (model, batches, optimizer, loss_fn) → mean loss: lowers the loss, zeroes the
                    gradients at every batch, puts the model in training mode
  evaluate          (model, x, y) → accuracy in [0, 1]: eval mode, no_grad, the data it is given
  model             the trained Net beats the stated accuracy on the test set
  test_accuracy     evaluate(model, x_test, y_test), as the checker measures it

One line per check (✓/✗), a hint under each ✗, a score. Exit status 0 only when every check passes
(1 otherwise, 2 for bad arguments). Given a folder, every *.ipynb in it is graded in turn, and --csv
writes one row of scores per notebook.
"""

TP1_EPILOG = """\
examples:
  drlab check tp1 notebooks/03_tp1_fashion_mnist.ipynb              your work, the full budget
  drlab check tp1 my_tp1.ipynb --budget tiny                        a quick look (small data, lower bar)
  drlab check tp1 submissions/ --csv scores.csv --timeout 1800      a class's submissions

The notebook runs with its own folder as working directory, on Fashion-MNIST when the files are cached
(else on the digits, enlarged to 28×28, with a lower bar), exactly as when you run it yourself.
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
    check.set_defaults(handler=lambda args: _missing_exercise(check))
    tp1 = add_command(
        exercises,
        "tp1",
        help="grade a TP1 notebook (Fashion-MNIST classifier), or a folder of them",
        description=TP1_DESCRIPTION,
        epilog=TP1_EPILOG,
    )
    tp1.add_argument("path", metavar="NOTEBOOK_OR_FOLDER", help="a .ipynb file, or a folder of them")
    add_dataclass_arguments(tp1, CheckConfig)
    tp1.set_defaults(handler=run_check_tp1)


def _missing_exercise(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("error: choose an exercise to check: tp1 (see 'drlab check --help')", file=sys.stderr)
    return 2


def validate(config: CheckConfig) -> None:
    """Reject impossible settings with a one-line error."""
    if not config.timeout > 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {config.timeout:g}")
    if not config.check_seconds > 0:
        raise UsageError(f"--check-seconds must be > 0, got {config.check_seconds:g}")
    if not 0 <= config.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), got {config.seed}")


def run_check_tp1(args: argparse.Namespace) -> int:
    """Grade one notebook or a folder; print the reports; exit 0 only when every check passes."""
    from drlab.check.runner import (
        NotebookReport,
        find_notebooks,
        format_report,
        grade_notebook,
        unreadable_report,
        write_scores_csv,
    )

    config = dataclass_from_namespace(CheckConfig, args)
    validate(config)
    try:
        import nbclient  # noqa: F401  (the notebook runner: an optional dependency)
        import nbformat  # noqa: F401
    except ImportError as exc:
        raise DrlabError(
            f"drlab check runs notebooks with Jupyter's nbclient, which is missing ({exc.name}): "
            "pip install -e '.[notebooks]' (or bash setup.sh --dev)"
        ) from None
    target = Path(args.path)
    if not target.exists():
        raise UsageError(f"{target}: no such notebook or folder")
    if config.csv is not None and Path(config.csv).is_dir():
        raise UsageError(f"--csv {config.csv}: is a folder; give a file name such as scores.csv")

    def grade(path: Path) -> NotebookReport:
        return grade_notebook(
            path,
            timeout=config.timeout,
            seed=config.seed,
            budget=config.budget,
            check_seconds=config.check_seconds,
        )

    if target.is_file():
        report = grade(target)  # a file that is not a notebook is a UsageError: exit 2, one line
        print(format_report(report))
        reports = [report]
    else:
        notebooks = find_notebooks(target)
        if not notebooks:
            raise UsageError(f"{target}: no .ipynb notebook in this folder")
        reports = []
        for number, path in enumerate(notebooks, start=1):
            print(f"[{number}/{len(notebooks)}] grading {path.name} …", file=sys.stderr, flush=True)
            try:
                report = grade(path)
            except UsageError as exc:  # one broken file must not stop the grading of a class
                report = unreadable_report(path, str(exc))
            print(format_report(report) + "\n", flush=True)
            reports.append(report)
        width = max(len(r.notebook) for r in reports)
        print("summary:")
        for report in reports:
            print(f"  {report.notebook:<{width}}  {report.score:>2}/{report.max_score:<2}  {report.status}")
    if config.csv is not None:
        write_scores_csv(reports, config.csv)
        print(f"scores written to {config.csv}")
    return 0 if all(report.passed for report in reports) else 1
