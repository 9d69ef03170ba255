"""The class report: what a whole class got right and missed, as one self-contained HTML page and PNGs.

Made from the reports of a grading, or from a drlab score sheet (``scores.csv``) without grading again:
both become :class:`ClassRow` records, and everything after that is one path. Sections: the score
histogram; each check's pass rate; for each check, the causes its hint named over the notebooks whose
*first* ✗ it is (the score sheet keeps exactly that one: ``first_problem``); the notebooks that crashed,
timed out or ran without a sandbox; the time per notebook; the submissions that look alike (from the
notebooks, when there are some); the files not graded; the worksheet filled.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drlab.check.intake import Submission
from drlab.check.messages import format_percent, say
from drlab.check.pages import esc, page, png_data_uri
from drlab.check.report import CSV_BASE, NotebookReport
from drlab.check.similarity import THRESHOLD, Pair
from drlab.common.errors import UsageError

#: the pictures written beside report.html (and inlined in it)
PICTURES = ("scores.png", "checks.png", "seconds.png")
#: a row of the report's tables lists at most this many names
MAX_NAMES = 40


@dataclass
class ClassRow:
    """One notebook of the class, as the report needs it (from a report or a score-sheet row)."""

    notebook: str
    status: str
    score: int
    max_score: int
    seconds: float
    sandbox: str
    passed: dict[str, bool]
    first_failure: tuple[str, str] | None
    """(check id, hint) of the first ✗: a root cause (the later ✗ may be its consequences)"""
    problem: str = ""


@dataclass
class ClassContext:
    """What the report says beyond the rows: where they come from and what else the grading found."""

    source: str = ""
    """the score sheet the report was made from ("" after a grading)"""
    seed: int | None = None
    budget: str = ""
    submissions: Sequence[Submission] = ()
    skipped: Sequence[tuple[str, str]] = ()
    pairs: Sequence[Pair] | None = None
    """the alike pairs; None when they could not be computed (no notebooks)"""
    worksheet: str = ""
    filled: int = 0
    kept: int = 0
    not_in_sheet: Sequence[str] = field(default_factory=list)


def rows_from_reports(reports: Sequence[NotebookReport], check_ids: Sequence[str]) -> list[ClassRow]:
    """The report's rows; a check a report does not have (a notebook not graded) counts as failed, as in
    the score sheet (report.score_rows)."""
    rows = []
    for report in reports:
        failed = next((check for check in report.checks if not check.passed), None)
        by_id = {check.id: check.passed for check in report.checks}
        rows.append(
            ClassRow(
                notebook=report.notebook, status=report.status, score=report.score, max_score=report.max_score,
                seconds=report.seconds, sandbox=report.sandbox,
                passed={check_id: by_id.get(check_id, False) for check_id in check_ids},
                first_failure=(failed.id, failed.message) if failed is not None else None,
                problem=report.problem,
            )
        )  # fmt: skip
    return rows


def _unsafe_prefix(value: str) -> str:
    """A score-sheet cell without the "'" that neutralised a formula (report.spreadsheet_safe)."""
    return value[1:] if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value


def rows_from_csv(path: Path, check_ids: Sequence[str]) -> list[ClassRow]:
    """The rows of a drlab score sheet; :class:`UsageError` for a file that is not one."""
    if path.is_symlink() or not path.is_file():
        raise UsageError(f"{path}: not a regular file (give the scores.csv of a grading)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if tuple(header[: len(CSV_BASE)]) != CSV_BASE:
                raise UsageError(
                    f"{path}: not a drlab score sheet (its header does not start with {','.join(CSV_BASE)})"
                )
            records = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: not a drlab score sheet ({exc})") from None
    ids = [check_id for check_id in check_ids if check_id in header]
    rows = []
    for line, record in enumerate(records, start=2):
        try:
            score, max_score = int(record["score"]), int(record["max_score"])
            seconds = float(record["seconds"] or 0)
        except (TypeError, ValueError):
            raise UsageError(f"{path}: row {line} has no number in score, max_score or seconds") from None
        first = _unsafe_prefix(record.get("first_problem") or "")
        head, _, hint = first.partition(": ")
        failure, problem = ((head, hint), "") if head in check_ids else (None, first)
        passed = {check_id: record.get(check_id) == "1" for check_id in ids}
        if failure is None and not all(passed.values()) and passed:
            failure = (next(check_id for check_id in ids if not passed[check_id]), "")
        rows.append(
            ClassRow(
                notebook=_unsafe_prefix(record["notebook"]), status=record["status"], score=score,
                max_score=max_score, seconds=seconds, sandbox=_unsafe_prefix(record["sandbox"]), passed=passed,
                first_failure=failure, problem=problem,
            )
        )  # fmt: skip
    return rows


_CODE = re.compile(r"`[^`]*`")
#: a number as either language writes it: 0.4, 0,4, 1,037, 1 037 (French groups with a no-break space)
_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+(?:[.,]\d+)*")


def cause_of(hint: str) -> str:
    """The cause a hint names: its first clause (up to ":", " — ", "; " or ". "), quoted code and numbers
    blurred, so that the same mistake in two notebooks counts once ("it applies a softmax before
    CrossEntropyLoss")."""
    text = " ".join(hint.split())
    cut = len(text)
    for stop in (": ", " : ", "\u00a0: ", " — ", "; ", ". "):
        found = text.find(stop, 12)
        if 0 <= found < cut:
            cut = found
    clause = _NUMBER.sub("N", _CODE.sub("`…`", text[:cut])).strip()
    return clause if len(clause) <= 110 else clause[:109] + "…"


def causes(rows: Sequence[ClassRow]) -> dict[str, list[tuple[str, int]]]:
    """Per check: (cause, count) over the notebooks whose first ✗ it is, most frequent first."""
    per_check: dict[str, Counter[str]] = {}
    for row in rows:
        if row.first_failure is not None:
            check_id, hint = row.first_failure
            per_check.setdefault(check_id, Counter())[cause_of(hint) if hint else "?"] += 1
    return {check_id: counter.most_common() for check_id, counter in per_check.items()}


def _plots(rows: Sequence[ClassRow], check_ids: Sequence[str], folder: Path, lang: str) -> dict[str, Path]:
    from drlab.common.plots import new_figure, save_figure

    written: dict[str, Path] = {}
    max_score = max((row.max_score for row in rows), default=len(check_ids)) or len(check_ids)
    fig, ax = new_figure(figsize=(7, 3.2))
    counts = Counter(row.score for row in rows)
    ax.bar(range(max_score + 1), [counts.get(s, 0) for s in range(max_score + 1)], color="#4a78c2")
    ax.set(
        xlabel=say(lang, "class.plot_scores"),
        ylabel=say(lang, "class.plot_students"),
        xticks=range(max_score + 1),
    )
    ax.yaxis.get_major_locator().set_params(integer=True)
    written["scores.png"] = save_figure(fig, folder / "scores.png")

    fig, ax = new_figure(figsize=(7, 0.32 * len(check_ids) + 1.0))
    rates = [_rate(rows, check_id) for check_id in check_ids]
    ax.barh(
        range(len(check_ids)),
        rates,
        color=["#17803d" if r >= 0.8 else "#e0a100" if r >= 0.5 else "#c0262d" for r in rates],
    )
    ax.set(
        yticks=range(len(check_ids)),
        yticklabels=list(check_ids),
        xlim=(0, 1),
        xlabel=say(lang, "class.plot_rate"),
    )
    ax.invert_yaxis()
    written["checks.png"] = save_figure(fig, folder / "checks.png")

    fig, ax = new_figure(figsize=(7, 3.0))
    seconds = sorted((row.seconds for row in rows), reverse=True)
    ax.bar(range(1, len(seconds) + 1), seconds, color="#7a6bb0")
    ax.set(xlabel=say(lang, "class.plot_students"), ylabel=say(lang, "class.plot_seconds"))
    written["seconds.png"] = save_figure(fig, folder / "seconds.png")
    return written


def _rate(rows: Sequence[ClassRow], check_id: str) -> float:
    return sum(row.passed.get(check_id, False) for row in rows) / len(rows) if rows else 0.0


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(f"<code>{esc(name)}</code>" for name in names[:MAX_NAMES])
    return shown + (f" … (+{len(names) - MAX_NAMES})" if len(names) > MAX_NAMES else "")


def _say_html(lang: str, key: str, names_html: str, **fields: object) -> str:
    """The sentence ``key``, escaped, with the (already HTML) list of names in its ``{names}`` place."""
    before, _, after = say(lang, key, names="\ue000", **fields).partition("\ue000")
    return esc(before) + names_html + esc(after)


def render(rows: Sequence[ClassRow], context: ClassContext, folder: Path, lang: str) -> Path:
    """Write ``folder/report.html`` and its PNGs; returns the page's path."""
    from drlab.check.tp1 import CHECK_IDS, titles
    from drlab.common.io import write_text_atomic

    check_titles = titles(lang)
    pictures = _plots(rows, CHECK_IDS, folder, lang)
    count = len(rows)
    max_score = max((row.max_score for row in rows), default=len(CHECK_IDS))
    scores = [row.score for row in rows] or [0]
    context_text = say(lang, "class.from_csv", csv=context.source) if context.source else ""
    if context.seed is not None:
        context_text += say(lang, "class.context", seed=context.seed, budget=context.budget)
    body = [
        f"<h1>{esc(say(lang, 'class.title'))}</h1>",
        f'<p class="sub">{esc(say(lang, "class.sub", count=count, context=context_text))}</p>',
    ]

    # Scores
    body.append(f"<h2>{esc(say(lang, 'class.scores'))}</h2>")
    body.append(
        "<p>" + esc(say(lang, "class.scores_text", mean=statistics.fmean(scores),
                        median=statistics.median(scores), max_score=max_score,
                        passed=sum(1 for row in rows if row.score == row.max_score > 0), count=count)) + "</p>"
    )  # fmt: skip
    body.append(
        f'<figure><img alt="{esc(say(lang, "class.scores"))}" src="{png_data_uri(pictures["scores.png"])}"></figure>'
    )

    # Checks
    body.append(f"<h2>{esc(say(lang, 'class.checks'))}</h2>")
    body.append(
        f'<figure><img alt="{esc(say(lang, "class.checks"))}" src="{png_data_uri(pictures["checks.png"])}"></figure>'
    )
    body.append(
        f"<table><tr><th>{esc(say(lang, 'class.check'))}</th><th class='n'>{esc(say(lang, 'class.passed'))}</th>"
        f"<th class='n'>{esc(say(lang, 'class.rate'))}</th></tr>"
    )
    for check_id in CHECK_IDS:
        rate = _rate(rows, check_id)
        passed = sum(1 for row in rows if row.passed.get(check_id))
        body.append(
            f"<tr><td><code>{esc(check_id)}</code> {esc(check_titles.get(check_id, ''))}</td><td class='n'>{passed}/{count}</td>"
            f"<td class='n'>{esc(format_percent(rate, lang))}</td></tr>"
        )
    body.append("</table>")

    # What the class missed
    body.append(
        f"<h2>{esc(say(lang, 'class.missed'))}</h2><p class='muted'>{esc(say(lang, 'class.missed_text'))}</p>"
    )
    found = causes(rows)
    if not found:
        body.append(f"<p>{esc(say(lang, 'class.nothing_missed'))}</p>")
    for check_id in [c for c in CHECK_IDS if c in found] + [c for c in found if c not in CHECK_IDS]:
        total = sum(n for _, n in found[check_id])
        body.append(f"<h3><code>{esc(check_id)}</code> {esc(check_titles.get(check_id, ''))}</h3><ul>")
        body.extend(
            f"<li>{esc(say(lang, 'class.cause_line', count=n, total=total, cause=cause))}</li>"
            for cause, n in found[check_id]
        )
        body.append("</ul>")

    # Notebooks that did not run cleanly
    body.append(f"<h2>{esc(say(lang, 'class.trouble'))}</h2>")
    trouble = [row for row in rows if row.status != "ok" or row.sandbox != "bwrap"]
    if not trouble:
        body.append(f"<p>{esc(say(lang, 'class.trouble_none'))}</p>")
    else:
        body.append(
            f"<table><tr><th>{esc(say(lang, 'class.notebook'))}</th><th>{esc(say(lang, 'class.status'))}</th>"
            f"<th>{esc(say(lang, 'class.sandbox'))}</th><th>{esc(say(lang, 'class.problem'))}</th></tr>"
        )
        for row in trouble:
            what = row.problem or (
                row.first_failure[1] if row.first_failure and row.first_failure[0] == "runs" else ""
            )
            sandbox = "—" if row.status == "unreadable" else (row.sandbox or say(lang, "class.not_sandboxed"))
            body.append(
                f"<tr><td><code>{esc(row.notebook)}</code></td><td>{esc(say(lang, 'status.' + row.status) if row.status in _STATUSES else row.status)}</td>"
                f"<td>{esc(sandbox)}</td><td>{esc(what[:400])}</td></tr>"
            )
        body.append("</table>")

    # Time per notebook
    body.append(f"<h2>{esc(say(lang, 'class.seconds'))}</h2>")
    if rows:
        longest = max(rows, key=lambda row: row.seconds)
        body.append(
            "<p>" + esc(say(lang, "class.seconds_text", median=statistics.median(r.seconds for r in rows),
                            longest=longest.seconds, name=longest.notebook,
                            total=sum(r.seconds for r in rows))) + "</p>"
        )  # fmt: skip
    body.append(
        f'<figure><img alt="{esc(say(lang, "class.seconds"))}" src="{png_data_uri(pictures["seconds.png"])}"></figure>'
    )

    # Submissions that look alike
    body.append(
        f"<h2>{esc(say(lang, 'class.alike'))}</h2><p class='muted'>{esc(say(lang, 'class.alike_text'))}</p>"
    )
    if context.pairs is None:
        body.append(f"<p>{esc(say(lang, 'class.alike_unknown'))}</p>")
    elif not context.pairs:
        body.append(f"<p>{esc(say(lang, 'class.alike_none', threshold=format_percent(THRESHOLD, lang)))}</p>")
    else:
        body.append(
            f"<table><tr><th>{esc(say(lang, 'class.notebook'))}</th><th>{esc(say(lang, 'class.notebook'))}</th>"
            f"<th class='n'>{esc(say(lang, 'class.similarity'))}</th><th class='n'>{esc(say(lang, 'class.shared'))}</th></tr>"
        )
        body.extend(
            f"<tr><td><code>{esc(p.first)}</code></td><td><code>{esc(p.second)}</code></td>"
            f"<td class='n'>{esc(format_percent(p.similarity, lang))}</td><td class='n'>{p.shared_lines}</td></tr>"
            for p in context.pairs
        )
        body.append("</table>")

    # Files not graded
    others = [name for s in context.submissions for name in s.other_notebooks]
    ignored = [name for s in context.submissions for name in s.ignored]
    if others or ignored or context.skipped:
        body.append(f"<h2>{esc(say(lang, 'class.files'))}</h2>")
        if others:
            body.append(
                f"<p>{_say_html(lang, 'class.others', _names(others), rule=say(lang, 'pick.rule'))}</p>"
            )
        if ignored:
            body.append(f"<p>{_say_html(lang, 'class.ignored', _names(ignored))}</p>")
        if context.skipped:
            body.append(f"<p>{esc(say(lang, 'class.skipped'))}:</p><ul>")
            body.extend(
                f"<li><code>{esc(name)}</code>: {esc(why)}</li>" for name, why in context.skipped[:MAX_NAMES]
            )
            body.append("</ul>")

    # Moodle
    if context.worksheet:
        body.append(f"<h2>{esc(say(lang, 'class.moodle'))}</h2>")
        body.append(
            f"<p>{esc(say(lang, 'class.moodle_filled', worksheet=context.worksheet, filled=context.filled, total=context.filled + context.kept))}</p>"
        )
        if context.not_in_sheet:
            body.append(
                f"<p>{_say_html(lang, 'class.moodle_missing', _names(list(context.not_in_sheet)))}</p>"
            )

    path = folder / "report.html"
    write_text_atomic(path, page(say(lang, "class.title"), lang, "\n".join(body)))
    return path


_STATUSES = ("ok", "cell-errors", "timeout", "killed", "checks-failed", "unreadable")

__all__ = [
    "PICTURES",
    "ClassContext",
    "ClassRow",
    "cause_of",
    "causes",
    "render",
    "rows_from_csv",
    "rows_from_reports",
]
