"""The TP1 checks on namespaces built from the solution notebook's own cells, harvested in-process.

The grader's two halves are composed here without a sandbox: :func:`drlab.check.harvest.harvest`
calls the namespace's functions on the grader's request (as it does inside the sandbox), and
:func:`drlab.check.tp1.decide` decides every check from the data alone. Each seeded mistake is a small
edit of the solution's source (a mutated copy): the test asserts that the *first* ✗ of the report is
the check meant to catch it, with a hint that names the real cause, that the checks of the untouched
functions still pass, and that later failures with the same root say "caused by the failure above".
The sandboxed path (bwrap, the CLI, attacks) is in test_check_cli.py and test_check_attacks.py.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch
from torch import nn

from drlab.check import harvest, tp1
from drlab.check.messages import CATALOGUE
from drlab.check.report import CheckResult
from drlab.check.tp1.contract import TINY_MIN_TEST_ACCURACY, WHERE
from drlab.check.tp1.request import hold_out, private_size
from drlab.check.tp1.train import train_mode_reference
from drlab.data import tp1 as tp1_data

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"
EXERCISE = ROOT / "notebooks" / "03_tp1_fashion_mnist.ipynb"
# the solution's cells that define things, by cell id: set-up, data, batches, Net, train_one_epoch,
# evaluate, loss_fn; then the training cell (model, test_accuracy)
DEFINITIONS = ("tp1-02", "tp1-04", "tp1-08", "tp1-10", "tp1-13", "tp1-15", "tp1-loss")
TRAINING = "tp1-17"
FUNCTION_CHECKS = (
    "net_output", "net_logits", "net_size",
    "train_lowers_loss", "train_zero_grad", "train_returns_loss", "train_mode",
    "eval_accuracy", "eval_mode", "eval_no_grad", "loss_fn",
)  # fmt: skip

Mutation = tuple[str, str, str]  # (cell id, text to replace, replacement)

# the notebook's data cell runs in most tests here: the dataset is read from disk once (conftest.py)
pytestmark = pytest.mark.usefixtures("tp1_data_read_once")


@pytest.fixture(autouse=True)
def _tiny_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRLAB_NOTEBOOK_BUDGET", "tiny")
    monkeypatch.setenv("DRLAB_OFFLINE", "1")


def solution_sources() -> dict[str, str]:
    nb = nbformat.read(SOLUTION, as_version=4)
    return {cell["id"]: cell.source for cell in nb.cells if cell.cell_type == "code"}


@functools.cache
def _grader_snapshot(seed: int, budget: str, where: tuple[str | None, ...]) -> Path:
    """The grader's data file for ``seed`` and ``budget``, with the datasets found in ``where``."""
    folder = Path(tempfile.mkdtemp(prefix="drlab-test-grader-data-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    sent = tp1.build_request(seed, budget)
    assert sent.notebook_data is not None
    tp1_data.save_tp1_snapshot(sent.notebook_data, sent.fashion_mnist_missing, folder / "tp1.safetensors")
    return folder / "tp1.safetensors"


@contextlib.contextmanager
def grader_data(seed: int = 0) -> Iterator[None]:
    """Within the block, the notebook's data cell loads what the grader of ``--seed`` gives a notebook, as
    in the sandbox: the dataset without the private images, its classes renamed (for the budget of
    ``DRLAB_NOTEBOOK_BUDGET``)."""
    budget = os.environ.get("DRLAB_NOTEBOOK_BUDGET", "tiny")
    where = tuple(os.environ.get(name) for name in ("DRLAB_DATA", "XDG_DATA_DIRS"))
    previous = os.environ.pop(tp1_data.SNAPSHOT_VARIABLE, None)
    snapshot = _grader_snapshot(seed, budget, where)  # drawn by the grader, which reads the real files
    os.environ[tp1_data.SNAPSHOT_VARIABLE] = str(snapshot)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(tp1_data.SNAPSHOT_VARIABLE, None)
        else:
            os.environ[tp1_data.SNAPSHOT_VARIABLE] = previous


def define(*mutations: Mutation, train: bool = False, seed: int = 0) -> dict[str, Any]:
    """Execute the solution's defining cells (and with ``train`` its training cell, tiny budget), with
    ``mutations`` applied, in a fresh namespace, on the data the grader of ``seed`` gives."""
    sources = solution_sources()
    for cell_id, old, new in mutations:
        assert sources[cell_id].count(old) == 1, f"mutation target not found once in {cell_id}: {old!r}"
        sources[cell_id] = sources[cell_id].replace(old, new)
    namespace: dict[str, Any] = {"__name__": "tp1_notebook"}
    with grader_data(seed):
        for cell_id in (*DEFINITIONS, TRAINING) if train else DEFINITIONS:
            exec(compile(sources[cell_id], f"<cell {cell_id}>", "exec"), namespace)
    return namespace


class Collector:
    """A data channel that keeps the frames in memory (the first of each name, as the grader does)."""

    def __init__(self) -> None:
        self.frames: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = {}

    def send(self, name: str, data: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
        copied = {key: value.detach().clone() for key, value in (tensors or {}).items()}
        self.frames.setdefault(name, (json.loads(json.dumps(data)), copied))


@functools.cache
def request(seed: int = 0) -> tp1.Request:
    return tp1.build_request(seed, "tiny")


def harvested(namespace: dict[str, Any], *, seed: int = 0, seconds: float = 60.0) -> tp1.Harvest:
    """What the sandbox would send of ``namespace``: its steps, harvested in this process."""
    collector = Collector()
    collector.send("cells", {"errors": [], "timed_out_at": None, "seconds": 0.0, "defined": list(namespace)})
    harvest.harvest(namespace, request(seed).tensors, collector, seed=seed, seconds=seconds)
    collector.send("done", {})
    return tp1.Harvest(collector.frames)


def run_checks(
    namespace: dict[str, Any], *, seed: int = 0, seconds: float = 60.0, lang: tp1.Lang = "en"
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Harvest ``namespace`` in this process, as the sandbox would, then decide every check."""
    return tp1.decide(request(seed), harvested(namespace, seed=seed, seconds=seconds), lang=lang)


def first_failure(results: dict[str, CheckResult]) -> CheckResult:
    return next(result for result in results.values() if not result.passed)


def check_results(namespace: dict[str, Any], **kwargs: Any) -> dict[str, CheckResult]:
    results, _ = run_checks(namespace, **kwargs)
    return {result.id: result for result in results}


@pytest.fixture(scope="module")
def solution_results() -> dict[str, CheckResult]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRLAB_NOTEBOOK_BUDGET", "tiny")
        patch.setenv("DRLAB_OFFLINE", "1")
        return check_results(define())


def test_solution_functions_pass_every_check(solution_results: dict[str, CheckResult]) -> None:
    failed = {k: r.message for k, r in solution_results.items() if k in FUNCTION_CHECKS and not r.passed}
    assert failed == {}
    # nothing was trained here, so the checks of the trained model say what is missing
    assert not solution_results["model_accuracy"].passed
    assert "`model` is not defined" in solution_results["model_accuracy"].message


def test_every_check_is_reported_once_in_order(solution_results: dict[str, CheckResult]) -> None:
    assert list(solution_results) == [check.id for check in tp1.CHECKS] == list(tp1.CHECK_IDS)
    assert len(tp1.CHECK_IDS) == 14


def test_nothing_came_back_fails_every_check_out_of_14() -> None:
    """A sandbox that sent nothing (killed, os._exit) fails every check; the denominator stays 14;
    the first ✗ says why, every other one is its consequence."""
    results, _ = tp1.decide(request(), tp1.Harvest({}, killed=True), notebook_timeout=5)
    assert len(results) == 14 and not any(r.passed for r in results)
    assert "still running when its time was up" in results[0].message
    assert all("no answer came back" in r.message or "needs" in r.message for r in results[1:])
    assert all(
        r.caused_by == "runs" and r.message.startswith("caused by the failure above") for r in results[1:]
    )


CHUNK_MEAN = (
    ("tp1-15", ".sum().item()", ".float().mean().item()"),
    ("tp1-15", "return correct / len(y)", "return correct / len(range(0, len(y), chunk))"),
)
DETACH = (
    "tp1-13",
    "logits = model(x_batch)  #",
    "logits = model(x_batch).detach().requires_grad_()  #",
)

# mistake: (mutations, the check whose ✗ must come first, a word of its hint that names the cause,
# the checks that must be marked "caused by the failure above")
SEEDED_MISTAKES: dict[str, tuple[tuple[Mutation, ...], str, str, tuple[str, ...]]] = {
    "no zero_grad": (
        (("tp1-13", "        optimizer.zero_grad()  # gradients accumulate: start from zero\n", ""),),
        "train_zero_grad", "accumulated", (),
    ),
    "no eval()": (
        (("tp1-15", "    model.eval()  # dropout off, batch norm on its running statistics\n", ""),),
        "eval_mode", "model.eval()", (),
    ),
    "softmax before CrossEntropyLoss (in forward)": (
        (("tp1-10", "return self.classifier(self.features(x))",
          "return torch.softmax(self.classifier(self.features(x)), dim=1)"),),
        "net_logits", "probabilities", (),
    ),
    "softmax before CrossEntropyLoss (in the loop)": (
        (("tp1-13", "loss_fn(logits, y_batch)", "loss_fn(torch.softmax(logits, dim=1), y_batch)"),),
        "train_zero_grad", "softmax", ("train_returns_loss",),
    ),
    "wrong output size": (
        (("tp1-10", "nn.Linear(128, num_classes)", "nn.Linear(128, 9)"),),
        "net_output", "9 outputs per image", (),
    ),
    "accuracy on the training set": (
        (("tp1-15", "    correct = 0\n", "    correct = 0\n    x, y = train_batches.x, train_batches.y\n"),),
        "eval_accuracy", "x_train", ("eval_mode", "eval_no_grad"),
    ),
    "no model.train()": (
        (("tp1-13", "    model.train()  # dropout on, batch norm learns from the batch's statistics\n", ""),),
        "train_mode", "model.train()", (),
    ),
    "no torch.no_grad()": (
        (("tp1-15", "    with torch.no_grad():  # no graph: evaluation needs no gradients\n", "    if True:\n"),),
        "eval_no_grad", "no_grad", (),
    ),
    "returns the last batch's loss": (
        (("tp1-13", "return total_loss / n_batches", "return loss.item()"),),
        "train_returns_loss", "last batch", (),
    ),
    "returns a tensor": (
        (("tp1-13", "return total_loss / n_batches", "return loss"),),
        "train_returns_loss", "tensor", (),
    ),
    "accuracy as a percentage": (
        (("tp1-15", "return correct / len(y)", "return 100 * correct / len(y)"),),
        "eval_accuracy", "percentage", (),
    ),
    "no optimizer.step()": (
        (("tp1-13", "        optimizer.step()  # ❹ update of the parameters\n", ""),),
        "train_lowers_loss", "optimizer.step() was never called", ("train_zero_grad", "train_returns_loss"),
    ),
    # issue 14: the mistakes whose hints used to blame something else
    "argmax() without dim": (
        (("tp1-15", "logits.argmax(dim=1)", "logits.argmax()"),),
        "eval_accuracy", "argmax() without dim", (),
    ),
    "mean of per-chunk accuracies": (
        CHUNK_MEAN,
        "eval_accuracy", "averages the accuracies of the chunks", (),
    ),
    ".detach().requires_grad_() in the loop": (
        (DETACH,),
        "train_lowers_loss", ".detach()", ("train_zero_grad", "train_returns_loss"),
    ),
    "zero_grad() between backward() and step()": (
        (("tp1-13", "        loss.backward()  # ❸ gradients\n",
          "        loss.backward()  # ❸ gradients\n        optimizer.zero_grad()\n"),),
        "train_lowers_loss", "zero_grad() runs between loss.backward() and optimizer.step()",
        ("train_zero_grad", "train_returns_loss"),
    ),
    "model.train() after the forward pass": (
        (("tp1-13", "    model.train()  # dropout on, batch norm learns from the batch's statistics\n", ""),
         ("tp1-13", "        loss = loss_fn(logits, y_batch)  # ❷ loss\n",
          "        model.train()  # too late: the forward pass ran in eval mode\n"
          "        loss = loss_fn(logits, y_batch)  # ❷ loss\n")),
        "train_mode", "does not put the model in training mode", (),
    ),
    "a percentage, in training mode": (
        (("tp1-15", "return correct / len(y)", "return 100 * correct / len(y)"),
         ("tp1-15", "    model.eval()  # dropout off, batch norm on its running statistics\n", "")),
        "eval_accuracy", "percentage", (),
    ),
    # TODO 4, the loss: the classic choices
    "MSELoss on integer labels": (
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()", "loss_fn = nn.MSELoss()"),),
        "loss_fn", "MSELoss compares two tensors of the same shape", (),
    ),
    "MSE on one-hot targets": (
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return nn.functional.mse_loss(logits, nn.functional.one_hot(y, 10).float())"),),
        "loss_fn", "mean squared error against one-hot vectors", (),
    ),
    "softmax then CrossEntropyLoss (in loss_fn)": (
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return nn.CrossEntropyLoss()(torch.softmax(logits, dim=1), y)"),),
        "loss_fn", "squashed twice", (),
    ),
    "NLLLoss on logits": (
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()", "loss_fn = nn.NLLLoss()"),),
        "loss_fn", "NLLLoss", (),
    ),
    "a loss cut from the graph": (
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return torch.tensor(nn.functional.cross_entropy(logits, y).item())"),),
        "loss_fn", "no gradient flows", (),
    ),
}  # fmt: skip
#: which checks look at which cell
TOUCHES = {"tp1-10": "net_", "tp1-13": "train_", "tp1-15": "eval_", "tp1-loss": "loss_"}


@pytest.mark.parametrize("mistake", list(SEEDED_MISTAKES))
def test_seeded_mistake_first_failure_names_its_cause(mistake: str) -> None:
    mutations, check_id, hint, consequences = SEEDED_MISTAKES[mistake]
    results = check_results(define(*mutations))
    first = first_failure(results)
    assert first.id == check_id, f"{mistake}: the first ✗ is {first.id}: {first.message}"
    assert hint in first.message and not first.caused_by
    for consequence in consequences:
        assert not results[consequence].passed
        assert results[consequence].caused_by == check_id, (consequence, results[consequence].message)
        assert results[consequence].message.startswith("caused by the failure above")
    # the checks of the functions that were not touched still pass
    touched = {TOUCHES[cell_id] for cell_id, _, _ in mutations}
    others = [k for k in FUNCTION_CHECKS if not k.startswith(tuple(touched))]
    assert [k for k in others if not results[k].passed] == []


def test_two_mistakes_of_evaluate_are_both_named() -> None:
    """A percentage measured in training mode: the ✗ of the number, then the ✗ of the mode, each with
    its own hint (the marked probe's number is read as 100 × its accuracy in training mode)."""
    mutations, _, _, _ = SEEDED_MISTAKES["a percentage, in training mode"]
    results = check_results(define(*mutations))
    assert not results["eval_mode"].passed and not results["eval_mode"].caused_by
    assert "model.eval()" in results["eval_mode"].message
    assert results["eval_no_grad"].passed


def test_the_verdicts_follow_the_data_not_the_claims() -> None:
    """What the sandbox *says* (the modes its spies recorded) decides nothing: the solution's harvest with
    every claim reversed still passes; the same harvest with the data of a mistake fails."""
    namespace = define()
    collector = Collector()
    collector.send("cells", {"errors": [], "timed_out_at": None, "seconds": 0.0, "defined": list(namespace)})
    harvest.harvest(namespace, request().tensors, collector, seed=0, seconds=60.0)
    frames = collector.frames

    def decided(**changes: tuple[dict[str, Any], dict[str, torch.Tensor]]) -> dict[str, CheckResult]:
        results, _ = tp1.decide(request(), tp1.Harvest({**frames, **changes}))
        return {result.id: result for result in results}

    data, tensors = frames["train_mode"]
    evaluate_data, evaluate_tensors = frames["evaluate"]
    lying = decided(
        train_mode=({**data, "calls": [[False, False]]}, tensors),
        evaluate=({**evaluate_data, "calls": [[True, True]]}, evaluate_tensors),
    )
    assert all(lying[check_id].passed for check_id in FUNCTION_CHECKS)

    start, _ = train_mode_reference(tp1.Context(request(), tp1.Harvest(frames)))
    unmoved = decided(train_mode=(data, {f"buffer.{name}": value for name, value in start.items()}))
    assert (
        not unmoved["train_mode"].passed
        and "does not put the model in training mode" in unmoved["train_mode"].message
    )
    for name, hint in (("eval_mode", "model.eval()"), ("eval_no_grad", "torch.no_grad()")):
        logits, labels = request().kept[f"{name}.logits"], request().tensors[f"{name}.y"]
        marked = float((logits.roll(1, dims=1).argmax(dim=1) == labels).float().mean())
        returned = {"type": "float", "kind": "real", "value": marked}
        wrong = decided(**{name: ({"error": None, "returned": returned}, {})})
        assert not wrong[name].passed and hint in wrong[name].message
        assert [k for k in FUNCTION_CHECKS if not wrong[k].passed] == [name]


def test_marked_probes_move_their_scores_by_one_class() -> None:
    """The oracle of the marked probes: the unmarked network's scores, rolled by one class, exactly
    when the model is in training mode (``training``) or autograd records (``autograd``)."""
    x = torch.randn(6, 1, 28, 28)
    for marker, moved in (("training", lambda train, grad: train), ("autograd", lambda train, grad: grad)):
        torch.manual_seed(0)
        probe = harvest.ProbeNet(marker=marker)
        torch.manual_seed(0)
        plain = harvest.ProbeNet()
        for train in (True, False):
            probe.train(train)
            for grad in (True, False):
                with torch.set_grad_enabled(grad):
                    expected = plain(x).roll(1, dims=1) if moved(train, grad) else plain(x)
                    assert torch.equal(probe(x), expected), (marker, train, grad)


def test_the_notebooks_copy_of_the_data_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file the grader writes for a sandbox is what load_tp1_dataset returns there (tiny: limited);
    a file that is not one fails in one line, without unpickling anything."""
    full, _ = tp1_data.load_tp1_dataset("full")
    seen, _, _ = hold_out(full, 0, "tiny")
    path = tmp_path / "tp1_data.safetensors"
    tp1_data.save_tp1_snapshot(seen, "a reason", path)
    monkeypatch.setenv(tp1_data.SNAPSHOT_VARIABLE, str(path))
    loaded, reason = tp1_data.load_tp1_dataset("full")
    assert reason == "a reason" and loaded.name == seen.name and loaded.classes == seen.classes
    assert (loaded.mean, loaded.std) == (seen.mean, seen.std)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        mine, theirs = getattr(loaded, field), getattr(seen, field)
        assert mine.dtype == theirs.dtype and (mine == theirs).all()
    tiny, _ = tp1_data.load_tp1_dataset("tiny")
    assert len(tiny.y_train) == len(tiny.y_test) == tp1_data.TINY_SAMPLES
    path.write_bytes(b"not safetensors")
    with pytest.raises(tp1_data.DrlabError, match="not TP1 data"):
        tp1_data.load_tp1_dataset("full")


def test_empty_namespace_says_what_to_write() -> None:
    results = check_results({})
    assert [k for k, r in results.items() if r.passed] == ["runs"]  # it ran; nothing else is there
    assert "`Net` is not defined: write it in the cell marked TODO 1" in results["net_output"].message
    assert "`train_one_epoch` is not defined" in results["train_lowers_loss"].message
    # one missing function, one hint: its other checks are marked as consequences
    assert results["train_zero_grad"].caused_by == "train_lowers_loss"
    assert "`evaluate` is not defined" in results["eval_accuracy"].message
    assert results["eval_mode"].caused_by == results["eval_no_grad"].caused_by == "eval_accuracy"
    assert "`model` is not defined" in results["model_accuracy"].message
    assert "needs the trained `model`" in results["reported_accuracy"].message


def exercise_stubs() -> dict[str, Any]:
    """The exercise notebook's TODO cells that define something, run: its stubs, as a student gets them."""
    nb = nbformat.read(EXERCISE, as_version=4)
    namespace: dict[str, Any] = {"nn": nn, "torch": torch}
    for cell in nb.cells:
        if (
            cell.cell_type == "code"
            and "todo" in cell.metadata.get("tags", [])
            and ("def " in cell.source or "class " in cell.source)
        ):
            exec(cell.source, namespace)
    return namespace


def test_exercise_stubs_fail_with_their_todo() -> None:
    results = check_results(exercise_stubs())
    assert "NotImplementedError: TODO 1" in results["net_output"].message
    assert "NotImplementedError: TODO 2" in results["train_lowers_loss"].message
    assert "NotImplementedError: TODO 3" in results["eval_accuracy"].message


def test_model_checks_measure_the_test_set_themselves() -> None:
    """An untrained Net fails the bar; a test_accuracy that is not the model's is caught."""
    namespace = define()
    torch.manual_seed(0)
    namespace["model"] = namespace["Net"]()
    namespace["test_accuracy"] = 0.97  # e.g. measured on the training set
    results, facts = run_checks(namespace)
    by_id = {r.id: r for r in results}
    assert facts["dataset"] == namespace["dataset"].name
    assert facts["threshold"] == TINY_MIN_TEST_ACCURACY
    assert 0.0 <= facts["test_accuracy"] < TINY_MIN_TEST_ACCURACY  # an untrained model
    assert not by_id["model_accuracy"].passed and "does not beat" in by_id["model_accuracy"].message
    assert not by_id["reported_accuracy"].passed and "not the training" in by_id["reported_accuracy"].message
    # the oracle: the notebook's own evaluate on the notebook's own test split
    namespace["test_accuracy"] = namespace["evaluate"](
        namespace["model"], namespace["x_test"], namespace["y_test"]
    )
    assert {r.id: r for r in run_checks(namespace)[0]}["reported_accuracy"].passed


def test_model_must_be_an_instance_of_net_of_plausible_size() -> None:
    namespace = define()
    namespace["model"] = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))  # trained or not: not a Net
    namespace["test_accuracy"] = 0.5
    by_id = check_results(namespace)
    assert "not an instance of your Net" in by_id["model_accuracy"].message
    assert not by_id["reported_accuracy"].passed


def looking_up_the_test_set() -> dict[str, Any]:
    """The solution's functions, with a trained "Net" whose forward looks the public test labels up by the
    images' bytes, and test_accuracy = 1.0."""
    namespace = define()
    table = {
        bytes(x.numpy().tobytes()): int(y)
        for x, y in zip(namespace["x_test"], namespace["y_test"], strict=True)
    }

    class LookupNet(namespace["Net"]):  # type: ignore[misc, name-defined]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            labels = torch.tensor([table.get(bytes(image.numpy().tobytes()), 0) for image in x])
            return 10 * nn.functional.one_hot(labels, 10).float() + 0 * super().forward(x)

    namespace["Net"] = LookupNet
    namespace["model"] = LookupNet()
    namespace["test_accuracy"] = 1.0
    return namespace


def test_a_model_that_looks_the_test_images_up_is_caught() -> None:
    """A Net whose forward looks the public test labels up (here by the images' bytes): 1.0 on the test
    images, chance on the private images the grader kept back → fails the bar, and its test_accuracy too."""
    results, facts = run_checks(looking_up_the_test_set())
    by_id = {r.id: r for r in results}
    assert not by_id["model_accuracy"].passed
    assert "recognises the public test images" in by_id["model_accuracy"].message
    assert facts["test_accuracy"] < 0.2  # measured on the private images: no table holds them
    assert not by_id["reported_accuracy"].passed


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_constant_evaluate_fails_whatever_the_seed(seed: int) -> None:
    """The probe's true accuracy is drawn from --seed: a constant that matched one seed fails the others."""
    namespace = define()
    expected = {s: request(s).evaluate_expected for s in range(4)}
    assert len(set(expected.values())) > 1  # the probes do vary with the seed
    constant = expected[0]
    namespace["evaluate"] = lambda model, x, y: constant
    by_id = check_results(namespace, seed=seed)
    assert by_id["eval_accuracy"].passed is False  # evaluate never called the model
    assert "never called the model" in by_id["eval_accuracy"].message
    assert by_id["eval_mode"].caused_by == by_id["eval_no_grad"].caused_by == "eval_accuracy"


def test_student_code_that_hangs_is_stopped() -> None:
    namespace = define()

    def train_one_epoch(model: nn.Module, batches: Any, optimizer: Any, loss_fn: Any) -> float:
        while True:
            time.sleep(0.01)

    namespace["train_one_epoch"] = train_one_epoch
    started = time.monotonic()
    results = check_results(namespace, seconds=0.5)
    assert time.monotonic() - started < 20
    assert "did not return within 0.5 s" in results["train_lowers_loss"].message
    assert results["eval_accuracy"].passed  # the other functions are still checked


def test_student_code_that_uses_a_global_model_is_caught() -> None:
    namespace = define()
    solution_train = namespace["train_one_epoch"]
    namespace["model"] = namespace["Net"]()
    namespace["optimizer"] = torch.optim.SGD(namespace["model"].parameters(), lr=0.1)

    def train_one_epoch(model: nn.Module, batches: Any, optimizer: Any, loss_fn: Any) -> float:
        return float(solution_train(namespace["model"], batches, namespace["optimizer"], loss_fn))

    namespace["train_one_epoch"] = train_one_epoch
    results = check_results(namespace)
    assert not results["train_lowers_loss"].passed
    assert "passed as arguments" in results["train_lowers_loss"].message


@pytest.mark.parametrize("budget", ["tiny", "full"])
def test_the_grader_measures_on_private_images_and_the_notebooks_test_set(
    budget: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public test images the grader sends are the notebook's x_test, shuffled, their labels kept;
    the private images are training images of the dataset that the notebook's copy does not hold, and
    the tiny budget still trains on the very same 600 images."""
    monkeypatch.setenv("DRLAB_NOTEBOOK_BUDGET", budget)
    namespace = define(seed=3)
    sent = tp1.build_request(3, budget)
    x_test, y_test = namespace["x_test"], namespace["y_test"]
    assert sent.dataset == namespace["dataset"].name
    assert sent.tensors["test"].shape == x_test.shape
    assert torch.equal(
        torch.bincount(sent.labels["test"], minlength=10), torch.bincount(y_test, minlength=10)
    )
    shown = sent.tensors["test"].flatten(1)
    order = torch.argsort(shown.sum(1))
    assert torch.allclose(shown.sum(1)[order], torch.sort(x_test.flatten(1).sum(1)).values, atol=1e-3)
    assert not any("label" in name or name.endswith(".y_private") for name in sent.tensors)

    full, _ = tp1_data.load_tp1_dataset("full")
    seen = sent.notebook_data
    assert seen is not None and seen.mean == full.mean and seen.std == full.std
    private = len(sent.labels["private"])
    assert private == private_size(full, budget) > 0
    assert len(seen.y_train) == len(full.y_train) - private and len(seen.y_test) == len(full.y_test)
    assert (seen.x_train[: tp1_data.TINY_SAMPLES] == full.x_train[: tp1_data.TINY_SAMPLES]).all()
    # the oracle: every private image is a training image of the full dataset, none is in the notebook's
    normalised = (torch.as_tensor(full.x_train).float() / 255 - full.mean) / full.std
    keys = {row.numpy().tobytes() for row in torch.as_tensor(seen.x_train).flatten(1)}
    raw = ((sent.tensors["private"] * full.std + full.mean) * 255).round().clamp(0, 255).to(torch.uint8)
    assert not any(row.numpy().tobytes() in keys for row in raw.flatten(1))
    all_keys = {row.numpy().tobytes(): i for i, row in enumerate(torch.as_tensor(full.x_train).flatten(1))}
    index = [all_keys[row.numpy().tobytes()] for row in raw.flatten(1)]
    assert all(i >= tp1_data.TINY_SAMPLES for i in index)
    renaming = sent.kept["renaming"]  # every class carries another's number, in the notebook's data too
    assert torch.equal(sent.labels["private"], renaming[torch.as_tensor(full.y_train)[index].long()])
    assert (
        seen.y_train[: tp1_data.TINY_SAMPLES] == renaming.numpy()[full.y_train[: tp1_data.TINY_SAMPLES]]
    ).all()
    assert (seen.y_test == renaming.numpy()[full.y_test]).all()
    assert torch.allclose(normalised[index].unsqueeze(1), sent.tensors["private"], atol=1e-5)
    # another seed keeps other images back
    assert not torch.equal(tp1.build_request(4, budget).tensors["private"], sent.tensors["private"])


def test_without_fashion_mnist_the_grader_keeps_digits_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline with no Fashion-MNIST anywhere, the grader and the notebook fall back to the digits; the
    private images are digits the notebook's copy lacks, and the solution still passes on them."""
    monkeypatch.setenv("DRLAB_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "no-system-data"))
    sent = tp1.build_request(0, "tiny")
    assert sent.dataset == "digits" and sent.fashion_mnist_missing
    full, _ = tp1_data.load_tp1_dataset("full")
    assert full.name == "digits"
    assert len(sent.labels["private"]) == private_size(full, "tiny") == (len(full.y_train) - 600) // 2
    namespace = define(train=True)
    assert namespace["dataset"].name == "digits"
    collector = Collector()
    collector.send("cells", {"errors": [], "timed_out_at": None, "seconds": 0.0, "defined": list(namespace)})
    harvest.harvest(namespace, sent.tensors, collector, seed=0, seconds=60.0)
    results, facts = tp1.decide(sent, tp1.Harvest(collector.frames))
    assert [r.id for r in results if not r.passed] == []
    assert facts["dataset"] == "digits" and facts["test_accuracy"] > TINY_MIN_TEST_ACCURACY


# --------------------------------------------------------------------------------------------------
# Causes the grader reads from the trained model and the notebook's tensors

UNNORMALISED = ("tp1-08", "normalise = dict(mean=dataset.mean, std=dataset.std, device=device)", "normalise = dict(device=device)")  # fmt: skip


def test_unnormalised_inputs_are_named_not_train_longer() -> None:
    """Images left in [0, 1]: the untrained model's ✗ names the inputs (the old hint said "train
    longer"), and test_accuracy's ✗ is marked as its consequence (it used to say "use the test split")."""
    namespace = define(UNNORMALISED)
    assert float(namespace["x_test"].mean()) > 0.1  # the mutation did leave the images un-normalised
    torch.manual_seed(0)
    namespace["model"] = namespace["Net"]()
    namespace["test_accuracy"] = namespace["evaluate"](
        namespace["model"], namespace["x_test"], namespace["y_test"]
    )
    results = check_results(namespace)
    first = first_failure(results)
    assert first.id == "model_accuracy" and "not normalised" in first.message, first.message
    assert "train for more epochs" not in first.message
    reported = results["reported_accuracy"]
    assert reported.passed or reported.caused_by == "model_accuracy", reported.message


def test_normalised_inputs_are_not_blamed() -> None:
    """The oracle: the same untrained model on the notebook's normalised images gets the generic hint."""
    namespace = define()
    torch.manual_seed(0)
    namespace["model"] = namespace["Net"]()
    namespace["test_accuracy"] = namespace["evaluate"](
        namespace["model"], namespace["x_test"], namespace["y_test"]
    )
    results = check_results(namespace)
    assert "not normalised" not in results["model_accuracy"].message
    assert "train for more epochs" in results["model_accuracy"].message
    assert results["reported_accuracy"].passed


# each: mutations, the first ✗, a word of its hint, the checks that must be its consequences when they fail
TRAINED_MISTAKES: dict[str, tuple[tuple[Mutation, ...], set[str], str, tuple[str, ...]]] = {
    "un-normalised inputs": ((UNNORMALISED,), {"model_accuracy", "reported_accuracy"}, "not normalised", ("reported_accuracy",)),
    "argmax() without dim": (SEEDED_MISTAKES["argmax() without dim"][0], {"eval_accuracy"}, "without dim", ("reported_accuracy",)),
    "mean of per-chunk accuracies": (CHUNK_MEAN, {"eval_accuracy"}, "averages the accuracies", ("reported_accuracy",)),
    ".detach().requires_grad_() in the loop": ((DETACH,), {"train_lowers_loss"}, ".detach()", ("model_accuracy",)),
    "MSE on one-hot targets": (SEEDED_MISTAKES["MSE on one-hot targets"][0], {"loss_fn"}, "one-hot", ("model_accuracy",)),
    "softmax then CrossEntropyLoss (in loss_fn)": (
        SEEDED_MISTAKES["softmax then CrossEntropyLoss (in loss_fn)"][0], {"loss_fn"}, "squashed twice", ("model_accuracy",),
    ),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(TRAINED_MISTAKES))  # ≈ 5 s each: tiny budget, 2 epochs
def test_trained_mistake_first_failure_names_its_cause(mistake: str) -> None:
    """The whole notebook's definitions and its training cell (tiny budget), with one mistake: the first
    ✗ names it, and the trained model's checks, when they fail, are marked as its consequences."""
    mutations, first_ids, hint, consequences = TRAINED_MISTAKES[mistake]
    results = check_results(define(*mutations, train=True))
    first = first_failure(results)
    assert first.id in first_ids and hint in first.message, (first.id, first.message)
    for consequence in (c for c in consequences if c != first.id):
        result = results[consequence]
        assert result.passed or result.caused_by == first.id, (consequence, result.message)
    assert [r.id for r in results.values() if not r.passed and not r.caused_by] == [first.id]


# --------------------------------------------------------------------------------------------------
# The report's language


def test_every_check_speaks_english_and_french() -> None:
    for check in tp1.CHECKS:
        english, french = check.title.render("en"), check.title.render("fr")
        assert english and french and english != french, check.id
    for name, key in WHERE.items():
        assert CATALOGUE["en"][key] != CATALOGUE["fr"][key], name


@pytest.mark.parametrize(
    "mistake", ["no zero_grad", "MSE on one-hot targets", ".detach().requires_grad_() in the loop"]
)
def test_french_report_names_the_same_cause_in_french(mistake: str) -> None:
    mutations, check_id, _, consequences = SEEDED_MISTAKES[mistake]
    namespace = define(*mutations)
    english = check_results(namespace)
    french = check_results(namespace, lang="fr")
    assert [r.passed for r in french.values()] == [r.passed for r in english.values()]
    first = first_failure(french)
    assert first.id == check_id
    assert first.title == {check.id: check.title for check in tp1.CHECKS}[check_id].render("fr")
    assert first.message != english[check_id].message
    for consequence in consequences:
        assert french[consequence].message.startswith("conséquence de l'échec ci-dessus")
    words = {
        "no zero_grad": "les gradients s'accumulent",
        "MSE on one-hot targets": "l'erreur quadratique moyenne",
        ".detach().requires_grad_() in the loop": "graphe de calcul est coupé",
    }
    assert words[mistake] in first.message


def test_the_report_language_comes_from_the_notebook_unless_asked() -> None:
    from drlab.check.runner import report_language

    french = nbformat.read(ROOT / "notebooks" / "fr" / "03_tp1_fashion_mnist.ipynb", as_version=4)
    english = nbformat.read(EXERCISE, as_version=4)
    bare = nbformat.v4.new_notebook()
    assert report_language(french, "auto") == "fr"
    assert report_language(english, "auto") == "en"
    assert report_language(bare, "auto") == "en"  # no metadata: English
    assert report_language(french, "en") == "en" and report_language(english, "fr") == "fr"


def test_french_report_text() -> None:
    from drlab.check.report import NotebookReport, format_report

    results, facts = tp1.decide(request(), tp1.Harvest({}, killed=True), notebook_timeout=5, lang="fr")
    report = NotebookReport("tp1.ipynb", "killed", 14, results, facts=facts, lang="fr")
    text = format_report(report)
    assert text.startswith("Vérification du TP1 — tp1.ipynb")
    assert "le notebook tournait encore quand son temps a expiré" in text
    assert "score\u00a0: 0/14 — 14 à corriger" in text
    assert "the notebook" not in text


def test_cells_are_numbered_as_the_student_sees_them() -> None:
    """ "code cell N" counts the code cells only (markdown cells are not numbered in Jupyter)."""
    from drlab.check.runner import cell_labels

    nb = nbformat.read(SOLUTION, as_version=4)
    labels = cell_labels(nb)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    assert sorted(labels) == code
    assert [labels[i][0] for i in code] == list(range(1, len(code) + 1))
    (training,) = [i for i, cell in enumerate(nb.cells) if cell.get("id") == TRAINING]
    assert training > labels[training][0]  # the markdown cells above are not counted
    assert labels[training][1].rstrip("…") in nb.cells[training].source.splitlines()[0]
    harvest_ = tp1.Harvest(
        {
            "cells": (
                {"errors": [{"index": training, "ename": "NameError", "evalue": "loss_fn", "line": 6}]},
                {},
            )
        },
        cell_labels=labels,
    )
    results, _ = tp1.decide(request(), harvest_)
    number = labels[training][0]
    assert results[0].message.startswith(f"code cell {number} (`EPOCHS = ")
    assert ", line 6 raised NameError: loss_fn" in results[0].message
