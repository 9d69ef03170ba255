"""What each student gets back: a feedback page (HTML, in the notebook's language) and, for Moodle, the
short comment of the worksheet's Feedback-comments column and the zip of pages Moodle files per student.

Everything a notebook or a zip contributed (its name, a hint quoting an error message or an output) is
escaped (:func:`drlab.check.pages.esc`); the page runs no script and fetches nothing.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from drlab.check.intake import Submission
from drlab.check.messages import say
from drlab.check.moodle import feedback_entry_name
from drlab.check.pages import esc, page
from drlab.check.report import NotebookReport, verdict

#: a hint longer than this is cut in the worksheet's comment (the page has it whole)
COMMENT_HINT_CHARS = 300


@dataclass
class Returned:
    """One student's result, as it goes back: the report, the submission it came from, the grade."""

    report: NotebookReport
    submission: Submission | None = None
    grade: str = ""
    """the points written to the worksheet ("18.57"), when there is one"""
    maximum: str = ""


def feedback_page(returned: Returned, *, seed: int) -> str:
    """The student's page: score (and grade), every check with ✓/✗ and the hints, what was not graded."""
    report, submission, lang = returned.report, returned.submission, returned.report.lang
    facts = report.facts
    parts = [f"<h1>{esc(say(lang, 'feedback.title'))}</h1>"]
    parts.append(f'<p class="sub mono">{esc(say(lang, "feedback.notebook", name=report.notebook))}</p>')
    parts.append(
        f'<p class="score">{report.score}/{report.max_score} '
        f'<span class="{"ok" if report.passed else "ko"}" style="font-size:1rem">{esc(verdict(report))}</span></p>'
    )
    if returned.grade:
        parts.append(
            f"<p>{esc(say(lang, 'feedback.grade', grade=returned.grade, maximum=returned.maximum))}</p>"
        )
    notes = []
    if report.status == "unreadable":
        notes.append(say(lang, "feedback.nothing", problem=report.problem))
    elif report.problem:
        notes.append(report.problem)
    if facts.get("fashion_mnist_missing"):
        notes.append(say(lang, "report.digits"))
    if submission is not None and submission.other_notebooks:
        notes.append(
            say(
                lang,
                "feedback.others",
                rule=say(lang, "pick.rule"),
                names=", ".join(submission.other_notebooks),
            )
        )
    if submission is not None and submission.ignored:
        notes.append(say(lang, "feedback.ignored", names=", ".join(submission.ignored)))
    parts.extend(f'<p class="note">{esc(note)}</p>' for note in notes)
    if report.checks:
        parts.append(f"<h2>{esc(say(lang, 'feedback.checks'))}</h2><ul style='list-style:none;padding:0'>")
        for check in report.checks:
            mark = '<span class="ok">✓</span>' if check.passed else '<span class="ko">✗</span>'
            detail = ""
            if check.message:
                css = "hint" if not check.passed else "hint muted"
                detail = f'<div class="{css}">{esc(check.message)}</div>'
            parts.append(f"<li>{mark} {esc(check.title)}{detail}</li>")
        parts.append("</ul>")
    context = []
    if facts.get("dataset"):
        context.append(
            say(lang, "feedback.context", dataset=facts["dataset"], budget=facts.get("budget", ""), seed=seed)
        )
    if isinstance(facts.get("test_accuracy"), float) and isinstance(facts.get("threshold"), float):
        context.append(
            say(lang, "feedback.accuracy", accuracy=facts["test_accuracy"], threshold=facts["threshold"])
        )  # fmt: skip
    context.append(say(lang, "feedback.rerun"))
    parts.extend(f'<p class="muted">{esc(line)}</p>' for line in context)
    return page(say(lang, "feedback.title"), lang, "\n".join(parts))


def comment(returned: Returned) -> str:
    """The worksheet's Feedback-comments cell: the score and each root ✗ with its hint, as HTML (Moodle
    stores the cell as the comment's HTML text). Escaped, so it holds no '"' and no markup of the student's."""
    report, lang = returned.report, returned.report.lang
    head = say(lang, "comment.head", score=report.score, max_score=report.max_score)
    parts = [f"<p><strong>{esc(head)}</strong> — {esc(verdict(report))}</p>"]
    failed = [check for check in report.checks if not check.passed and not check.caused_by]
    if report.status == "unreadable":
        parts.append(f"<p>{esc(report.problem)}</p>")
    if failed:
        items = []
        for check in failed:
            hint = (
                check.message
                if len(check.message) <= COMMENT_HINT_CHARS
                else check.message[: COMMENT_HINT_CHARS - 1] + "…"
            )
            items.append(f"<li>✗ {esc(check.title)}" + (f"<br>{esc(hint)}" if hint else "") + "</li>")
        parts.append("<ul>" + "".join(items) + "</ul>")
    parts.append(f"<p>{esc(say(lang, 'comment.details'))}</p>")
    return "".join(parts)


def page_name(returned: Returned, taken: set[str]) -> str:
    """A file name for the page outside Moodle: the notebook's stem, made safe and unique."""
    stem = PurePosixPath(returned.report.notebook).stem or "notebook"
    safe = (
        "".join(char if char.isalnum() or char in "-_. " else "_" for char in stem).strip(" .") or "notebook"
    )
    name = f"{safe[:80]}.html"
    counter = 2
    while name in taken:
        name = f"{safe[:80]}-{counter}.html"
        counter += 1
    taken.add(name)
    return name


def write_feedback_zip(returned: Sequence[Returned], path: Path, *, seed: int) -> int:
    """Moodle's "Upload multiple feedback files in a zip": one page per participant, in the folder
    ``NAME_N_assignfeedback_file/`` importziplib.php reads the participant from. Returns the page count."""
    from drlab.common.io import atomic_write

    count = 0
    with atomic_write(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in returned:
            if item.submission is None or item.submission.participant is None:
                continue
            lang = item.report.lang
            name = feedback_entry_name(
                item.submission.label, item.submission.participant, say(lang, "feedback.file")
            )
            info = zipfile.ZipInfo(
                name, date_time=(2020, 1, 1, 0, 0, 0)
            )  # the same bytes for the same grading
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # a regular file, readable
            archive.writestr(info, feedback_page(item, seed=seed))
            count += 1
    return count


def write_feedback_folder(returned: Sequence[Returned], folder: Path, *, seed: int) -> int:
    """Without Moodle: ``folder/NOTEBOOK.html``, one page per notebook. Returns the page count."""
    from drlab.common.io import write_text_atomic

    folder.mkdir(exist_ok=True)
    taken: set[str] = set()
    for item in returned:
        write_text_atomic(folder / page_name(item, taken), feedback_page(item, seed=seed))
    return len(returned)


__all__ = ["Returned", "comment", "feedback_page", "write_feedback_folder", "write_feedback_zip"]
