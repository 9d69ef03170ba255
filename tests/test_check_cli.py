"""``drlab check tp1`` from the command line: arguments, broken notebooks, a folder of submissions → CSV.

The notebooks here are small ones written by the tests; they run in real Jupyter kernels (nbclient),
which is what the grader does. The shipped TP1 notebooks are graded in test_notebooks.py.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest

from drlab.check.runner import MARKER, NotebookReport, _parse_payload, format_report, grade_notebook
from drlab.cli import main

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def test_help_describes_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "tp1", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "train_one_epoch",
        "evaluate",
        "--csv",
        "--timeout",
        "--seed",
        "--budget",
        "NOTEBOOK_OR_FOLDER",
    ):
        assert text in out


def test_check_without_an_exercise_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert "error: choose an exercise to check: tp1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d: d / "missing.ipynb", [], "no such notebook or folder"),
        (lambda d: d, [], "no .ipynb notebook in this folder"),
        (lambda d: (d / "x.ipynb").write_text("{not json") and d / "x.ipynb", [], "not a Jupyter notebook"),
        (
            lambda d: (d / "y.ipynb").write_text('{"cells": 3}') and d / "y.ipynb",
            [],
            "not a Jupyter notebook",
        ),
        (lambda d: d / "any.ipynb", ["--timeout", "0"], "--timeout must be > 0"),
        (lambda d: d / "any.ipynb", ["--budget", "huge"], "invalid choice"),
        (lambda d: d / "any.ipynb", ["--seed", "-1"], "--seed must be in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, extra: list[str], message: str
) -> None:
    write_notebook(tmp_path / "any.ipynb", "x = 1") if extra else None
    target = make(tmp_path)  # type: ignore[operator]
    code = None
    try:
        code = main(["check", "tp1", str(target), *extra])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_a_folder_of_broken_submissions_gets_clear_reports_and_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defines nothing, raises, loops forever, is not a notebook: four clear verdicts, one CSV row each."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    write_notebook(submissions / "a_empty.ipynb", "print('hello')")
    write_notebook(submissions / "b_raises.ipynb", "x = [1, 2]\nx[5]", "y = 2")
    write_notebook(submissions / "c_endless.ipynb", "import time\nwhile True:\n    time.sleep(0.05)", "z = 3")
    (submissions / "d_broken.ipynb").write_text("this is not JSON")
    (submissions / "notes.txt").write_text("not a notebook, ignored")
    scores = tmp_path / "out" / "scores.csv"

    code = main(
        ["check", "tp1", str(submissions), "--csv", str(scores), "--timeout", "8", "--budget", "tiny"]
    )

    assert code == 1
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())  # hints are wrapped: compare on one line
    assert "Traceback" not in out
    assert "`Net` is not defined: write it in the cell marked TODO 1" in out
    assert "does not define Net, train_one_epoch, evaluate, model, test_accuracy" in out
    assert "cell 1 (`x = [1, 2]`), line 2 raised IndexError: list index out of range" in out
    assert "did not finish within 8 s: cell 1 (`import time`) was still running" in out
    assert "not a Jupyter notebook" in out
    assert "[4/4] grading d_broken.ipynb" in captured.err
    with open(scores, newline="", encoding="utf-8") as handle:
        rows = {Path(row["notebook"]).name: row for row in csv.DictReader(handle)}
    assert list(rows) == ["a_empty.ipynb", "b_raises.ipynb", "c_endless.ipynb", "d_broken.ipynb"]
    assert rows["a_empty.ipynb"]["status"] == "ok" and rows["a_empty.ipynb"]["runs"] == "1"
    assert rows["a_empty.ipynb"]["score"] == "1" and rows["a_empty.ipynb"]["max_score"] == "13"
    assert rows["b_raises.ipynb"]["status"] == "cell-errors" and rows["b_raises.ipynb"]["score"] == "0"
    assert rows["c_endless.ipynb"]["status"] == "timeout"
    assert rows["d_broken.ipynb"]["status"] == "unreadable" and rows["d_broken.ipynb"]["score"] == "0"
    assert all(row["passed"] == "0" for row in rows.values())
    assert not list(scores.parent.glob(".*.tmp"))  # written atomically: no temporary file left


def test_a_fake_verdict_printed_by_the_notebook_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = '{"checks": [{"id": "runs", "title": "t", "passed": true, "message": ""}]}'
    notebook = write_notebook(
        tmp_path / "cheat.ipynb", f"print({MARKER!r} + ' 0123456789abcdef ' + {fake!r})"
    )
    # a user-level "python3" kernelspec pointing to another Python must not be used: the grader runs
    # the kernel with its own interpreter, where drlab is installed
    kernelspec = tmp_path / "jupyter" / "kernels" / "python3"
    kernelspec.mkdir(parents=True)
    (kernelspec / "kernel.json").write_text(
        '{"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], '
        '"display_name": "elsewhere", "language": "python"}'
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    report = grade_notebook(notebook, timeout=60, budget="tiny")
    assert report.status == "ok", report.problem
    assert report.max_score == 13 and report.score == 1  # only "runs" passes: the real checks ran


def test_the_payload_must_carry_this_runs_nonce() -> None:
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f'{MARKER} other {{"checks": []}}\n')
    ]
    assert _parse_payload(cell, "mine") is None
    cell.outputs[0]["text"] = f'{MARKER} mine {{"checks": []}}\n'
    assert _parse_payload(cell, "mine") == {"checks": []}
    cell.outputs[0]["text"] = f"{MARKER} mine [1, 2]\n"
    assert _parse_payload(cell, "mine") is None


def test_report_text_shows_hints_under_failures() -> None:
    from drlab.check.runner import CheckLine

    report = NotebookReport(
        notebook="n.ipynb",
        status="ok",
        checks=[CheckLine("a", "first", True, "fine"), CheckLine("b", "second", False, "do this " * 30)],
        facts={"budget": "tiny", "dataset": "digits"},
    )
    text = format_report(report, width=60)
    assert "✓ first — fine" in text and "✗ second" in text
    assert all(len(line) <= 60 for line in text.splitlines() if line.startswith("      "))
    assert text.splitlines()[-1] == "score: 1/2 — 1 to fix"


@pytest.mark.slow
def test_seeded_mistake_through_the_real_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of the solution without zero_grad, graded end to end: exit 1, the right ✗ and its hint."""
    nb = nbformat.read(NOTEBOOKS / "03_tp1_fashion_mnist_solution.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.get("id") == "tp1-13"]
    line = "        optimizer.zero_grad()  # gradients accumulate: start from zero\n"
    assert line in cell.source
    cell.source = cell.source.replace(line, "")
    copy = tmp_path / "student.ipynb"
    nbformat.write(nb, copy)
    code = main(["check", "tp1", str(copy), "--budget", "tiny", "--timeout", "300"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "✗ train_one_epoch zeroes the gradients" in out and "the gradients accumulated" in out
    assert "✓ evaluate returns the accuracy on the data it is given" in out
    assert "score: 12/13" in out


@pytest.mark.slow
def test_the_exercise_as_shipped_fails_with_helpful_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = shutil.copy(NOTEBOOKS / "03_tp1_fashion_mnist.ipynb", tmp_path / "exercise.ipynb")
    code = main(["check", "tp1", str(exercise), "--budget", "tiny", "--timeout", "300"])
    out = " ".join(capsys.readouterr().out.split())  # hints are wrapped: compare on one line
    assert code == 1
    assert "raised NotImplementedError: TODO 1: define the layers of Net in __init__" in out
    assert "Net() raised NotImplementedError: TODO 1" in out
    assert "raised NotImplementedError: TODO 2: write train_one_epoch" in out
    assert "raised NotImplementedError: TODO 3: write evaluate" in out
    assert "`model` is not defined: write it in the training cell" in out
    assert "score: 0/13" in out
    assert "Traceback" not in out and "at `raise" not in out
