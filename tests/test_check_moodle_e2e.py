"""The Moodle round trip for real, once: a small class in Moodle's zip graded in the sandbox (tiny
budget), the worksheet filled and re-imported as Moodle reads it, and the class report and an attacker's
feedback page opened in a real browser (Debian's headless Chromium).

The class: the solution (English), a loss mistake (French), a notebook that attacks the pages (a
``<script>`` in its file name and its output, an ``<img onerror>`` in its error message), a notebook
that crashes, a PDF instead of a notebook.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from _browser import look
from _moodle_class import (
    SITE,
    Student,
    importzip_participant,
    moodle_import,
    notebook,
    worksheet_bytes,
    write_submissions_zip,
)
from drlab.cli import main

# a class graded in real sandboxes and two pages in Chromium (≈ 20 s): its fast twins are test_check_moodle
# (the same round trip with the grading stubbed) and test_check_classreport (the pages, escaped)
pytestmark = pytest.mark.slow

SCRIPT = "<script>document.body.dataset.pwned='1'</script>"
IMG = "<img src=x onerror=\"document.body.dataset.pwned='2'\">"
ATTACKER_FILE = "<img src=x onerror=alert(1)>.ipynb"  # no '/' in a file name


def attacker_notebook() -> bytes:
    """Prints a script, then raises an error whose message is an <img onerror>."""
    return notebook(extra=f"print({SCRIPT!r})\nraise ValueError({IMG!r})")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("moodle_e2e")
    crash = notebook().replace(b'"import os', b'"import no_such_module_anywhere\\nimport os', 1)
    students = [
        Student("Léa Martin", 1000, {"03_tp1_fashion_mnist.ipynb": notebook()}),
        Student(
            "Hugo Dubois",
            1037,
            {"tp1.ipynb": notebook("softmax then CrossEntropyLoss (in loss_fn)", lang="fr")},
            lang="fr",
        ),
        Student(f"Mallory {SCRIPT[:8]}", 1074, {ATTACKER_FILE: attacker_notebook()}),
        Student("Zoé Petit", 1111, {"tp1.ipynb": crash}),
        Student("Adam Leroy", 1148, {"rapport.pdf": b"%PDF-1.4\n"}),
    ]
    write_submissions_zip(folder / "submissions.zip", students)
    (folder / "worksheet.csv").write_bytes(worksheet_bytes([*students, Student("Absent", 9000)], "fr"))
    code = main([
        "check", "tp1", str(folder / "submissions.zip"), "--moodle", str(folder / "worksheet.csv"),
        "--out", str(folder / "graded"), "--budget", "tiny", "--jobs", "2",
    ])  # fmt: skip
    assert code == 1
    return folder


def test_the_sandboxed_grading_of_a_moodle_zip_round_trips(graded_class: Path) -> None:
    graded = graded_class / "graded"
    with open(graded / "scores.csv", newline="", encoding="utf-8") as handle:
        rows = {row["notebook"].split("_")[1]: row for row in csv.DictReader(handle)}
    assert rows["1000"]["score"] == "14" and rows["1000"]["status"] == "ok"
    assert rows["1037"]["first_problem"].startswith("loss_fn:") and rows["1037"]["score"] == "13"
    assert rows["1074"]["runs"] == "0" and "ValueError" in rows["1074"]["first_problem"]
    assert rows["1111"]["runs"] == "0" and "no_such_module_anywhere" in rows["1111"]["first_problem"]
    assert rows["1148"]["score"] == "0" and rows["1148"]["status"] == "unreadable"
    # re-imported as Moodle reads the worksheet: the scores of drlab's CSV, out of the maximum (20)
    imported = moodle_import((graded / "worksheet.csv").read_bytes(), "fr")
    for number, row in rows.items():
        grade, feedback = imported[int(number)]
        assert grade is not None and round(grade * 14 / 20) == int(row["score"]) and feedback
    assert imported[9000] == (None, "")
    with zipfile.ZipFile(graded / "feedback.zip") as archive:
        assert {importzip_participant(name) for name in archive.namelist()} == {1000, 1037, 1074, 1111, 1148}
        hugo = next(name for name in archive.namelist() if "_1037_" in name)
        assert hugo.endswith("tp1-retour.html") and "Pour vérifier vous-même" in archive.read(hugo).decode()
    assert (
        SITE["fr"]["feedback"] in (graded / "worksheet.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    )


# --------------------------------------------------------------------------------------------------
# In a real browser


def open_in_chromium(page: Path, workdir: Path) -> tuple[Path, str, str]:
    """(screenshot, the DOM after load, the console's lines) of ``page`` in a fresh headless Chromium."""
    shot = workdir / f"{page.stem}.png"
    dom, console = look(page.as_uri(), shot)
    return shot, dom, console


def not_blank(shot: Path) -> float:
    """The share of the screenshot's pixels that are not the background."""
    from PIL import Image

    histogram = Image.open(shot).convert("L").histogram()  # 256 counts of grey levels
    return sum(histogram[:240]) / sum(histogram)


def script_errors(console: str) -> list[str]:
    return [
        line
        for line in console.splitlines()
        if "Uncaught" in line or "Refused to" in line or "violates" in line
    ]


def test_the_browser_check_sees_a_script_error_when_there_is_one(tmp_path: Path) -> None:
    """The oracle checked first: a page whose script throws, and one whose inline script our policy blocks."""
    from drlab.check.pages import page

    thrower = tmp_path / "thrower.html"
    thrower.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('boom')</script></body></html>"
    )
    blocked = tmp_path / "blocked.html"
    blocked.write_text(page("t", "en", "<p>x</p><script>document.body.dataset.pwned='1'</script>"))
    assert any("boom" in line for line in script_errors(open_in_chromium(thrower, tmp_path)[2]))
    _shot, dom, console = open_in_chromium(blocked, tmp_path)
    assert script_errors(console) and "data-pwned" not in dom  # the policy stopped it, and said so


def test_the_class_report_and_an_attackers_feedback_page_in_chromium(
    graded_class: Path, tmp_path: Path
) -> None:
    graded = graded_class / "graded"
    with zipfile.ZipFile(graded / "feedback.zip") as archive:
        name = next(name for name in archive.namelist() if "_1074_" in name)
        feedback = tmp_path / "attacker-feedback.html"
        feedback.write_bytes(archive.read(name))
    for page, words in ((graded / "report.html", "TP1 — class report"), (feedback, "TP1 — feedback")):
        shot, dom, console = open_in_chromium(page, tmp_path)
        assert not_blank(shot) > 0.01, f"{page.name}: the screenshot is blank"
        assert script_errors(console) == [], console
        assert words in dom
        assert "data-pwned" not in dom  # no script of the student's ran
        assert "&lt;img src=x onerror=" in dom  # the attacker's file name and error message, shown as text
    assert "&lt;script&gt;" in (graded / "report.html").read_text(encoding="utf-8")
    shutil.copy(
        shot, graded_class / "feedback-screenshot.png"
    )  # for a human look: kept with the fixture's files


def test_the_report_made_from_the_csv_opens_too(graded_class: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "check",
                "report",
                str(graded_class / "graded" / "scores.csv"),
                "--out",
                str(tmp_path / "r"),
                "--lang",
                "fr",
            ]
        )
        == 0
    )
    shot, dom, console = open_in_chromium(tmp_path / "r" / "report.html", tmp_path)
    assert not_blank(shot) > 0.01 and script_errors(console) == [] and "rapport de la classe" in dom
    buffer = io.StringIO((graded_class / "graded" / "scores.csv").read_text(encoding="utf-8"))
    assert len(list(csv.DictReader(buffer))) == 5
