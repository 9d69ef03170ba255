"""``--csv`` into a gradebook: drlab updates its own columns and loses nothing of the instructor's (issue 23, item 3).

An instructor opens drlab's score sheet in a spreadsheet, adds columns ("final grade", "comments") and
rows (a student graded by hand), saves it — with a French Excel: semicolons, a byte-order mark, CRLF —
and later grades late submissions into the same file. Every cell of theirs must survive, byte for byte
where drlab did not write. The oracle is the file itself, read back with Python's csv module.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from drlab.check.report import CheckResult, NotebookReport, check_csv_target, score_columns, write_scores_csv
from drlab.check.scoresheet import merge, read_sheet, render
from drlab.cli import main

CHECKS = ["runs", "net_output"]


def report(name: str, score: int, problem: str = "") -> NotebookReport:
    checks = [CheckResult(check_id, check_id, index < score) for index, check_id in enumerate(CHECKS)]
    return NotebookReport(notebook=name, status="ok", max_score=len(CHECKS), checks=checks, problem=problem)


def rows_of(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def instructor_edits(path: Path) -> None:
    """Two columns of the instructor's, a comment with a comma, quotes and a new line, a row by hand,
    the rows re-ordered (as a spreadsheet saves them)."""
    rows = rows_of(path)
    header = [*list(rows[0]), "final grade", "comments"]
    rows[0] |= {"final grade": "15.5", "comments": 'good, but "late"\nsee email'}
    rows[1] |= {"final grade": "=B2*2", "comments": ""}  # the instructor's own formula: theirs to keep
    handmade = dict.fromkeys(header, "") | {
        "notebook": "carol (on paper)",
        "score": "12",
        "final grade": "12",
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows([rows[1], handmade, rows[0]])


def test_regrading_into_an_edited_sheet_keeps_every_cell_of_the_instructor(tmp_path: Path) -> None:
    sheet = tmp_path / "scores.csv"
    write_scores_csv([report("alice.ipynb", 1), report("bob.ipynb", 2)], sheet, CHECKS)
    instructor_edits(sheet)
    before = rows_of(sheet)
    assert check_csv_target(sheet) is None  # accepted: it is a score sheet

    # late submissions: alice again (now 2/2), and dave, new
    write_scores_csv([report("alice.ipynb", 2), report("dave.ipynb", 0, "late")], sheet, CHECKS)

    after = rows_of(sheet)
    assert [row["notebook"] for row in after] == [
        "bob.ipynb",
        "carol (on paper)",
        "alice.ipynb",
        "dave.ipynb",
    ]
    assert after[:2] == before[:2]  # bob's and carol's rows: every cell as it was
    alice = after[2]
    assert alice["score"] == "2" and alice["net_output"] == "1"  # drlab's columns: the new grading
    assert alice["final grade"] == "15.5" and alice["comments"] == 'good, but "late"\nsee email'
    assert after[0]["final grade"] == "=B2*2"  # not "neutralised": the instructor wrote it
    assert after[3]["first_problem"] == "late" and after[3]["final grade"] == ""
    assert list(after[0]) == [*score_columns(CHECKS), "final grade", "comments"]


def test_a_spreadsheets_dialect_and_the_files_permissions_are_kept(tmp_path: Path) -> None:
    """Excel in French saves CSV with semicolons, a byte-order mark and CRLF line endings."""
    sheet = tmp_path / "notes.csv"
    header = [*score_columns(CHECKS), "note finale"]
    alice = dict.fromkeys(header, "") | {"notebook": "alice.ipynb", "score": "1", "note finale": "14,5"}
    lines = [";".join(header), ";".join(alice.values())]
    sheet.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    os.chmod(sheet, 0o600)

    write_scores_csv([report("bob.ipynb", 2)], sheet, CHECKS)

    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 3 and raw.count(b"\n") == 3
    rows = rows_of(sheet, delimiter=";")
    assert rows[0]["note finale"] == "14,5" and rows[1]["notebook"] == "bob.ipynb"
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600  # a private gradebook stays private


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"student,exam\nalice,17\n", "not a drlab score sheet"),
        ("notebook,score,commentaire\nalice.ipynb,2,tr\xe8s bien\n".encode("cp1252"), "not UTF-8"),
        (b'notebook,score\n"alice.ipynb,2\n', "not a drlab score sheet"),  # an unclosed quote
    ],
)
def test_a_file_drlab_cannot_update_is_refused_before_grading_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, reason: str
) -> None:
    gradebook = tmp_path / "grades.csv"
    gradebook.write_bytes(content)
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    assert main(["check", "tp1", str(notebook), "--csv", str(gradebook)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --csv") and reason in err[0]
    assert gradebook.read_bytes() == content


def test_an_edit_made_during_a_grading_is_kept(tmp_path: Path) -> None:
    """The sheet is re-read before each write: a comment typed while the class is being graded stays."""
    sheet = tmp_path / "scores.csv"
    write_scores_csv([report("alice.ipynb", 1)], sheet, CHECKS)
    text = sheet.read_text(encoding="utf-8").splitlines()
    sheet.write_text(f"{text[0]},comments\n{text[1]},typed meanwhile\n", encoding="utf-8")
    write_scores_csv([report("alice.ipynb", 1), report("bob.ipynb", 2)], sheet, CHECKS)
    rows = rows_of(sheet)
    assert rows[0]["comments"] == "typed meanwhile" and rows[1]["notebook"] == "bob.ipynb"


def test_a_cell_with_a_carriage_return_stays_in_its_row() -> None:
    """An instructor's cell holding a bare CR is quoted (Python quotes it only when the line ending has
    one), so that no reader splits the row there."""
    sheet = merge(
        read_sheet(Path("/nonexistent/x.csv")), [{"notebook": "a", "score": 1}], ["notebook", "score"]
    )
    sheet.header.append("note")
    sheet.rows[0].append("line one\rline two")
    text = render(sheet).decode()
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["notebook", "score", "note"],
        ["a", "1", "line one\rline two"],
    ]
