"""The Moodle round trip, format by format: a synthetic class of 30 (tests/_moodle_class.py) in Moodle's
zip and worksheet, in both download modes, blind marking, English and French sites; the hostile zips;
the run-folder rules.

The grading itself is stood in for by ``fake_grade_notebook`` (the report the checker gives each seeded
mistake): these tests are about what goes in and out. The sandboxed grading of a Moodle zip is run for
real in test_check_moodle_e2e.py. Moodle's reading of the filled worksheet is re-implemented here from its
source (csv_import_reader + importgradeslib + unformat_float), with Python's csv module, as the oracle.
"""

from __future__ import annotations

import csv
import io
import os
import random
import zipfile
from pathlib import Path

import pytest

from _moodle_class import (
    SITE,
    Student,
    importzip_participant,
    make_class,
    moodle_import,
    notebook,
    read_scores,
    run,
    stub_grading,
    worksheet_bytes,
    write_submissions_zip,
)
from drlab.check.moodle import (
    csv_field,
    feedback_entry_name,
    format_grade,
    participant_of,
    read_worksheet,
    tokenize,
)
from drlab.common.errors import UsageError

__all__ = ["stub_grading"]  # a fixture, imported for the tests below

# --------------------------------------------------------------------------------------------------
# The round trip of a class of 30


@pytest.mark.parametrize(
    ("mode", "lang", "blind", "unpacked"),
    [
        ("folders", "en", False, False),
        ("flat", "fr", False, False),
        ("folders", "fr", True, False),
        ("legacy", "en", False, False),
        ("flat", "en", True, False),
        ("folders", "fr", False, True),  # the folder the zip unpacks to
        ("flat", "en", True, True),
    ],
)
def test_a_class_of_30_round_trips_through_moodle(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str],
    mode: str, lang: str, blind: bool, unpacked: bool,
) -> None:  # fmt: skip
    students, absent = make_class(30)
    zip_path = write_submissions_zip(tmp_path / "submissions.zip", students, mode, blind)  # type: ignore[arg-type]
    if unpacked:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp_path / "submissions")  # our own zip: safe to unpack
        zip_path.unlink()
        zip_path = tmp_path / "submissions"
    sheet_name = "Grading worksheet-TP1-42.csv"
    original = worksheet_bytes(absent[:1] + students + absent[1:], lang, blind)
    (tmp_path / sheet_name).write_bytes(original)
    before = os.stat(tmp_path / sheet_name)

    code = run(str(zip_path), "--moodle", str(tmp_path / sheet_name), "--out", str(tmp_path / "graded"))

    assert code == 1  # not every notebook passes
    assert (tmp_path / sheet_name).read_bytes() == original  # the export is never modified
    assert os.stat(tmp_path / sheet_name).st_mtime_ns == before.st_mtime_ns
    graded = tmp_path / "graded"
    assert sorted(p.name for p in graded.iterdir()) == sorted(
        [
            ".drlab-run.json",
            sheet_name,
            "feedback.zip",
            "scores.csv",
            "report.html",
            "scores.png",
            "checks.png",
            "seconds.png",
        ]
    )
    filled = (graded / sheet_name).read_bytes()
    assert filled.startswith(b"\xef\xbb\xbf")
    assert filled.split(b"\n", 1)[0] == original.split(b"\n", 1)[0]  # the header, byte for byte

    # every student who handed something in: the score of drlab's CSV, re-imported as Moodle reads it
    scores = read_scores(graded / "scores.csv")
    assert len(scores) == 30
    imported = moodle_import(filled, lang)
    for student in students:
        grade, feedback = imported[student.number]
        row = next(
            row
            for key, row in scores.items()
            if key.startswith(
                f"{('Participant' if blind else student.name.replace('_', ' '))}_{student.number}"
            )
        )
        assert grade is not None and round(grade * int(row["max_score"]) / 20) == int(row["score"])
        assert feedback.startswith("<p><strong>TP1") and f"{row['score']}/14" in feedback
        if student.mistake == "empty":
            assert grade == 0 and row["status"] == "unreadable" and "rapport.pdf" in feedback
    # students absent from the zip: their lines untouched, byte for byte
    for student in absent:
        line = next(
            line
            for line in original.split(b"\n")
            if f"Participant{'' if lang == 'fr' else ' '}{student.number}".encode() in line
        )
        assert line in filled.split(b"\n")
        assert imported[student.number] == (None, "")
    # every other column of every row, as it was
    parse = lambda data: list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))  # noqa: E731
    old_rows, new_rows = parse(original), parse(filled)
    header = old_rows[0]
    changed = {header.index(SITE[lang]["grade"]), header.index(SITE[lang]["feedback"])}
    assert len(old_rows) == len(new_rows)
    for old, new in zip(old_rows, new_rows, strict=True):
        assert [v for i, v in enumerate(old) if i not in changed] == [
            v for i, v in enumerate(new) if i not in changed
        ]

    # the feedback zip: one page per student who handed something in, where importziplib files it
    with zipfile.ZipFile(graded / "feedback.zip") as archive:
        names = archive.namelist()
        by_number = {importzip_participant(name): name for name in names}
        assert set(by_number) == {student.number for student in students} and len(names) == 30
        for student in students:
            page = archive.read(by_number[student.number]).decode("utf-8")
            expected = (
                "tp1-retour.html"
                if student.lang == "fr" and student.mistake != "empty"
                else "tp1-feedback.html"
            )
            assert by_number[student.number].endswith("_assignfeedback_file/" + expected)
            assert by_number[student.number].startswith(
                "Participant_" if blind else student.name.replace("_", " ")
            )
            assert ('lang="fr"' in page) == (expected == "tp1-retour.html")
    out = capsys.readouterr()
    total = len(students) + len(absent)
    assert (
        f"(rows filled: 30 of {total};" in out.out
        or f"(lignes remplies\u00a0: 30 sur {total}\u00a0;" in out.out
    )


def test_without_moodle_out_writes_pages_report_and_scores(tmp_path: Path, stub_grading: list[Path]) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, mistake in (
        ("alice.ipynb", None),
        ("bob.ipynb", "no eval()"),
        ("carol.ipynb", "MSELoss on integer labels"),
    ):
        (folder / name).write_bytes(notebook(mistake))
    assert run(str(folder), "--out", str(tmp_path / "graded")) == 1
    graded = tmp_path / "graded"
    assert sorted(p.name for p in (graded / "feedback").iterdir()) == ["alice.html", "bob.html", "carol.html"]
    assert {row["notebook"]: row["score"] for row in read_scores(graded / "scores.csv").values()} == {
        "alice.ipynb": "14", "bob.ipynb": "13", "carol.ipynb": "13",
    }  # fmt: skip
    assert (graded / "report.html").is_file() and not (graded / "feedback.zip").exists()


# --------------------------------------------------------------------------------------------------
# Moodle's names


@pytest.mark.parametrize(
    ("name", "number", "label", "rest"),
    [
        ("Léa Martin_1000_assignsubmission_file/tp1.ipynb", 1000, "Léa Martin", "tp1.ipynb"),
        ("Léa Martin_1000_assignsubmission_file_tp1.ipynb", 1000, "Léa Martin", "tp1.ipynb"),
        ("Léa Martin_1000_assignsubmission_file_/sub/tp1.ipynb", 1000, "Léa Martin", "sub/tp1.ipynb"),
        ("Participant_77_assignsubmission_file/mon_tp1.ipynb", 77, "Participant", "mon_tp1.ipynb"),
        ("Participant_77_assignsubmission_onlinetext/onlinetext.html", 77, "Participant", "onlinetext.html"),
        ("Jean Paul_5_assignsubmission_file_a_b_c.ipynb", 5, "Jean Paul", "a_b_c.ipynb"),
    ],
)
def test_participant_of_reads_moodles_names(name: str, number: int, label: str, rest: str) -> None:
    who = participant_of(name)
    assert who is not None and (who.number, who.label, who.rest) == (number, label, rest)
    assert importzip_participant(name) == number


@pytest.mark.parametrize(
    "name", ["tp1.ipynb", "alice_tp1.ipynb", "a_b_c.ipynb", "x_-1_y_z.ipynb", "x_1.5_y_z"]
)
def test_names_without_a_participant_number(name: str) -> None:
    assert participant_of(name) is None


@pytest.mark.parametrize(
    "label", ["Léa Martin", "Jean_Paul", "a/b", "Participant", ".hidden", "~tmp", "", "x\ny"]
)
def test_feedback_entries_parse_back_to_their_participant(label: str) -> None:
    name = feedback_entry_name(label, 4242, "tp1-feedback.html")
    assert importzip_participant(name) == 4242
    who = participant_of(name)
    assert who is not None and who.number == 4242 and who.rest == "tp1-feedback.html" and "_" not in who.label


# --------------------------------------------------------------------------------------------------
# The worksheet: read as CSV, filled by splicing


def test_tokenizer_agrees_with_pythons_csv_reader() -> None:
    rng = random.Random(0)
    alphabet = ["a", "é", " ", ",", ";", '"', "\n", "\r\n", "=", "1", "\t", "'"]
    for _ in range(300):
        rows = [
            ["".join(rng.choice(alphabet) for _ in range(rng.randrange(6))) for _ in range(4)]
            for _ in range(3)
        ]
        buffer = io.StringIO()
        csv.writer(
            buffer,
            lineterminator=rng.choice(["\n", "\r\n"]),
            quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
        ).writerows(rows)
        text = buffer.getvalue()
        records = tokenize(text, ",")
        assert [[value for _, _, value in record] for record in records] == list(
            csv.reader(io.StringIO(text, newline=""))
        )
        for record in records:  # a span's text is the field as written
            for start, end, value in record:
                assert text[start:end] in (value, csv_field(value, ","), '"' + value.replace('"', '""') + '"')


def test_filling_keeps_every_other_byte_crlf_semicolon_no_bom(tmp_path: Path) -> None:
    text = (
        'Identifier;"Full name";Grade;"Maximum grade";"Last modified (grade)";Notes;"Feedback comments"\r\n'
        '"Participant 7";"Ann ""A"" Lee";;"20,00";-;"kept; as\r\nit was";\r\n'
        '"Participant 8";Bo;"12,5";"20,00";-;x;"old"\r\n'
    )
    path = tmp_path / "w.csv"
    path.write_bytes(text.encode("utf-8"))
    sheet = read_worksheet(path)
    assert sheet.delimiter == ";" and sheet.decimal_separator == "," and not sheet.bom
    filled = sheet.filled({7: ("18,57", '<p>a "quote"; and more</p>')}).decode("utf-8")
    assert filled == text.replace(
        '"Participant 7";"Ann ""A"" Lee";;"20,00";-;"kept; as\r\nit was";',
        '"Participant 7";"Ann ""A"" Lee";18,57;"20,00";-;"kept; as\r\nit was";"<p>a ""quote""; and more</p>"',
    )


@pytest.mark.parametrize(
    ("score", "maximum", "separator", "expected"),
    [(13, "20", ".", "18.57"), (13, "20", ",", "18,57"), (14, "100", ".", "100.00"), (0, "20", ".", "0.00"),
     (1, "100", ".", "7.14"), (7, "10", ".", "5.00"), (1, "14", ",", "1,00")],
)  # fmt: skip
def test_grades_are_points_out_of_the_maximum(
    score: int, maximum: str, separator: str, expected: str
) -> None:
    from decimal import Decimal

    grade = format_grade(score, 14, Decimal(maximum), separator)
    assert grade == expected
    assert round(float(grade.replace(",", ".")) * 14 / float(maximum)) == score  # re-imported: the score back


def _sheet(tmp_path: Path, header: str, row: str = '"Participant 1",Ann,,20.00,-,') -> Path:
    path = tmp_path / "sheet.csv"
    path.write_bytes(("\ufeff" + header + "\n" + row + "\n").encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("header", "row", "columns", "message"),
    [
        ("Kennung,Vollständiger Name,Bewertung,Bestwertung", None, None,
         "its columns: “Kennung”, “Vollständiger Name”, “Bewertung”, “Bestwertung”); name them with --moodle-columns"),
        ("Identifier,Full name,Grade,Scale,Last modified (grade)", '"Participant 1",Ann,,"A,B",-', None,
         "graded on a scale"),
        ("Identifier,Full name,Grade,Last modified (grade)", '"Participant 1",Ann,,-', None, "no “Maximum grade” column"),
        ("Identifier,Full name,Grade,Maximum grade", '"Participant 1",Ann,,20.00', None, "no “Last modified (grade)”"),
        ("Identifier,Full name,Grade,Maximum grade,Last modified (grade)", '"Participant 1",Ann,,20.00', None,
         "record 2 has 4 fields where the header has 5"),
        ("Identifier,Full name,Grade,Maximum grade,Last modified (grade)", '"Participant 1",Ann,,twenty,-', None,
         "is not a number"),
        ("Identifier,Grade,Maximum grade", '"Participant 1",,20', "Identifier,Grade", "give 3 or 4 column names"),
    ],
)  # fmt: skip
def test_worksheets_that_cannot_be_filled_are_refused_in_one_line(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str], header: str, row: str | None,
    columns: str | None, message: str,
) -> None:  # fmt: skip
    sheet = _sheet(tmp_path, header, row) if row else _sheet(tmp_path, header, '"Participant 1",Ann,,20')
    students, _ = make_class(2)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    extra = ["--moodle-columns", columns] if columns else []
    assert run(str(zip_path), "--moodle", str(sheet), "--out", str(tmp_path / "graded"), *extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (
        not stub_grading and not (tmp_path / "graded").exists()
    )  # refused before anything ran or was written


def test_a_worksheet_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes('Identifier,Grade\n"Participant 1",é\n'.encode("cp1252"))
    with pytest.raises(UsageError, match="not UTF-8"):
        read_worksheet(path)


def test_another_language_site_with_moodle_columns(tmp_path: Path, stub_grading: list[Path]) -> None:
    students, _ = make_class(3)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    lines = ["Kennung,Bewertung,Bestwertung,Zuletzt geändert (Bewertung),Feedback als Kommentar"]
    lines += [f'"Teilnehmer/in {s.number}",,"20.00",-,' for s in students]
    (tmp_path / "bewertung.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    columns = "Kennung,Bewertung,Bestwertung,Feedback als Kommentar"
    assert (
        run(
            str(zip_path),
            "--moodle",
            str(tmp_path / "bewertung.csv"),
            "--moodle-columns",
            columns,
            "--out",
            str(tmp_path / "g"),
        )
        == 1
    )
    rows = list(csv.reader(io.StringIO((tmp_path / "g" / "bewertung.csv").read_text(encoding="utf-8"))))
    assert (
        rows[1][1] == "20.00"
        and rows[1][4].startswith("<p>")
        and rows[2][1] == "20.00"
        and rows[3][1] == "0.00"
    )


def test_without_a_feedback_column_only_grades_are_filled(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    students, _ = make_class(3)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    original = worksheet_bytes(students, "en", feedback=False)
    (tmp_path / "w.csv").write_bytes(original)
    assert run(str(zip_path), "--moodle", str(tmp_path / "w.csv"), "--out", str(tmp_path / "g")) == 1
    assert "no “Feedback comments” column" in capsys.readouterr().err
    filled = (tmp_path / "g" / "w.csv").read_bytes()
    assert filled.replace(b",20.00,20.00,", b",,20.00,").replace(b",0.00,20.00,", b",,20.00,") == original


# --------------------------------------------------------------------------------------------------
# The run folder: drlab's rules (common/rundir.py)


def test_the_run_folder_rules(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    students, absent = make_class(3)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    (tmp_path / "w.csv").write_bytes(worksheet_bytes(students + absent))
    graded = tmp_path / "graded"
    graded.mkdir()
    (graded / "thesis.txt").write_text("mine")
    args = [str(zip_path), "--moodle", str(tmp_path / "w.csv"), "--out", str(graded)]
    assert (
        run(*args) == 2 and "not a drlab run folder" in capsys.readouterr().err
    )  # a folder with foreign files
    (graded / "thesis.txt").unlink()
    assert run(*args) == 1
    (graded / "thesis.txt").write_text("mine")  # the user's file beside drlab's
    assert run(*args) == 2 and "pass --force" in capsys.readouterr().err
    assert run(*args, "--force") == 1
    assert (graded / "thesis.txt").read_text() == "mine" and (graded / "w.csv").is_file()
    # the worksheet or the submissions inside --out: refused (drlab never writes over its inputs)
    assert run(str(zip_path), "--moodle", str(graded / "w.csv"), "--out", str(graded), "--force") == 2
    assert "is inside --out" in capsys.readouterr().err
    assert run(str(zip_path), "--moodle", str(tmp_path / "w.csv")) == 2
    assert "--moodle needs --out" in capsys.readouterr().err


def test_submissions_with_no_row_in_the_worksheet(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    students, _ = make_class(4)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    (tmp_path / "w.csv").write_bytes(worksheet_bytes(students[:3]))
    assert run(str(zip_path), "--moodle", str(tmp_path / "w.csv"), "--out", str(tmp_path / "g")) == 1
    assert "no row in the worksheet, not imported (1): Nathan" in capsys.readouterr().err
    (tmp_path / "other.csv").write_bytes(worksheet_bytes([Student("X", 1), Student("Y", 2)]))
    assert run(str(zip_path), "--moodle", str(tmp_path / "other.csv"), "--out", str(tmp_path / "g2")) == 2
    assert "none of the 4 submissions has a row in it" in capsys.readouterr().err


def test_a_zip_without_out_is_graded_and_printed_only(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    students, _ = make_class(3)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    assert run(str(zip_path), "--csv", str(tmp_path / "scores.csv")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zip", "scores.csv"]  # nothing else written
    out = capsys.readouterr().out
    assert "score: 14/14" in out and "score: 0/14 — not graded" in out
    assert len(read_scores(tmp_path / "scores.csv")) == 3
