"""The class report and the submissions that look alike: numbers held against the score sheet they come
from (read back with Python's csv module), every student's text escaped, formulas kept inert, and the
similarity measured on students' own code only (the skeleton and the class's common idioms taken away).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from _moodle_class import EXERCISE, notebook, write_submissions_zip
from drlab.check import runner
from drlab.check.classreport import cause_of
from drlab.check.report import CheckResult, NotebookReport, write_scores_csv
from drlab.check.similarity import alike_pairs, code_lines
from drlab.check.tp1 import CHECK_IDS, titles
from drlab.cli import main

XSS = "<script>document.body.dataset.pwned='1'</script>"
IMG = "<img src=x onerror=\"document.body.dataset.pwned='2'\">"


def report(name: str, failing: dict[str, str], *, status: str = "ok", seconds: float = 3.0, lang: str = "en",
           problem: str = "", sandbox: str = "bwrap") -> NotebookReport:  # fmt: skip
    checks = [CheckResult(cid, title, cid not in failing, failing.get(cid, ""))
              for cid, title in titles(lang).items()]  # fmt: skip
    return NotebookReport(name, status, len(checks), checks, seconds, {"budget": "tiny", "dataset": "fashion-mnist"},  # type: ignore[arg-type]
                          problem, sandbox, lang)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# From a score sheet, without grading again


def test_the_report_from_a_score_sheet_counts_what_the_sheet_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(1)
    hints = {
        "loss_fn": ["it applies a softmax before CrossEntropyLoss: the scores are squashed twice ({n})",
                    "it is the mean squared error against one-hot vectors: MSE compares {n} tensors"],
        "train_zero_grad": ["the gradients accumulated: after {n} batches the update is the sum"],
        "runs": ["code cell {n} (`x = [{n}]`) raised IndexError: list index out of range"],
    }  # fmt: skip
    reports = []
    for index in range(61):
        failing = {}
        for check_id, texts in hints.items():
            if rng.random() < 0.35:
                failing[check_id] = rng.choice(texts).format(n=rng.randrange(2, 500))
        reports.append(report(f"student_{index:02d}.ipynb", failing, seconds=rng.uniform(5, 60)))
    reports.append(
        report(
            '=HYPERLINK("http://evil","x").ipynb', {}, status="timeout", sandbox="not sandboxed (no bwrap)"
        )
    )
    sheet = tmp_path / "scores.csv"
    write_scores_csv(reports, sheet, CHECK_IDS)

    assert main(["check", "report", str(sheet), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        ".drlab-run.json", "checks.png", "report.html", "scores.png", "seconds.png",
    ]  # fmt: skip

    with sheet.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for check_id in CHECK_IDS:  # each check's pass count, as the sheet has it
        passed = sum(row[check_id] == "1" for row in rows)
        assert re.search(
            rf"<code>{check_id}</code>[^<]*</td><td class='n'>{passed}/{len(rows)}</td>", page
        ), check_id
    # the causes of each first ✗: grouped by cause, counted as the sheet's first_problem column says
    firsts = Counter(
        (row["first_problem"].split(": ", 1)[0], cause_of(row["first_problem"].split(": ", 1)[1]))
        for row in rows if row["first_problem"]
    )  # fmt: skip
    for (check_id, cause), count in firsts.items():
        total = sum(n for (c, _), n in firsts.items() if c == check_id)
        assert f"<li>{count} of {total}: {cause.replace('`', '`')}</li>".replace("'", "&#x27;") in page
    assert (
        "it applies a softmax before CrossEntropyLoss" in page
        and "code cell N (`…`) raised IndexError" in page
    )
    # the formula's cell kept inert in the sheet, shown as the name it is in the report
    assert any(row["notebook"].startswith("'=HYPERLINK") for row in rows)
    assert "=HYPERLINK(&quot;http://evil&quot;,&quot;x&quot;).ipynb" in page and "timed out" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [("name,score\nx,1\n", "not a drlab score sheet"), ("", "not a drlab score sheet")],
)
def test_the_report_refuses_what_is_not_a_score_sheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "s.csv").write_text(content)
    assert main(["check", "report", str(tmp_path / "s.csv"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_cause_of_counts_one_mistake_once() -> None:
    first = cause_of("code cell 5 (`x = [1, 2]`) raised IndexError: list index out of range")
    second = cause_of("code cell 12 (`y[99]`) raised IndexError: list index out of range")
    assert first == second == "code cell N (`…`) raised IndexError"
    assert (
        cause_of("sur 1 037 images du correcteur elle renvoie 0,5 : …")
        == "sur N images du correcteur elle renvoie N"
    )


# --------------------------------------------------------------------------------------------------
# What a student wrote is shown as text, everywhere


def test_a_students_script_shows_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A <script> in a file name, a student's name, a hint quoting an error message and a problem: all
    escaped in the class report, the feedback pages and the worksheet's comment."""

    def grade(path: Path, settings: object, cancel: object = None) -> NotebookReport:
        return report(
            str(path), {"runs": f"code cell 1 raised ValueError: {XSS}{IMG}"}, problem=f"printed {XSS}"
        )

    monkeypatch.setattr(runner, "grade_notebook", grade)
    monkeypatch.setattr(runner, "_shared_files", lambda seed, budget: Path(os.devnull))
    from _moodle_class import Student, worksheet_bytes

    students = [Student(XSS, 7, {f"{IMG}.ipynb": notebook()}), Student("Ann", 8, {"tp1.ipynb": notebook()})]
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    (tmp_path / "w.csv").write_bytes(worksheet_bytes(students))
    assert (
        main(
            ["check", "tp1", str(zip_path), "--moodle", str(tmp_path / "w.csv"), "--out", str(tmp_path / "g")]
        )
        == 1
    )
    import zipfile

    with zipfile.ZipFile(tmp_path / "g" / "feedback.zip") as archive:
        pages = [archive.read(name).decode("utf-8") for name in archive.namelist()]
    for page in [(tmp_path / "g" / "report.html").read_text(encoding="utf-8"), *pages]:
        lowered = page.lower()
        assert "<script" not in lowered and "<img src=x" not in lowered and 'onerror="' not in lowered
        assert "&lt;script&gt;" in page
        assert "Content-Security-Policy" in page and "default-src 'none'" in page  # no script may run at all
    rows = list(csv.reader((tmp_path / "g" / "w.csv").read_text(encoding="utf-8-sig").splitlines()))
    comments = [row[rows[0].index("Feedback comments")] for row in rows[1:]]
    assert all(cell.startswith("<p><strong>TP1") for cell in comments)
    assert "&lt;script&gt;" in comments[0] and "&lt;img src=x" in comments[0]
    assert not any(tag in cell.lower() for cell in comments for tag in ("<script", "<img"))
    assert rows[1][rows[0].index("Full name")] == XSS  # Moodle's own data, kept as it was


# --------------------------------------------------------------------------------------------------
# Submissions that look alike


def _student_code(rng: random.Random) -> list[str]:
    """A student's own TP1 answers, in one of many styles: each student picks their names, layers, loop and
    bookkeeping, as 30 people writing alone do."""
    pick = rng.choice
    x, y = pick(
        [
            ("x", "y"),
            ("images", "labels"),
            ("inputs", "targets"),
            ("xb", "yb"),
            ("data", "target"),
            ("img", "lab"),
        ]
    )
    model, opt = pick(
        [("model", "optimizer"), ("net", "opt"), ("m", "optim"), ("clf", "sgd"), ("network", "o")]
    )
    loss, total, count = (
        pick(["loss", "l", "batch_loss", "err"]),
        pick(["total", "running", "s", "acc"]),
        pick(["n", "count", "k"]),
    )
    hidden = rng.randrange(64, 1024)
    activation = pick(["nn.ReLU()", "nn.Tanh()", "nn.GELU()", "nn.LeakyReLU(0.1)", "nn.Sigmoid()"])
    layers = pick([
        f"nn.Flatten(), nn.Linear(784, {hidden}), {activation}, nn.Linear({hidden}, 10)",
        f"nn.Flatten(), nn.Linear(28 * 28, {hidden}), {activation}, nn.Dropout({rng.randrange(1, 5) / 10}), nn.Linear({hidden}, 10)",
        f"nn.Conv2d(1, {hidden // 32}, {pick([3, 5])}), {activation}, nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(10)",
    ])  # fmt: skip
    if pick([True, False]):
        body = pick(["seq", "layers", "body"])
        net = f"class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.{body} = nn.Sequential({layers})\n\n    def forward(self, {x}):\n        return self.{body}({x})\n"
    else:
        net = (f"class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc1 = nn.Linear(784, {hidden})\n"
               f"        self.fc2 = nn.Linear({hidden}, 10)\n\n    def forward(self, {x}):\n        {x} = {x}.view(-1, 784)\n"
               f"        return self.fc2(torch.{pick(['relu', 'tanh', 'sigmoid'])}(self.fc1({x})))\n")  # fmt: skip
    step = pick([
        f"        {opt}.zero_grad()\n        {loss} = loss_fn({model}({x}), {y})\n        {loss}.backward()\n        {opt}.step()\n",
        f"        out = {model}({x})\n        {loss} = loss_fn(out, {y})\n        {opt}.zero_grad()\n        {loss}.backward()\n        {opt}.step()\n",
        f"        {loss} = loss_fn({model}({x}), {y})\n        {loss}.backward()\n        {opt}.step()\n        {opt}.zero_grad(set_to_none=True)\n",
    ])  # fmt: skip
    bookkeeping = pick([
        (f"    {total}, {count} = 0.0, 0\n", f"        {total} += {loss}.item()\n        {count} += 1\n", f"    return {total} / {count}\n"),
        (f"    {total} = []\n", f"        {total}.append(float({loss}))\n", f"    return sum({total}) / len({total})\n"),
        (f"    {total} = torch.zeros(())\n    {count} = 0\n", f"        {total} += {loss}.detach()\n        {count} += 1\n", f"    return ({total} / {count}).item()\n"),
    ])  # fmt: skip
    loop = pick([f"    for {x}, {y} in batches:\n", f"    for i, ({x}, {y}) in enumerate(batches):\n"])
    train = f"def train_one_epoch({model}, batches, {opt}, loss_fn):\n    {model}.train()\n{bookkeeping[0]}{loop}{step}{bookkeeping[1]}{bookkeeping[2]}"
    chunk, guess = rng.randrange(100, 2000), pick(["pred", "guess", "p"])
    evaluate = pick([
        f"def evaluate({model}, {x}, {y}):\n    {model}.eval()\n    with torch.no_grad():\n        {guess} = {model}({x}).argmax(dim=1)\n    return ({guess} == {y}).float().mean().item()\n",
        f"def evaluate({model}, {x}, {y}):\n    {model}.eval()\n    good = 0\n    with torch.no_grad():\n        for i in range(0, len({y}), {chunk}):\n            good += int(({model}({x}[i:i + {chunk}]).argmax(1) == {y}[i:i + {chunk}]).sum())\n    return good / len({y})\n",
        f"@torch.no_grad()\ndef evaluate({model}, {x}, {y}):\n    {model}.eval()\n    scores = {model}({x})\n    return float((torch.argmax(scores, dim=1) == {y}).sum()) / {y}.shape[0]\n",
    ])  # fmt: skip
    return [net, train, evaluate, f"loss_fn = nn.CrossEntropyLoss()  # {rng.random()}"]


def test_copied_code_is_worth_a_look_and_honest_or_empty_work_is_not() -> None:
    skeleton = [cell.source if hasattr(cell, "source") else "".join(cell["source"])
                for cell in json.loads(EXERCISE.read_text())["cells"] if cell["cell_type"] == "code"]  # fmt: skip
    rng = random.Random(0)
    submissions = {f"s{index:02d}": skeleton[:4] + _student_code(rng) + skeleton[9:] for index in range(30)}
    copied = list(submissions["s03"])
    copied[4] = "# my own work!\n" + copied[4].replace(
        "\n\n", "\n"
    )  # a comment added, layout changed: still a copy
    submissions["copy_of_s03"] = copied
    submissions["handed_back_empty_1"] = list(skeleton)  # nothing written: the skeleton alone
    submissions["handed_back_empty_2"] = list(skeleton)

    pairs = alike_pairs(submissions, skeleton)
    assert [(p.first, p.second) for p in pairs] == [("copy_of_s03", "s03")]
    assert pairs[0].similarity > 0.9 and pairs[0].shared_lines >= 4


def test_two_students_with_the_same_two_line_answer_are_not_flagged() -> None:
    short = "def loss_fn(logits, y):\n    return nn.CrossEntropyLoss()(torch.softmax(logits, dim=1), y)\n"
    assert alike_pairs({"a": [short], "b": [short], "c": ["x = 1"]}) == []


def test_code_lines_ignore_comments_layout_and_magics() -> None:
    assert code_lines("x = (1 +\n     2)  # sum\n\n%timeit x\n!ls\ny=x # y") == ["x = ( 1 + 2 )", "y = x"]
    assert code_lines("def f(:\n  pass # broken") == ["def f(:", "pass"]  # a syntax error: stripped lines
