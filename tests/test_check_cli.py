"""``drlab check tp1`` from the command line: arguments, broken notebooks, a folder of submissions → CSV.

The notebooks here are small ones written by the tests; they run in the grader's sandbox (bwrap where
it works here, else "not sandboxed"). The attacks on the grader are in test_check_attacks.py; the
shipped TP1 notebooks are graded in test_notebooks.py.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from drlab.check import sandbox
from drlab.check.report import (
    CheckResult,
    NotebookReport,
    check_csv_target,
    find_notebooks,
    format_report,
    read_submission,
    score_rows,
    spreadsheet_safe,
    write_scores_csv,
)
from drlab.check.sandbox import FRAME_TAG, FrameParser
from drlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {Path(row["notebook"].lstrip("'")).name: row for row in csv.DictReader(handle)}


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
        "--jobs",
        "bwrap",
    ):
        assert text in out


def test_check_without_an_exercise_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """As ``drlab rl`` and ``drlab data``: the help, exit 0."""
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "tp1" in out and "EXERCISE" in out


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d: d / "missing.ipynb", [], "no such notebook or folder"),
        (lambda d: d / "empty_folder", [], "no .ipynb notebook in this folder"),
        (lambda d: d / "any.ipynb", ["--timeout", "0"], "--timeout must be"),
        (lambda d: d / "any.ipynb", ["--timeout", "inf"], "--timeout must be"),
        (lambda d: d / "any.ipynb", ["--timeout", "nan"], "--timeout must be"),
        (lambda d: d / "any.ipynb", ["--check-seconds", "inf"], "--check-seconds must be"),
        (lambda d: d / "any.ipynb", ["--check-seconds", "-1"], "--check-seconds must be"),
        (lambda d: d / "any.ipynb", ["--jobs", "0"], "--jobs must be"),
        (lambda d: d / "any.ipynb", ["--memory-gb", "inf"], "--memory-gb must be"),
        (lambda d: d / "any.ipynb", ["--budget", "huge"], "invalid choice"),
        (lambda d: d / "any.ipynb", ["--seed", "-1"], "--seed must be in"),
        (lambda d: d / "any.ipynb", ["--csv", "{d}"], "is a folder"),
        (lambda d: d / "any.ipynb", ["--csv", "{d}/no/such/scores.csv"], "does not exist"),
        (lambda d: d / "link.ipynb", [], "a symbolic link"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, extra: list[str], message: str
) -> None:
    write_notebook(tmp_path / "any.ipynb", "x = 1")
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "any.ipynb")
    target = make(tmp_path)  # type: ignore[operator]
    code = None
    try:
        code = main(["check", "tp1", str(target), *[e.format(d=tmp_path) for e in extra]])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) <= 2
    assert "TP1 check" not in captured.out  # nothing was graded


def test_a_folder_of_broken_submissions_gets_clear_reports_and_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defines nothing, raises, loops forever, not a notebook, a link, a formula for a name: one row each."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    write_notebook(submissions / "a_empty.ipynb", "print('hello')")
    write_notebook(submissions / "b_raises.ipynb", "x = [1, 2]\nx[5]", "y = 2")
    write_notebook(submissions / "c_endless.ipynb", "import time\nwhile True:\n    time.sleep(0.05)", "z = 3")
    (submissions / "d_broken.ipynb").write_text("this is not JSON")
    (submissions / "e_link.ipynb").symlink_to("/etc/passwd")
    write_notebook(submissions / "=HYPERLINK(1).ipynb", "print('hi')")
    (submissions / "notes.txt").write_text("not a notebook, ignored")
    scores = tmp_path / "out" / "scores.csv"
    scores.parent.mkdir()
    monkeypatch.chdir(submissions)

    code = main(
        ["check", "tp1", ".", "--csv", str(scores), "--timeout", "8", "--budget", "tiny", "--jobs", "2"]
    )

    assert code == 1
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())  # hints are wrapped: compare on one line
    assert "Traceback" not in out
    assert "`Net` is not defined: write it in the cell marked TODO 1" in out
    assert "does not define Net, train_one_epoch, evaluate, loss_fn, model, test_accuracy" in out
    counted = "; counting the code cells from the top, not Jupyter's [n])"  # said where a cell is named
    assert f"code cell 1 (`x = [1, 2]`{counted}, line 2 raised IndexError: list index out of range" in out
    # it sleeps: the limit counts the time it computes; waiting, it meets the wall clock at 8 s
    assert "did not finish within 8 s (they passed on the clock while it was waiting, not computing" in out
    assert f"code cell 1 (`import time`{counted} was still running" in out
    assert "not a Jupyter notebook" in out
    assert "a symbolic link: not read" in out and "root:" not in out
    rows = read_rows(scores)
    assert sorted(rows) == sorted(
        [
            "a_empty.ipynb",
            "b_raises.ipynb",
            "c_endless.ipynb",
            "d_broken.ipynb",
            "e_link.ipynb",
            "=HYPERLINK(1).ipynb",
        ]
    )
    assert rows["a_empty.ipynb"]["status"] == "ok" and rows["a_empty.ipynb"]["runs"] == "1"
    assert rows["a_empty.ipynb"]["score"] == "1" and rows["a_empty.ipynb"]["max_score"] == "14"
    assert rows["b_raises.ipynb"]["status"] == "cell-errors" and rows["b_raises.ipynb"]["score"] == "0"
    assert rows["c_endless.ipynb"]["status"] == "timeout"
    for name in ("d_broken.ipynb", "e_link.ipynb"):
        assert rows[name]["status"] == "unreadable" and rows[name]["score"] == "0"
        assert rows[name]["max_score"] == "14"  # the denominator is fixed
    formula = rows["=HYPERLINK(1).ipynb"]
    assert formula["notebook"] == "'=HYPERLINK(1).ipynb"  # shown as text by a spreadsheet
    assert all(row["passed"] == "0" for row in rows.values())
    sandboxed = sandbox.bwrap_problem() is None
    graded = [row for name, row in rows.items() if row["status"] != "unreadable"]
    assert all((row["sandbox"] == "bwrap") == sandboxed for row in graded)
    assert not list(scores.parent.glob(".*.tmp"))  # written atomically: no temporary file left


def test_without_bwrap_grading_works_and_every_line_says_not_sandboxed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap is not installed")
    write_notebook(tmp_path / "n.ipynb", "import os\nprint(os.getcwd())")
    scores = tmp_path / "scores.csv"
    code = main(
        [
            "check",
            "tp1",
            str(tmp_path / "n.ipynb"),
            "--csv",
            str(scores),
            "--timeout",
            "20",
            "--budget",
            "tiny",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "warning: not sandboxed (bwrap is not installed)" in captured.err
    assert "! not sandboxed (bwrap is not installed)" in captured.out
    (row,) = read_rows(scores).values()
    assert row["sandbox"] == "not sandboxed (bwrap is not installed)" and row["score"] == "1"


# --------------------------------------------------------------------------------------------------
# The pieces, without a sandbox


def frame(name: str, data: object, tensors: bytes = b"") -> bytes:
    meta = json.dumps(data).encode()
    return FRAME_TAG + f" {name} {len(meta)} {len(tensors)}\n".encode() + meta + tensors


def test_frames_are_cut_from_any_chunks_and_the_first_of_each_name_is_kept() -> None:
    stream = (
        frame("net", {"status": "ok"}, b"xyz")
        + frame("net", {"status": "forged"})
        + frame("cells", {"errors": []})
    )
    parser = FrameParser()
    for start in range(0, len(stream), 7):  # the pipe delivers it in pieces
        parser.feed(stream[start : start + 7])
    assert parser.problem == ""
    assert parser.frames["net"].data == {"status": "ok"} and parser.frames["net"].tensors == b"xyz"
    assert parser.frames["cells"].data == {"errors": []}


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (b"hello world\n" + frame("net", {}), "malformed"),
        (FRAME_TAG + b" net 10000000000 0\n", "too large"),
        (b"x" * 300, "malformed"),
    ],
)
def test_a_malformed_channel_is_dropped_not_trusted(stream: bytes, problem: str) -> None:
    parser = FrameParser()
    parser.feed(stream)
    parser.feed(frame("net", {"status": "ok"}))
    assert problem in parser.problem and parser.frames == {}


def test_a_frame_whose_json_is_not_an_object_is_ignored() -> None:
    parser = FrameParser()
    parser.feed(frame("net", [1, 2]) + frame("evaluate", {"calls": []}))
    assert list(parser.frames) == ["evaluate"]


def test_report_text_shows_hints_under_failures() -> None:
    report = NotebookReport(
        notebook="n.ipynb",
        status="ok",
        max_score=2,
        checks=[CheckResult("a", "first", True, "fine"), CheckResult("b", "second", False, "do this " * 30)],
        facts={"budget": "tiny", "dataset": "digits"},
        sandbox="bwrap",
    )
    text = format_report(report, width=60)
    assert "✓ first — fine" in text and "✗ second" in text
    assert all(len(line) <= 60 for line in text.splitlines() if line.startswith("      "))
    assert text.splitlines()[-1] == "score: 1/2 — 1 to fix"


def test_a_notebook_name_cannot_drive_the_terminal() -> None:
    report = NotebookReport(notebook="\x1b[2Jevil\n.ipynb", status="ok", max_score=13)
    assert "\x1b" not in format_report(report) and "\\x1b[2Jevil\\n.ipynb" in format_report(report)


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "\\t=1"),
        ("\r=1", "\\r=1"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe  # a control character is escaped: the cell starts with "\"
    report = NotebookReport(notebook=cell, status="unreadable", max_score=13, problem=cell)
    row = score_rows([report], ["runs"])[0]
    assert row["notebook"] == safe and row["first_problem"] == safe
    assert spreadsheet_safe("0.9123") == "0.9123" and spreadsheet_safe(3) == 3


def test_submissions_are_read_only_as_regular_files(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "n.ipynb", "x = 1")
    assert read_submission(notebook) == notebook.read_bytes()
    (tmp_path / "link.ipynb").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        read_submission(tmp_path / "link.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")  # reading a FIFO would wait for a writer forever
    with pytest.raises(ValueError, match="not a regular file"):
        read_submission(tmp_path / "fifo.ipynb")
    (tmp_path / "folder.ipynb").mkdir()
    with pytest.raises(ValueError, match="a folder, not a notebook"):
        read_submission(tmp_path / "folder.ipynb")
    write_notebook(tmp_path / ".hidden.ipynb", "x = 1")
    (tmp_path / ".ipynb_checkpoints").mkdir()  # Jupyter's: not a submission
    # every *.ipynb entry gets a row: graded, or saying why not (issue 23: folders and hidden files had none)
    assert find_notebooks(tmp_path) == sorted(
        tmp_path / n for n in (".hidden.ipynb", "fifo.ipynb", "folder.ipynb", "link.ipynb", "n.ipynb")
    )


def test_the_csv_target_is_checked_before_grading(tmp_path: Path) -> None:
    assert check_csv_target(tmp_path / "scores.csv") is None
    assert "folder" in (check_csv_target(tmp_path) or "")
    assert "does not exist" in (check_csv_target(tmp_path / "no" / "scores.csv") or "")
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    assert "symbolic link" in (check_csv_target(tmp_path / "link.csv") or "")
    # an instructor's own spreadsheet is never overwritten; a score sheet drlab wrote is replaced
    gradebook = tmp_path / "grades.csv"
    gradebook.write_text("student,exam\nalice,17\n")
    assert "not a drlab score sheet" in (check_csv_target(gradebook) or "")
    sheet = tmp_path / "scores.csv"
    write_scores_csv([], sheet, ["runs"])
    assert check_csv_target(sheet) is None
    (tmp_path / "empty.csv").write_text("")
    assert check_csv_target(tmp_path / "empty.csv") is None


def test_check_never_overwrites_a_file_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gradebook = tmp_path / "grades.csv"
    gradebook.write_text("student,exam\nalice,17\n")
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    assert main(["check", "tp1", str(notebook), "--csv", str(gradebook)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --csv") and "not a drlab score sheet" in err[0]
    assert gradebook.read_text() == "student,exam\nalice,17\n"


def drlab_process(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen([sys.executable, "-m", "drlab", *args], env=env, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_graded_and_stops_every_sandbox(tmp_path: Path) -> None:
    """Ctrl-C while a notebook still runs: exit 130, the rows already graded are in the CSV, no sandbox left."""
    write_notebook(tmp_path / "a_quick.ipynb", "x = 1")
    write_notebook(
        tmp_path / "b_endless.ipynb", "import time  # drlab-ctrl-c-test\nwhile True:\n    time.sleep(0.1)"
    )
    scores = tmp_path / "scores.csv"
    grader = drlab_process(
        "check", "tp1", str(tmp_path), "--csv", str(scores), "--timeout", "600", "--budget", "tiny", "--jobs", "2",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (scores.exists() and "a_quick" in scores.read_text()) and time.monotonic() < deadline:
        time.sleep(0.5)
    sandboxes = descendants(grader.pid)
    assert sandboxes  # the endless notebook's sandbox is running
    grader.send_signal(signal.SIGINT)
    _, err = grader.communicate(timeout=180)  # 60 s was too short on a loaded 2-core machine
    assert grader.returncode == 130
    assert b"interrupted: 1 of 2 notebooks graded" in err and b"Traceback" not in err
    assert list(read_rows(scores)) == ["a_quick.ipynb"]
    time.sleep(1)
    assert [pid for pid in sandboxes if alive(pid)] == []


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its parent to read its status does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc's parent links)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.mark.slow
def test_a_closed_pipe_loses_no_row(tmp_path: Path) -> None:
    """`drlab check tp1 … | head -c 1`: the reader leaves at once; grading goes on, every row is written."""
    for name in ("a.ipynb", "b.ipynb", "c.ipynb"):
        write_notebook(tmp_path / name, "x = 1")
    scores = tmp_path / "scores.csv"
    grader = drlab_process(
        "check", "tp1", str(tmp_path), "--csv", str(scores), "--timeout", "60", "--budget", "tiny",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert grader.stdout is not None
    grader.stdout.read(1)
    grader.stdout.close()  # the reader is gone
    _, err = grader.communicate(timeout=600)
    assert grader.returncode == 1  # graded; not every check passes
    assert b"Traceback" not in err
    assert sorted(read_rows(scores)) == ["a.ipynb", "b.ipynb", "c.ipynb"]


# --------------------------------------------------------------------------------------------------
# The TP1 notebooks, end to end (they train: slow)


@pytest.mark.slow
def test_seeded_mistake_through_the_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of the solution without zero_grad, graded end to end: exit 1, the right ✗ and its hint."""
    nb = nbformat.read(SOLUTION, as_version=4)
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
    assert "score: 13/14" in out


@pytest.mark.slow
def test_the_french_exercise_is_answered_in_french_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """metadata.drlab.lang = "fr": the report is French; --lang en gives the English one; the first
    ✗ names the cell by its number among the code cells and its first line."""
    exercise = shutil.copy(NOTEBOOKS / "fr" / "03_tp1_fashion_mnist.ipynb", tmp_path / "exercice.ipynb")
    nb = nbformat.read(exercise, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    (net_cell,) = [
        n for n, c in enumerate(code_cells, start=1) if "Net()" in c.source and "print(net)" in c.source
    ]
    assert len(code_cells) < len(nb.cells)  # markdown cells are not counted

    code = main(["check", "tp1", str(exercise), "--budget", "tiny", "--timeout", "300"])
    french = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert french.startswith("Vérification du TP1")
    assert f"La cellule de code {net_cell} (`# Look before you train" in french
    assert "`Net` n'est pas défini" in french or "NotImplementedError: TODO 1" in french
    assert "conséquence de l'échec ci-dessus" in french
    assert "score : 0/14 — 14 à corriger" in french  # the no-break space of French typography, as a space
    assert "encore à écrire : TODO 1, 2, 3, 4, 5" in french and "est-ce bien le notebook du TP1" not in french

    code = main(["check", "tp1", str(exercise), "--budget", "tiny", "--timeout", "300", "--lang", "en"])
    english = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert english.startswith("TP1 check") and f"code cell {net_cell} (`# Look before you train" in english
    assert "caused by the failure above" in english and "score: 0/14 — 14 to fix" in english


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
    assert "score: 0/14" in out
    assert "Traceback" not in out and "at `raise" not in out
    # the right notebook, not done yet: what is left, not "is it the TP1 notebook?"
    assert "still to write: TODO 1, 2, 3, 4, 5" in out and "is it the TP1 notebook" not in out


@pytest.mark.slow
def test_an_earlier_template_is_told_to_take_the_data_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook that loads Fashion-MNIST its own way (the template before the sandbox) finds no data in
    the sandbox: its crash names the data cell and load_tp1_dataset, the one loader that finds the images."""
    from test_check_mistakes import earlier_template

    copy = tmp_path / "earlier.ipynb"
    nbformat.write(earlier_template("en"), copy)
    code = main(["check", "tp1", str(copy), "--budget", "tiny", "--timeout", "300"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    first = out.split("✗", 1)[1]
    assert first.startswith(" the notebook runs top to bottom"), first[:300]
    assert "code cell 2 (" in first and "The mistake is in the data cell" in first
    assert "loads the images its own way (load_digits, load_fashion_mnist)" in first
    assert "caused by the failure above" in out  # the model trained on nothing the checker has
