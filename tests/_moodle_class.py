"""A synthetic Moodle class for the tests: students' notebooks made from the TP1 solution with seeded
mistakes, Moodle's "Download all submissions" zip and its grading worksheet, byte for byte as Moodle
writes them (see drlab.check.moodle for the source of each rule):

- the zip: ``FULL NAME_N_assignsubmission_file/FILE`` (downloaded "in folders", Moodle's default),
  ``FULL NAME_N_assignsubmission_file_FILE`` (flat), the name being "Participant" under blind marking and
  every "_" of a name a space; names stored in UTF-8 with the UTF-8 flag (as ZipStream writes them);
- the worksheet: a UTF-8 BOM, PHP fputcsv rows (',' '"', a field quoted when it holds a delimiter, a quote,
  a line break, a tab or a space), "\\n" line ends; identifiers "Participant N" (English) or "ParticipantN"
  (French); numbers with the site's decimal separator.

Also :func:`fake_grade_notebook`, a stand-in for the sandboxed grading in the format tests: it reads the
mistake a notebook was made with (its ``drlab_test`` metadata, written here) and returns the report the
checker gives for it (the first ✗ and its hint word, from test_check_tp1's table of seeded mistakes).
The sandboxed path itself is graded for real once, in test_check_moodle_e2e.py.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from drlab.check import runner
from drlab.check.report import CheckResult, NotebookReport
from drlab.cli import main
from test_check_tp1 import SEEDED_MISTAKES

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"
EXERCISE = ROOT / "notebooks" / "03_tp1_fashion_mnist.ipynb"
Mode = Literal["folders", "flat", "legacy"]

#: the mistakes handed out round the class (None: the solution as it is)
CLASS_MISTAKES: tuple[str | None, ...] = (
    None,
    "no zero_grad",
    "softmax then CrossEntropyLoss (in loss_fn)",
    "MSELoss on integer labels",
    "no model.train()",
    "no eval()",
    "softmax before CrossEntropyLoss (in forward)",
    "returns the last batch's loss",
    "accuracy on the training set",
    "softmax then CrossEntropyLoss (in loss_fn)",
)

FIRST_NAMES = ("Léa", "Hugo", "Chloé", "Nathan", "Manon", "Lucas", "Inès", "Jules", "Zoé", "Adam")
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
)


@dataclass
class Student:
    name: str
    number: int
    files: dict[str, bytes] = field(default_factory=dict)
    mistake: str | None = None
    lang: str = "en"


def notebook(mistake: str | None = None, lang: str = "en", extra: str = "") -> bytes:
    """The solution with the seeded ``mistake`` applied (cells found by id), as a student would hand it in."""
    nb = json.loads(SOLUTION.read_text(encoding="utf-8"))
    if mistake is not None:
        mutations = SEEDED_MISTAKES[mistake][0]
        cells = {cell.get("id"): cell for cell in nb["cells"]}
        for cell_id, old, new in mutations:
            source = "".join(cells[cell_id]["source"])
            assert source.count(old) == 1, (mistake, cell_id)
            cells[cell_id]["source"] = source.replace(old, new)
    if extra:
        nb["cells"].append({"cell_type": "code", "id": "student-extra", "metadata": {}, "outputs": [],
                            "execution_count": None, "source": extra})  # fmt: skip
    nb["metadata"]["drlab"] = {"lang": lang}
    nb["metadata"]["drlab_test"] = {"mistake": mistake}
    return json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")


def make_class(size: int = 30) -> tuple[list[Student], list[Student]]:
    """(students who handed something in, students in the worksheet who did not).

    Among those who did: one hands in two notebooks (``tp1.ipynb`` graded, ``brouillon.ipynb`` listed), one
    only a PDF (a row with 0), one a notebook and a README (listed), one has an underscore in the name
    (Moodle writes a space), a third of the class writes in French.
    """
    students = []
    for index in range(size):
        name = f"{FIRST_NAMES[index % 10]} {LAST_NAMES[(index * 3 + index // 10) % 10]}"
        if index == 4:
            name = "Jean_Paul O'Neil"
        mistake = CLASS_MISTAKES[index % len(CLASS_MISTAKES)]
        lang = "fr" if index % 3 == 2 else "en"
        student = Student(name=name, number=1000 + 37 * index, mistake=mistake, lang=lang)
        student.files["03_tp1_fashion_mnist.ipynb"] = notebook(mistake, lang)
        students.append(student)
    if size > 1:
        students[1].files = {"tp1.ipynb": notebook(None), "brouillon.ipynb": notebook("no eval()")}
        students[1].mistake = None
    if size > 2:
        students[2].files = {"rapport.pdf": b"%PDF-1.4 not a notebook\n"}
        students[2].mistake = "empty"
    if size > 3:
        students[3].files["README.txt"] = b"my notes\n"
    absent = [Student(name=f"Absent Student{k}", number=9000 + k) for k in range(3)]
    return students, absent


def moodle_prefix(student: Student, blind: bool) -> str:
    """downloader.php get_student_prefix(): the name (or "Participant"), '_' → ' ', then '_N'."""
    name = "Participant" if blind else student.name
    return f"{name.replace('_', ' ')}_{student.number}"


def write_submissions_zip(
    path: Path, students: list[Student], mode: Mode = "folders", blind: bool = False
) -> Path:
    """Moodle's "Download all submissions" for ``students``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for student in students:
            prefix = moodle_prefix(student, blind)
            for filename, data in student.files.items():
                if mode == "folders":
                    name = f"{prefix}_assignsubmission_file/{filename}"
                elif mode == "legacy":  # before Moodle 4.1: the prefix ended with '_'
                    name = f"{prefix}_assignsubmission_file_/{filename}"
                else:
                    name = f"{prefix}_assignsubmission_file_{filename}"
                archive.writestr(name, data)
    return path


def php_fputcsv(fields: list[str], delimiter: str = ",") -> str:
    """A row as PHP's fputcsv($fp, $fields, $delimiter, '"', '') writes it, with its "\\n"."""
    out = []
    for value in fields:
        if any(char in value for char in (delimiter, '"', "\n", "\r", "\t", " ")):
            value = '"' + value.replace('"', '""') + '"'
        out.append(value)
    return delimiter.join(out) + "\n"


HEADERS = {
    "en": ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade", "Grade can be changed",
           "Last modified (submission)", "Last modified (grade)", "Feedback comments"],
    "fr": ["Identifiant", "Nom complet", "Adresse de courriel", "Statut", "Note", "Note maximale",
           "La note peut être modifiée", "Dernière modification (travail remis)", "Dernière modification (note)",
           "Feedback par commentaires"],
}  # fmt: skip


def worksheet_bytes(
    students: list[Student], lang: str = "en", blind: bool = False, maximum: str = "20", feedback: bool = True
) -> bytes:
    """Moodle's "Download grading worksheet" for ``students`` (gradingtable.php's columns, in order)."""
    header = list(HEADERS[lang])
    if blind:  # without the capability to see identities: no name, no email
        del header[1:3]
    if not feedback:
        header = header[:-1]
    decimal = "," if lang == "fr" else "."
    rows = [php_fputcsv(header)]
    for student in students:
        identifier = ("Participant" if lang == "fr" else "Participant ") + str(student.number)
        submitted = bool(student.files)
        status = {("en", True): "Submitted for grading", ("en", False): "No submission",
                  ("fr", True): "Remis pour évaluation", ("fr", False): "Aucun travail remis"}[(lang, submitted)]  # fmt: skip
        when = "Monday, 6 January 2025, 10:14 AM" if lang == "en" else "lundi 6 janvier 2025, 10:14"
        fields = [identifier, student.name, f"{student.number}@example.org", status, "", f"{maximum}{decimal}00",
                  "Yes" if lang == "en" else "Oui", when if submitted else "-", "-", ""]  # fmt: skip
        if blind:
            del fields[1:3]
        if not feedback:
            fields = fields[:-1]
        rows.append(php_fputcsv(fields))
    return b"\xef\xbb\xbf" + "".join(rows).encode("utf-8")


def fake_grade_notebook(path: Path, settings: object, cancel: object = None) -> NotebookReport:
    """The report the checker gives a notebook of this module (its seeded mistake), without running it."""
    from drlab.check import tp1

    nb = json.loads(path.read_bytes())
    lang = nb.get("metadata", {}).get("drlab", {}).get("lang", "en")
    mistake = nb.get("metadata", {}).get("drlab_test", {}).get("mistake")
    failing, hint, consequences = (None, "", ())
    if mistake is not None:
        _, failing, hint, consequences = SEEDED_MISTAKES[mistake]
    checks = []
    for check_id, title in tp1.titles(lang).items():
        if check_id == failing:
            checks.append(CheckResult(check_id, title, False, f"{hint}: the seeded mistake “{mistake}”"))
        elif check_id in consequences:
            checks.append(
                CheckResult(check_id, title, False, "caused by the failure above", caused_by=failing or "")
            )
        else:
            checks.append(CheckResult(check_id, title, True, ""))
    return NotebookReport(
        notebook=str(path), status="ok", max_score=len(checks), checks=checks, seconds=1.0 + len(str(mistake)) / 10,
        facts={"budget": "tiny", "dataset": "fashion-mnist", "lang": lang}, sandbox="bwrap", lang=lang,
    )  # fmt: skip


# Moodle's strings (mod/assign/lang/*/assign.php, assignfeedback_comments, langconfig decsep)
SITE = {
    "en": {"id": "Identifier", "grade": "Grade", "max": "Maximum grade", "feedback": "Feedback comments",
           "hiddenuser": "Participant ", "decsep": "."},
    "fr": {"id": "Identifiant", "grade": "Note", "max": "Note maximale", "feedback": "Feedback par commentaires",
           "hiddenuser": "Participant", "decsep": ","},
}  # fmt: skip


def moodle_import(data: bytes, lang: str) -> dict[int, tuple[float | None, str]]:
    """What Moodle's "Upload grading worksheet" reads: participant number → (grade, feedback comment).

    csv_import_reader::load_csv_content (BOM stripped, "\\r\\n" → "\\n", fgetcsv ','), then importgradeslib
    (columns by exact name, substr(id, strlen(hiddenuser))), then unformat_float (decsep → '.', float).
    """
    text = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n").strip()
    rows = list(csv.reader(io.StringIO(text)))
    header, site = rows[0], SITE[lang]
    id_col, grade_col, feedback_col = (
        header.index(site["id"]),
        header.index(site["grade"]),
        header.index(site["feedback"]),
    )
    result = {}
    for row in rows[1:]:
        number = int(row[id_col][len(site["hiddenuser"]) :])
        raw = row[grade_col].strip().replace(" ", "")
        grade = float(raw.replace(site["decsep"], ".")) if raw else None
        result[number] = (grade, row[feedback_col])
    return result


def importzip_participant(name: str) -> int | None:
    """importziplib.php is_valid_filename_for_import(), line by line: the participant of a zip entry."""
    if name.split("/")[-1].startswith((".", "~")):
        return None
    for part in name.split("/"):
        info = part.split("_", 4)
        if len(info) < 4 or not info[1].isdigit():
            continue
        return int(info[1])
    return None


def copy_students(students: list[Student]) -> list[Student]:
    return copy.deepcopy(students)


@pytest.fixture
def stub_grading(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Grading stood in for: the report of each notebook's seeded mistake; returns the paths graded."""
    graded: list[Path] = []

    def grade(path: Path, settings: object, cancel: object = None) -> object:
        graded.append(path)
        return fake_grade_notebook(path, settings, cancel)

    monkeypatch.setattr(runner, "grade_notebook", grade)
    monkeypatch.setattr(runner, "_shared_files", lambda seed, budget: Path(os.devnull))
    return graded


def read_scores(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["notebook"]: row for row in csv.DictReader(handle)}


def run(*args: str) -> int:
    return main(["check", "tp1", *args, "--budget", "tiny"])
