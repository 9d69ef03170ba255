"""The grader's verdicts on every test notebook, in English and in French, dumped to JSON for a diff.

    python tests/grader_verdicts.py OUT.json [--only inprocess|sandboxed]
    python tests/grader_verdicts.py --diff BEFORE.json AFTER.json

A refactoring of ``drlab.check`` must leave these unchanged (score, which checks pass, which are
"caused by" which, and every text). Two kinds of notebooks:

- *in-process*: the mistakes of ``test_check_tp1.py`` (the solution's cells with one edit, harvested in
  this process, as the tests do), and the namespaces its other tests build;
- *sandboxed*: the attacks (``tests/grader_attacks``), the forgers of ``test_check_forgery.py``, the
  broken notebooks of ``test_check_cli.py``, the shipped exercise (English and French) and the
  solution, graded by :func:`drlab.check.runner.grade_notebook` in the real sandbox (seed 5, budget
  tiny). Each notebook runs once; its harvest is decided in both languages.

Not a test (nothing is asserted): run it before a change and after, then compare the two files with
``--diff``: first the verdicts (score, status, which checks pass, which are "caused by" which), then
every text that changed, language by language. Times in messages ("12 s") are replaced by "<t> s" so
that two runs of the same grader compare equal.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ["DRLAB_NOTEBOOK_BUDGET"] = "tiny"
os.environ["DRLAB_OFFLINE"] = "1"

import nbformat
import torch
from torch import nn

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
LANGS = ("en", "fr")


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def results_json(results: list[Any]) -> list[list[Any]]:
    return [[r.id, r.passed, r.caused_by, r.title, stable(r.message)] for r in results]


def stable(text: str) -> str:
    """A message without the times that change from run to run."""
    return re.sub(r"^\d+(?:[.,]\d+)? s$", "<t> s", text)


# --------------------------------------------------------------------------------------------------
# In-process: the test suite's mistakes and namespaces


def inprocess() -> dict[str, Any]:
    from drlab.check import harvest, tp1

    t = load("test_check_tp1")
    out: dict[str, Any] = {}

    def frames_of(namespace: dict[str, Any], seed: int = 0, seconds: float = 60.0) -> dict[str, Any]:
        collector = t.Collector()
        collector.send(
            "cells", {"errors": [], "timed_out_at": None, "seconds": 0.0, "defined": list(namespace)}
        )
        harvest.harvest(namespace, t.request(seed).tensors, collector, seed=seed, seconds=seconds)
        collector.send("done", {})
        return collector.frames

    def record(name: str, frames: dict[str, Any], seed: int = 0, **harvest_kwargs: Any) -> None:
        entry = {}
        for lang in LANGS:
            harvested = tp1.Harvest(frames, **harvest_kwargs)
            results, facts = tp1.decide(t.request(seed), harvested, notebook_timeout=5.0, lang=lang)
            entry[lang] = {
                "score": sum(r.passed for r in results),
                "results": results_json(results),
                "facts": {k: v for k, v in facts.items() if k != "lang"},
            }
        out[name] = entry
        print(name, entry["en"]["score"], flush=True)

    for name, (mutations, *_rest) in t.SEEDED_MISTAKES.items():
        record(f"seeded: {name}", frames_of(t.define(*mutations)))
    for name, (mutations, *_rest) in t.TRAINED_MISTAKES.items():
        record(f"trained: {name}", frames_of(t.define(*mutations, train=True)))
    record("solution functions", frames_of(t.define()))
    record("solution trained", frames_of(t.define(train=True)))
    record("empty namespace", frames_of({}))

    record("exercise stubs", frames_of(t.exercise_stubs()))

    namespace = t.define()

    def hang(model: Any, batches: Any, optimizer: Any, loss_fn: Any) -> float:
        import time

        while True:
            time.sleep(0.01)

    record("hangs", frames_of({**namespace, "train_one_epoch": hang}, seconds=0.5))

    glob = t.define()
    solution_train = glob["train_one_epoch"]
    glob["model"] = glob["Net"]()
    glob["optimizer"] = torch.optim.SGD(glob["model"].parameters(), lr=0.1)
    glob["train_one_epoch"] = lambda model, batches, optimizer, loss_fn: float(
        solution_train(glob["model"], batches, glob["optimizer"], loss_fn)
    )
    record("global model", frames_of(glob))

    constant = t.request(0).evaluate_expected
    for seed in range(4):
        record(
            f"constant evaluate, seed {seed}",
            frames_of({**t.define(), "evaluate": lambda m, x, y: constant}, seed=seed),
            seed=seed,
        )

    for name, mutations in (("untrained, normalised", ()), ("untrained, unnormalised", (t.UNNORMALISED,))):
        ns = t.define(*mutations)
        torch.manual_seed(0)
        ns["model"] = ns["Net"]()
        ns["test_accuracy"] = ns["evaluate"](ns["model"], ns["x_test"], ns["y_test"])
        record(name, frames_of(ns))
    ns = t.define()
    torch.manual_seed(0)
    ns["model"] = ns["Net"]()
    ns["test_accuracy"] = 0.97
    record("untrained, wrong test_accuracy", frames_of(ns))
    ns = t.define()
    ns["model"] = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    ns["test_accuracy"] = 0.5
    record("model not a Net", frames_of(ns))
    record("lookup Net", frames_of(t.looking_up_the_test_set()))

    # the classic mistakes of issue 26, one per notebook built from the solution (both editions)
    mistakes = load("test_check_mistakes")
    harvest.make_shell = lambda: None  # the plain runner: no IPython namespace carried over
    for name, mistake in mistakes.MISTAKES.items():
        if not mistake.edits:
            continue  # the earlier template: graded in the sandbox (sandboxed_notebooks)
        notebooks = {lang: mistakes.mistake_notebook(lang, mistake.edits) for lang in LANGS}
        entry = {}
        for lang, (results, facts) in mistakes.graded(notebooks, whole=mistake.whole).items():
            entry[lang] = {
                "score": sum(r.passed for r in results),
                "results": results_json(results),
                "facts": {k: v for k, v in facts.items() if k != "lang"},
            }
        out[f"mistake: {name}"] = entry
        print(f"mistake: {name}", entry["en"]["score"], flush=True)

    record("nothing came back", {}, killed=True)
    record("process ended", {}, exit_code=-9)
    from drlab.check.runner import cell_labels

    solution = nbformat.read(t.SOLUTION, as_version=4)
    labels = cell_labels(solution)
    (training,) = [i for i, cell in enumerate(solution.cells) if cell.get("id") == t.TRAINING]
    errors = [{"index": training, "ename": "NameError", "evalue": "loss_fn", "line": 6}]
    record("cell error", {"cells": ({"errors": errors}, {})}, cell_labels=labels)
    record("cell errors x3", {"cells": ({"errors": errors * 3}, {})}, cell_labels=labels)
    record("cell timed out", {"cells": ({"timed_out_at": training, "errors": []}, {})}, cell_labels=labels)
    # forged or malformed frames, decided from their data alone
    base = frames_of(t.define())
    record(
        "malformed: train frames",
        {
            **base,
            "train_lowers": ({"error": None}, {"param.0": torch.zeros(3)}),
            "train_zero_grad": ({"error": None}, {}),
            "train_mode": ({"error": None}, {}),
        },
    )
    record(
        "malformed: numbers",
        {
            **base,
            "evaluate": ({"error": None, "calls": "x", "returned": "y"}, {}),
            "loss": ({"error": None, "returned": {"kind": "real", "value": "nan"}}, {}),
        },
    )
    record(
        "not callable", {**base, "evaluate": ({"error": None, "not_callable": "evaluate", "type": "int"}, {})}
    )
    return out


# --------------------------------------------------------------------------------------------------
# Sandboxed: attacks, forgers, broken notebooks, the shipped exercise


def sandboxed_notebooks(folder: Path) -> None:
    attacks = load("test_check_attacks")
    forgery = load("test_check_forgery")
    write = nbformat.write
    write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")]), folder / "empty.ipynb"
    )
    for source in sorted(attacks.ATTACKS.glob("*.py")):
        write(
            attacks.attack_notebook(source, "drlab-attack-snapshot"), folder / f"attack_{source.stem}.ipynb"
        )
    write(attacks.honest_notebook(), folder / "honest.ipynb")
    for name, cells in forgery.FORGERS.items():
        write(forgery.forged_notebook(cells), folder / f"forger_{name}.ipynb")
    cells = nbformat.v4.new_code_cell
    write(
        nbformat.v4.new_notebook(cells=[cells("x = [1, 2]\nx[5]"), cells("y = 2")]),
        folder / "cli_raises.ipynb",
    )
    write(
        nbformat.v4.new_notebook(
            cells=[cells("import time\nwhile True:\n    time.sleep(0.05)"), cells("z = 3")]
        ),
        folder / "cli_endless.ipynb",
    )
    for name, path in (
        ("exercise_en", ROOT / "notebooks" / "03_tp1_fashion_mnist.ipynb"),
        ("exercise_fr", ROOT / "notebooks" / "fr" / "03_tp1_fashion_mnist.ipynb"),
        ("solution", ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"),
    ):
        (folder / f"{name}.ipynb").write_bytes(path.read_bytes())
    nb = nbformat.read(ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.get("id") == "tp1-13"]
    cell.source = cell.source.replace(
        "        optimizer.zero_grad()  # gradients accumulate: start from zero\n", ""
    )
    write(nb, folder / "solution_no_zero_grad.ipynb")
    write(load("test_check_mistakes").earlier_template("en"), folder / "earlier_template.ipynb")


def sandboxed() -> dict[str, Any]:
    from drlab.check import runner, sandbox

    runs: dict[bytes, Any] = {}
    lock = threading.Lock()
    real_run = sandbox.run_sandboxed

    def run_once(request_dir: Path, *args: Any, **kwargs: Any) -> Any:
        key = (request_dir / "notebook.ipynb").read_bytes()
        with lock:
            if key in runs:
                return runs[key]
        run = real_run(request_dir, *args, **kwargs)
        with lock:
            runs[key] = run
        return run

    sandbox.run_sandboxed = run_once  # grade_notebook imports it when it runs
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sandboxed_notebooks(folder)
        base = runner.GradingSettings(timeout=180, seed=5, budget="tiny", check_seconds=10, memory_gb=4)
        timeouts = {"cli_endless.ipynb": 8}

        def grade(path: Path) -> tuple[str, dict[str, Any]]:
            entry = {}
            for lang in LANGS:
                settings = dataclasses.replace(base, lang=lang, timeout=timeouts.get(path.name, base.timeout))
                report = runner.grade_notebook(path, settings)
                entry[lang] = {
                    "score": report.score,
                    "status": report.status,
                    "problem": report.problem,
                    "results": results_json(report.checks),
                    "facts": {k: v for k, v in report.facts.items() if k != "lang"},
                }
            print(path.name, entry["en"]["score"], flush=True)
            return path.stem, entry

        # drawn once, before the threads, as grade_class does (build_request seeds torch's global generator)
        runner._shared_files(base.seed, base.budget)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for name, entry in pool.map(grade, sorted(folder.glob("*.ipynb"))):
                out[name] = entry
    return out


def diff(before_path: str, after_path: str) -> int:
    """Print what changed between two dumps: verdicts first, then texts; exit 1 when a verdict changed."""
    before, after = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (before_path, after_path))
    verdicts, texts = [], {lang: [] for lang in LANGS}
    for kind in sorted(set(before) | set(after)):
        old_kind, new_kind = before.get(kind, {}), after.get(kind, {})
        for name in sorted(set(old_kind) | set(new_kind)):
            if name not in old_kind or name not in new_kind:
                verdicts.append(f"{kind}/{name}: only in {'after' if name in new_kind else 'before'}")
                continue
            for lang in LANGS:
                old, new = old_kind[name][lang], new_kind[name][lang]
                for key in ("score", "status", "facts"):
                    if old.get(key) != new.get(key):
                        verdicts.append(f"{kind}/{name} [{lang}] {key}: {old.get(key)!r} -> {new.get(key)!r}")
                old_checks = {r[0]: r for r in old["results"]}
                for check_id, *new_result in new["results"]:
                    _, *old_result = old_checks.get(check_id, [check_id, None, None, None, None])
                    if old_result[:2] != new_result[:2]:
                        verdicts.append(
                            f"{kind}/{name} [{lang}] {check_id}: passed, caused_by {old_result[:2]} -> {new_result[:2]}"
                        )
                    for label, index in (("title", 2), ("message", 3)):
                        if old_result[index] != new_result[index]:
                            texts[lang].append(
                                f"{kind}/{name} {check_id} {label}:\n  - {old_result[index]}\n  + {new_result[index]}"
                            )
                if old.get("problem") != new.get("problem"):
                    texts[lang].append(
                        f"{kind}/{name} problem:\n  - {old.get('problem')}\n  + {new.get('problem')}"
                    )
    print(f"verdicts changed: {len(verdicts)}")
    print("\n".join(verdicts))
    for lang in LANGS:
        print(f"\n{lang} texts changed: {len(texts[lang])}")
        print("\n".join(texts[lang]))
    return 1 if verdicts else 0


def main(argv: list[str]) -> int:
    if argv[1] == "--diff":
        return diff(argv[2], argv[3])
    torch.set_num_threads(1)
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    dump: dict[str, Any] = {}
    if only in (None, "inprocess"):
        dump["inprocess"] = inprocess()
    if only in (None, "sandboxed"):
        dump["sandboxed"] = sandboxed()
    Path(argv[1]).write_text(
        json.dumps(dump, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
