"""The instructor's round trip: a class's submissions in (Moodle's zip, or its folder), everything the
students and the instructor need out, in one run folder.

    drlab check tp1 submissions.zip --moodle worksheet.csv --out graded/

1. everything that can be refused is refused first, in one line, before a notebook runs: the worksheet's
   columns, the folder (run-folder rules: new, empty, or a grading drlab wrote and --force), the zip;
2. each student's notebook is graded in its own sandbox, as ``drlab check tp1 FOLDER`` does, and
   ``scores.csv`` is rewritten as each report comes in (Ctrl-C keeps them);
3. then: the filled worksheet (same name, only the Grade and Feedback-comments fields of the graded rows
   changed), ``feedback.zip`` (Moodle's naming) or ``feedback/`` (one page per notebook), ``report.html``
   and its PNGs. The worksheet given is only read; nothing is written outside ``--out``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drlab.check.config import CheckConfig, ClassReportConfig
from drlab.check.feedback import Returned, comment, write_feedback_folder, write_feedback_zip
from drlab.check.intake import Intake, Submission, read_submissions
from drlab.check.messages import say
from drlab.check.moodle import SITE_STRINGS, Worksheet, format_grade, read_worksheet
from drlab.check.report import NotebookReport, printable
from drlab.common.errors import DrlabError, UsageError
from drlab.common.rundir import MARKER_NAME, RUN_FILES, claim_run_dir, inspect_run_dir, read_marker


def _inside(path: Path, folder: Path) -> bool:
    resolved, root = path.resolve(), folder.resolve()
    return resolved == root or root in resolved.parents


def check_out_folder(out: Path, force: bool, *, inputs: Sequence[tuple[str, Path]]) -> None:
    """Refuse, before anything runs, an --out that may not take a grading, or that holds an input."""
    for what, path in inputs:
        if _inside(path, out):
            raise UsageError(
                f"{what} {path} is inside --out {out}: choose another --out (drlab never writes over its inputs)"
            )
    if out.is_dir() and not out.is_symlink() and not force:
        marker = read_marker(out)
        if marker is not None:
            raise UsageError(
                f"{out} already holds a drlab {marker['kind']} run; pass --force to replace it (only the files drlab "
                "wrote there are deleted) or choose another --out"
            )
    inspect_run_dir(out, "check", force=force)


def default_skeleton() -> list[Path]:
    """drlab's TP1 exercise notebooks (English and French), where a source checkout has them."""
    root = Path(__file__).resolve().parents[3] / "notebooks"
    return [
        path
        for path in (root / "03_tp1_fashion_mnist.ipynb", root / "fr" / "03_tp1_fashion_mnist.ipynb")
        if path.is_file()
    ]


def code_cells(path: Path) -> list[str] | None:
    """The sources of a notebook's code cells (read as the grader reads it), or None when it cannot be read."""
    from drlab.check.report import read_submission
    from drlab.check.runner import parse_notebook

    try:
        nb = parse_notebook(read_submission(path))
    except ValueError:
        return None
    return [
        cell.source
        for cell in nb.cells
        if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str)
    ]


def class_language(reports: Sequence[NotebookReport], wanted: str) -> str:
    """The report's language: --lang, else the language most of the class's notebooks are in."""
    if wanted in ("en", "fr"):
        return wanted
    counts = Counter(report.lang for report in reports)
    return "fr" if counts["fr"] > counts["en"] else "en"


def _single(target: Path) -> Intake:
    return Intake(
        submissions=[Submission(key=target.name, participant=None, label=target.name, notebook=target)]
    )


def run_class(config: CheckConfig, target: Path, out: Any) -> int:
    """``drlab check tp1 SUBMISSIONS [--out DIR] [--moodle WORKSHEET]``; ``out`` prints (the command's Printer)."""
    from drlab.check.report import check_csv_target

    if config.moodle is not None and config.out is None:
        raise UsageError("--moodle needs --out: the folder the filled worksheet and the feedback files go to")
    if config.moodle_columns is not None and config.moodle is None:
        raise UsageError("--moodle-columns names the columns of the worksheet given with --moodle")
    if target.is_symlink():
        raise UsageError(f"{target}: a symbolic link; give the zip or the folder itself")
    if not target.exists():
        raise UsageError(f"{target}: no such zip, folder or notebook")
    worksheet = (
        read_worksheet(Path(config.moodle), config.moodle_columns) if config.moodle is not None else None
    )
    folder = Path(config.out) if config.out is not None else None
    skeleton = [Path(path) for path in config.skeleton] or default_skeleton()
    for path in skeleton:
        if not path.is_file():
            raise UsageError(f"--skeleton {path}: no such notebook")
    csv_path = Path(config.csv) if config.csv is not None else None
    if csv_path is not None and (reason := check_csv_target(csv_path)):
        raise UsageError(f"--csv {csv_path}: {reason}")
    files = list(RUN_FILES["check"])
    if folder is not None:
        inputs = [("the submissions", target)] + ([("--moodle", worksheet.path)] if worksheet else [])
        check_out_folder(folder, config.force, inputs=inputs)
        if worksheet is not None:
            if worksheet.path.name in files or worksheet.path.name in (MARKER_NAME, ".drlab-run.lock"):
                raise UsageError(
                    f"--moodle {worksheet.path}: its name clashes with drlab's {worksheet.path.name}; rename it"
                )
            files.append(worksheet.path.name)
    with tempfile.TemporaryDirectory(prefix="drlab-submissions-") as work:
        if target.is_file() and target.suffix.lower() == ".ipynb":
            intake = _single(target)
        else:
            intake = read_submissions(target, Path(work))
        if not intake.submissions:
            raise UsageError(f"{target}: no submission in it (no notebook, no participant's folder)")
        if worksheet is not None:
            _check_overlap(intake, worksheet, target)
        if folder is None:
            return _grade(config, intake, None, csv_path, out)[0]
        # the files written there by path are recorded in the run's marker when the claim closes
        with claim_run_dir(folder, "check", force=config.force, files=files) as run:
            run_dir = run.path
            code, reports = _grade(config, intake, run_dir / "scores.csv", csv_path, out)
            if code == 130:
                return code
            _write_outputs(config, intake, reports, worksheet, run_dir, skeleton, out)
            return code


def _check_overlap(intake: Intake, worksheet: Worksheet, target: Path) -> None:
    if not intake.moodle:
        raise UsageError(
            f"--moodle: the names in {target} carry no participant number (Moodle names each submission "
            "FULL NAME_N_assignsubmission_file…): give the zip of Moodle's 'Download all submissions'"
        )
    numbers = {s.participant for s in intake.submissions}
    if not numbers & set(worksheet.participants):
        raise UsageError(
            f"--moodle {worksheet.path}: none of the {len(numbers)} submissions has a row in it: is it the worksheet "
            "of the same assignment (and of the same group)?"
        )


def _grade(
    config: CheckConfig, intake: Intake, scores: Path | None, csv_path: Path | None, out: Any
) -> tuple[int, list[NotebookReport]]:
    """Grade every submission with a notebook (as ``drlab check tp1 FOLDER``); the others are rows with 0."""
    from drlab.check.report import format_report, unreadable_report, write_scores_csv
    from drlab.check.runner import grade_class, grading_settings, max_score
    from drlab.check.sandbox import bwrap_problem
    from drlab.check.tp1 import CHECK_IDS

    problem = bwrap_problem()
    if problem is not None:
        out(f"warning: not sandboxed ({problem}): each notebook runs with your rights", err=True)
    settings = grading_settings(config)
    to_grade = [s.notebook for s in intake.submissions if s.notebook is not None]
    by_path = {str(s.notebook): s for s in intake.submissions if s.notebook is not None}
    reports = [
        unreadable_report(s.key, s.problem, max_score()) for s in intake.submissions if s.notebook is None
    ]
    for report in reports:
        out(format_report(report) + "\n")
    total = len(intake.submissions)

    def write(sheets: list[Path]) -> None:
        ordered = sorted(reports, key=lambda r: r.notebook)
        for sheet in sheets:
            try:
                write_scores_csv(ordered, sheet, CHECK_IDS)
            except OSError as exc:
                raise DrlabError(f"{sheet}: cannot write the score sheet ({exc.strerror or exc})") from None

    sheets = [path for path in (scores, csv_path) if path is not None]
    started: list[str] = []

    def on_start(path: Path) -> None:
        started.append(str(path))
        name = by_path[str(path)].key
        out(f"[{len(started) + total - len(by_path)}/{total}] grading {printable(name)} …", err=True)

    def on_report(report: NotebookReport) -> None:
        named = dataclasses.replace(report, notebook=by_path[report.notebook].key)
        reports.append(named)
        out(format_report(named) + "\n")
        write(sheets)

    if reports:
        write(sheets)
    try:
        grade_class(to_grade, settings, jobs=config.jobs, on_report=on_report, on_start=on_start)
    except KeyboardInterrupt:
        lang = class_language(reports, config.lang)
        shown = scores or csv_path
        out(say(lang, "say.interrupted", done=len(reports), total=total, path=shown or "-"), err=True)
        return 130, reports
    reports.sort(key=lambda r: r.notebook)
    width = max(len(printable(r.notebook)) for r in reports)
    out("summary:")
    for report in reports:
        out(
            f"  {printable(report.notebook):<{width}}  {report.score:>2}/{report.max_score:<2}  {report.status}"
        )
    return (0 if all(report.passed for report in reports) else 1), reports


def _write_outputs(
    config: CheckConfig, intake: Intake, reports: list[NotebookReport], worksheet: Worksheet | None,
    run_dir: Path, skeleton: list[Path], out: Any,
) -> None:  # fmt: skip
    from drlab.check.classreport import ClassContext, render, rows_from_reports
    from drlab.check.similarity import alike_pairs
    from drlab.check.tp1 import CHECK_IDS

    lang = class_language(reports, config.lang)
    by_key = {s.key: s for s in intake.submissions}
    returned = [Returned(report, by_key.get(report.notebook)) for report in reports]
    context = ClassContext(
        seed=config.seed, budget=config.budget, submissions=intake.submissions, skipped=intake.skipped
    )
    if worksheet is not None:
        cells: dict[int, tuple[str, str]] = {}
        missing = []
        for item in returned:
            number = item.submission.participant if item.submission else None
            if number is None or number not in worksheet.participants:
                missing.append(item.report.notebook)
                continue
            maximum = worksheet.maximum(worksheet.participants[number])
            assert maximum is not None  # read_worksheet checked every participant's maximum
            item.grade = format_grade(
                item.report.score, item.report.max_score, maximum, worksheet.decimal_separator
            )
            item.maximum = worksheet.records[worksheet.participants[number]][worksheet.max_grade][2]
            cells[number] = (item.grade, comment(item))
        from drlab.common.io import atomic_write

        with atomic_write(run_dir / worksheet.path.name, "wb") as handle:
            handle.write(worksheet.filled(cells))
        kept = len(worksheet.records) - len(cells)
        context.worksheet, context.filled, context.kept, context.not_in_sheet = (
            worksheet.path.name,
            len(cells),
            kept,
            missing,
        )
        out(
            say(
                lang,
                "say.worksheet",
                path=run_dir / worksheet.path.name,
                filled=len(cells),
                total=len(worksheet.records),
            )
        )
        if worksheet.feedback is None:
            out(say(lang, "say.no_feedback_column", name=SITE_STRINGS[lang].feedback), err=True)
        if missing:
            out(
                say(
                    lang,
                    "say.not_in_sheet",
                    count=len(missing),
                    names=", ".join(printable(m) for m in missing[:10]),
                ),
                err=True,
            )
        pages = write_feedback_zip(returned, run_dir / "feedback.zip", seed=config.seed)
        out(say(lang, "say.feedback_zip", path=run_dir / "feedback.zip", count=pages))
    else:
        pages = write_feedback_folder(returned, run_dir / "feedback", seed=config.seed)
        out(say(lang, "say.feedback_dir", path=run_dir / "feedback", count=pages))
    sources = {
        s.key: cells_
        for s in intake.submissions
        if s.notebook is not None and (cells_ := code_cells(s.notebook)) is not None
    }
    skeleton_cells = [source for path in skeleton for source in (code_cells(path) or [])]
    context.pairs = alike_pairs(sources, skeleton_cells)
    render(rows_from_reports(reports, CHECK_IDS), context, run_dir, lang)
    out(say(lang, "say.report", path=run_dir / "report.html"))
    out(say(lang, "say.scores", path=run_dir / "scores.csv"))
    several = sum(1 for s in intake.submissions if s.other_notebooks)
    if several:
        out(say(lang, "say.several", count=several, rule=say(lang, "pick.rule")), err=True)
    if intake.skipped:
        names = ", ".join(f"{printable(name)} ({why})" for name, why in intake.skipped[:5])
        out(say(lang, "say.skipped", count=len(intake.skipped), names=names), err=True)


def run_class_report(config: ClassReportConfig, scores: Path) -> int:
    """``drlab check report SCORES.csv --out DIR``: the class report of a grading done, without grading again."""
    from drlab.check.classreport import PICTURES, ClassContext, render, rows_from_csv
    from drlab.check.tp1 import CHECK_IDS

    if config.out is None:
        raise UsageError("--out is required: the folder to write report.html and its pictures into")
    folder = Path(config.out)
    check_out_folder(folder, config.force, inputs=[("the score sheet", scores)])
    rows = rows_from_csv(scores, CHECK_IDS)
    if not rows:
        raise UsageError(f"{scores}: no rows in this score sheet")
    with claim_run_dir(folder, "check", force=config.force, files=["report.html", *PICTURES]) as run:
        path = render(rows, ClassContext(source=scores.name), run.path, config.lang)
    print(say(config.lang, "say.report", path=path))
    return 0


__all__ = [
    "check_out_folder",
    "class_language",
    "code_cells",
    "default_skeleton",
    "run_class",
    "run_class_report",
]
