"""A class with attackers in it: each attack on the grader as a small notebook, graded beside honest ones.

The attacks (``tests/grader_attacks/*.py``, cells separated by ``# %%``) are the ones that defeated the
first grader — leaving the process, muting stdout, poisoning or wrapping the grader's module, an IPython
hook that prints a verdict, the grader's reference with a model that looks the test labels up, a
constant evaluate, overwriting or running classmates' notebooks, planting a kernel launcher, killing the
grader, a detached process that rewrites the score sheet later, appending to the installed grader,
ignoring every interrupt, flooding the output, reading the instructor's environment — and a few more
(atexit, threads that outlive the cells, sys.settrace, monkey-patching torch).

The bar: every attack scores no more than an empty notebook; the honest notebooks score 14/14 and are
left byte for byte; the exit status agrees with the CSV; nothing the notebooks started survives the
grader, so the score sheet written at exit is the one found later; the grader's own files are intact.
"""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
import sys
import time
from pathlib import Path

import nbformat
import pytest

from drlab.check.sandbox import bwrap_problem
from drlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = Path(__file__).resolve().parent / "grader_attacks"
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"
#: the solution's cells an honest student needs: set-up, data, batches, Net, train_one_epoch, evaluate, training
HONEST_CELLS = ("tp1-02", "tp1-04", "tp1-08", "tp1-10", "tp1-13", "tp1-15", "tp1-loss", "tp1-17")

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")


def attack_notebook(source: Path, token: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    text = source.read_text(encoding="utf-8").replace("{TOKEN}", token)
    nb.cells = [nbformat.v4.new_code_cell(cell.strip()) for cell in text.split("# %%\n")]
    return nb


def honest_notebook() -> nbformat.NotebookNode:
    solution = nbformat.read(SOLUTION, as_version=4)
    nb = nbformat.v4.new_notebook()
    by_id = {cell.get("id"): cell for cell in solution.cells}
    nb.cells = [nbformat.v4.new_code_cell(by_id[cell_id].source) for cell_id in HONEST_CELLS]
    return nb


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def processes_with(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if token.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the time limits count CPU time: on a busy machine, more wall time
def test_a_class_with_attackers_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    token = f"drlab-attack-{secrets.token_hex(6)}"
    secret = f"s3cr3t-{secrets.token_hex(8)}"
    monkeypatch.setenv("INSTRUCTOR_API_TOKEN", secret)  # an instructor's variable the notebooks must not see
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")]),
        submissions / "a_empty.ipynb",
    )
    attacks = sorted(ATTACKS.glob("*.py"))
    for source in attacks:
        nbformat.write(attack_notebook(source, token), submissions / f"b_{source.stem}.ipynb")
    honest = {}
    for name in ("z_honest_1.ipynb", "z_honest_2.ipynb"):
        nbformat.write(honest_notebook(), submissions / name)
        honest[name] = (submissions / name).read_bytes()
    listing = sorted(os.listdir(submissions))
    grader_code = tree_digest(ROOT / "src" / "drlab")
    scores = tmp_path / "scores.csv"

    started = time.monotonic()
    code = main(
        ["check", "tp1", str(submissions), "--csv", str(scores), "--budget", "tiny", "--timeout", "180",
         "--check-seconds", "10", "--jobs", "2", "--seed", "5"]
    )  # fmt: skip
    seconds = time.monotonic() - started
    captured = capsys.readouterr()

    with open(scores, newline="", encoding="utf-8") as handle:
        rows = {Path(row["notebook"]).name: row for row in csv.DictReader(handle)}
    assert sorted(rows) == listing  # one row per notebook, none lost
    empty = int(rows["a_empty.ipynb"]["score"])
    assert empty == 1  # it runs; it defines nothing
    over = {
        name: row["score"]
        for name, row in rows.items()
        if name.startswith("b_") and int(row["score"]) > empty
    }
    assert over == {}, f"attacks scored more than an empty notebook: {over}"
    for name in honest:
        assert rows[name]["score"] == "14" and rows[name]["passed"] == "1", rows[name]["first_problem"]
        assert (submissions / name).read_bytes() == honest[name]  # byte for byte
        assert rows[name]["sandbox"] == "bwrap"
    assert sorted(os.listdir(submissions)) == listing  # nothing planted, nothing removed
    assert (code == 0) == all(row["passed"] == "1" for row in rows.values()) and code == 1
    assert all(row["max_score"] == "14" for row in rows.values())

    # what the attacks tried, one by one
    # it blocks SIGALRM, SIGINT, SIGTERM, SIGHUP, not the CPU-time timer (SIGPROF): its cells are stopped
    # when they have computed for --timeout ("timeout"); one deaf to that too is killed with its sandbox
    # (test_check_budget's sleeper)
    assert rows["b_hang_ignoring_signals.ipynb"]["status"] in ("timeout", "killed")
    # inside its PID namespace the sandbox's init ignores SIGKILL from below, and the grader is invisible:
    # the notebook carries on, with nothing defined; the grader is still here to write every row
    assert rows["b_kill_the_grader.ipynb"]["status"] in ("ok", "killed")
    assert "bytes; the first" in rows["b_flood.ipynb"]["first_problem"]
    assert secret not in captured.out + captured.err + scores.read_text(encoding="utf-8")
    assert "INSTRUCTOR_API_TOKEN" not in captured.out
    assert tree_digest(ROOT / "src" / "drlab") == grader_code  # the installed grader is intact
    # a planted launcher anywhere in the checkout; the venv's own (ipykernel's) is not one
    venv = Path(sys.prefix).resolve()
    assert not [p for p in ROOT.glob("**/ipykernel_launcher.py") if venv not in p.resolve().parents]

    # nothing the notebooks started outlives the grader: the sheet written at exit stays as it is
    sheet = scores.read_bytes()
    assert processes_with(token) == []
    time.sleep(5)
    assert processes_with(token) == [] and scores.read_bytes() == sheet
    print(f"graded {len(rows)} notebooks in {seconds:.0f} s")
