"""The classic mistakes of TP1, one at a time: the first ✗ of the report names the real one, in English
and in French.

Each mistake is a notebook built from the instructor's solution (the English and the French edition:
the same code cells, another prose) by :func:`mistake_notebook`, with the edit a student makes. It is
graded in this process as the sandbox grades it (:func:`grade`): its code cells run in order with the
harvester's own runner (a cell that fails does not stop the next), the harvester calls its functions on
the grader's inputs, and every check is decided in each edition's language. A mistake that shows in a
function needs only the cells that define things; one whose symptom is the training, a cell's crash or
the data runs the whole notebook (with an MLP where the CNN's training time would add nothing).

The test asserts that the first ✗ is the check meant to name the mistake, with words of its hint that
name it, that no message makes a claim the mistake does not support, and that the other ✗ are marked as
consequences of the first: one mistake, one root. ``python tests/test_check_mistakes.py`` prints the
first ✗ of every mistake (with the grader that is importable: give ``PYTHONPATH`` another checkout's
``src`` to count what it names).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from test_check_tp1 import grader_data

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = {
    "en": ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb",
    "fr": ROOT / "instructor" / "fr" / "03_tp1_fashion_mnist_solution.ipynb",
}
# the solution's cells that define things, by cell id: set-up, data, batches, Net, train_one_epoch,
# evaluate, loss_fn
DEFINITIONS = ("tp1-02", "tp1-04", "tp1-08", "tp1-10", "tp1-13", "tp1-15", "tp1-loss")
FUNCTION_CHECKS = (
    "net_output", "net_logits", "net_size",
    "train_lowers_loss", "train_zero_grad", "train_returns_loss", "train_mode",
    "eval_accuracy", "eval_mode", "eval_no_grad", "loss_fn",
)  # fmt: skip

Edit = tuple[str, "str | None", str]  # (cell id, text to replace — None: the whole cell —, replacement)

#: a student's MLP in place of the solution's CNN (784 → 256 → 128 → 10): it trains in a second
MLP = '''class Net(nn.Module):
    """An MLP: 784 → 256 → 128 → 10."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )

    def forward(self, x):
        return self.layers(x)
'''
TRAIN_MODE = "    model.train()  # dropout on, batch norm learns from the batch's statistics\n"
NO_GRAD = "    with torch.no_grad():  # no graph: evaluation needs no gradients\n"


@dataclass(frozen=True)
class Mistake:
    """One mistake: its edits of the solution, and what the report must say first."""

    edits: tuple[Edit, ...]
    first: str | tuple[str, ...] | None
    """the check whose ✗ must come first, or the checks one of which must (when the data decide which: a
    model just above the bar fails only its reported accuracy); None: a right answer written another way,
    every check passes"""
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """by language, words the first ✗ must hold (or, with ``first=None``, the ✓ of ``noted``)"""
    whole: bool = False
    """run the whole notebook, its training included (else only the cells that define things)"""
    never: tuple[str, ...] = ()
    """words no message of the English report may hold: claims this mistake does not support"""
    noted: str = ""
    """with ``first=None``: the check whose ✓ message must hold ``words``"""


def words(en: str | tuple[str, ...], fr: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {
        "en": (en,) if isinstance(en, str) else en,
        "fr": (fr,) if isinstance(fr, str) else fr,
    }


MISTAKES: dict[str, Mistake] = {
    # ---- the table (issue 26)
    "MSELoss on integer labels": Mistake(
        (("tp1-loss", "nn.CrossEntropyLoss()", "nn.MSELoss()"),),
        "runs", words(("code cell 10", "TODO 4", "MSELoss"), ("cellule de code 10", "TODO 4", "MSELoss")),
        whole=True,
    ),
    "evaluate returns the count of right answers": Mistake(
        (("tp1-15", "return correct / len(y)", "return correct"),),
        "eval_accuracy", words("the number of right answers", "le nombre de bonnes réponses"),
        never=("memorised",),
    ),
    "evaluate reads the global x_test": Mistake(
        (("tp1-15", "    correct = 0\n", "    correct = 0\n    x, y = x_test, y_test\n"),),
        "eval_accuracy", words(("x_test", "the x and y it receives"), ("x_test", "x et y reçus")),
        never=("memorised", "x_train"),
    ),
    "train_one_epoch returns the loss tensor": Mistake(
        (("tp1-10", None, MLP), ("tp1-13", "return total_loss / n_batches", "return loss")),
        "runs", words(("code cell 11", "TODO 2", "returns a tensor"), ("TODO 2", "renvoie un tenseur")),
        whole=True,
    ),
    "x / 255 inside forward": Mistake(
        (("tp1-10", None, MLP.replace("self.layers(x)", "self.layers(x / 255)")),),
        "model_accuracy", words("x / 255", "x / 255"), whole=True, never=("train for more epochs",),
    ),
    "zero_grad() between backward() and step()": Mistake(
        (("tp1-13", "        loss.backward()  # ❸ gradients\n",
          "        loss.backward()  # ❸ gradients\n        optimizer.zero_grad()\n"),),
        "train_lowers_loss",
        words("zero_grad() runs between", "entre loss.backward() et optimizer.step()"),
        never=("average of loss.item()",),
    ),
    "LogSoftmax at the end of Net, NLLLoss": Mistake(
        (("tp1-10", None, MLP.replace("nn.Linear(128, 10)\n", "nn.Linear(128, 10), nn.LogSoftmax(dim=1)\n")),
         ("tp1-loss", "nn.CrossEntropyLoss()", "nn.NLLLoss()")),
        None, words("log-softmax", "log-softmax"), whole=True, noted="loss_fn",
    ),
    "reduction='sum'": Mistake(
        (("tp1-loss", "nn.CrossEntropyLoss()", "nn.CrossEntropyLoss(reduction='sum')"),),
        "loss_fn", words(("sum", "Adam", "SGD"), ("somme", "Adam", "SGD")),
        never=("the step size then grows",),
    ),
    "no model.train(), in an MLP": Mistake(
        (("tp1-10", None, MLP), ("tp1-13", TRAIN_MODE, "")),
        "train_mode", words("model.train()", "model.train()"),
        never=("its batch-norm statistics", "switched off", "stay off", "would stay"),
    ),
    "train_one_epoch ignores its loss_fn": Mistake(
        (("tp1-13", "loss_fn(logits, y_batch)", "nn.functional.cross_entropy(logits, y_batch)"),),
        "train_zero_grad", words("never called the loss_fn it was given", "jamais appelé la loss_fn reçue"),
    ),
    "evaluate returns a 0-dim tensor": Mistake(
        (("tp1-15", ".sum().item()", ".sum()"),),
        "eval_accuracy", words(("returns a tensor", "float"), ("renvoie un tenseur", "float")),
    ),
    "an earlier template's data cell": Mistake(
        (),  # the edits are the earlier template's cells: see test_an_earlier_template_is_told_to_take_the_data_cell
        # the sandbox has no dataset file: the earlier cell crashes there (IndexError, in the digits' fallback
        # without scikit-learn); here the fallback may run and train on the digits instead
        ("runs", "model_accuracy"), words(("load_tp1_dataset", "its own way"), ("load_tp1_dataset", "à sa façon")),
        whole=True,
    ),
    # ---- the four steps
    "no optimizer.zero_grad()": Mistake(
        (("tp1-13", "        optimizer.zero_grad()  # gradients accumulate: start from zero\n", ""),),
        "train_zero_grad", words("accumulated", "accumulés"),
    ),
    "no optimizer.step()": Mistake(
        (("tp1-13", "        optimizer.step()  # ❹ update of the parameters\n", ""),),
        "train_lowers_loss", words("optimizer.step() was never called", "optimizer.step() n'a jamais été appelé"),
    ),
    "no loss.backward()": Mistake(
        (("tp1-13", "        loss.backward()  # ❸ gradients\n", ""),),
        "train_lowers_loss", words("loss.backward() is missing", "il manque loss.backward()"),
    ),
    "the forward pass under torch.no_grad()": Mistake(
        (("tp1-13", "        logits = model(x_batch)  # ❶ forward pass (propagation avant)\n",
          "        with torch.no_grad():\n            logits = model(x_batch)  # ❶ forward pass (propagation avant)\n"),),
        "train_lowers_loss", words(("torch.no_grad()", "graph"), ("torch.no_grad()", "graphe")),
    ),
    ".detach().requires_grad_() in the loop": Mistake(
        (("tp1-13", "logits = model(x_batch)  #", "logits = model(x_batch).detach().requires_grad_()  #"),),
        "train_lowers_loss", words(".detach()", ".detach()"),
    ),
    "softmax before loss_fn in the loop": Mistake(
        (("tp1-13", "loss_fn(logits, y_batch)", "loss_fn(torch.softmax(logits, dim=1), y_batch)"),),
        "train_zero_grad", words("softmax", "softmax"),
    ),
    "train_one_epoch loops over the global train_batches": Mistake(
        (("tp1-13", "for x_batch, y_batch in batches:", "for x_batch, y_batch in train_batches:"),),
        "train_lowers_loss", words("train_batches", "train_batches"),
    ),
    "only the first batch": Mistake(
        (("tp1-13", "        n_batches += 1\n", "        n_batches += 1\n        break\n"),),
        "train_zero_grad", words("only the first batch", "seul le premier batch"),
    ),
    "no model.train(), in the CNN": Mistake(
        (("tp1-13", TRAIN_MODE, ""),), "train_mode", words("model.train()", "model.train()"),
    ),
    # ---- what train_one_epoch returns
    "returns the last batch's loss": Mistake(
        (("tp1-13", "return total_loss / n_batches", "return loss.item()"),),
        "train_returns_loss", words("last batch", "dernier batch"),
    ),
    "returns the sum of the batch losses": Mistake(
        (("tp1-13", "return total_loss / n_batches", "return total_loss"),),
        "train_returns_loss", words("sum of the batch losses", "somme des loss"),
    ),
    "adds up loss tensors (no .item())": Mistake(
        (("tp1-13", "total_loss += loss.item()", "total_loss += loss"),),
        "train_returns_loss", words("returns a tensor", "renvoie un tenseur"),
    ),
    # ---- evaluate
    "no model.eval()": Mistake(
        (("tp1-15", "    model.eval()  # dropout off, batch norm on its running statistics\n", ""),),
        "eval_mode", words("model.eval()", "model.eval()"),
    ),
    "no torch.no_grad() in evaluate": Mistake(
        (("tp1-15", NO_GRAD, "    if True:\n"),), "eval_no_grad", words("no_grad", "no_grad"),
    ),
    "argmax() without dim": Mistake(
        (("tp1-15", "logits.argmax(dim=1)", "logits.argmax()"),),
        "eval_accuracy", words("without dim", "sans dim"),
    ),
    "argmax(dim=0)": Mistake(
        (("tp1-15", "logits.argmax(dim=1)", "logits.argmax(dim=0)"),),
        "eval_accuracy", words(("dim=0", "dim=1"), ("dim=0", "dim=1")),
    ),
    "accuracy as a percentage": Mistake(
        (("tp1-15", "return correct / len(y)", "return 100 * correct / len(y)"),),
        "eval_accuracy", words("percentage", "pourcentage"),
    ),
    "integer division //": Mistake(
        (("tp1-15", "return correct / len(y)", "return correct // len(y)"),),
        "eval_accuracy", words("integer division", "division entière"),
    ),
    "divided by the chunk size": Mistake(
        (("tp1-15", "return correct / len(y)", "return correct / chunk"),),
        "eval_accuracy", words(("divided by 1,000", "len(y)"), ("divisé par 1\u202f000", "len(y)")),
    ),
    "mean of per-chunk accuracies": Mistake(
        (("tp1-15", ".sum().item()", ".float().mean().item()"),
         ("tp1-15", "return correct / len(y)", "return correct / len(range(0, len(y), chunk))")),
        "eval_accuracy", words("averages the accuracies of the chunks", "moyenne des exactitudes des paquets"),
    ),
    "a mean of booleans": Mistake(
        (("tp1-15", ".sum().item()", ".mean().item() * len(logits)"),),
        "eval_accuracy", words(".float()", ".float()"),
    ),
    "evaluate on the training set": Mistake(
        (("tp1-15", "    correct = 0\n", "    correct = 0\n    x, y = train_batches.x, train_batches.y\n"),),
        "eval_accuracy", words(("x_train", "the x and y it receives"), ("x_train", "x et y reçus")),
    ),
    # ---- Net
    "softmax at the end of forward": Mistake(
        (("tp1-10", "return self.classifier(self.features(x))",
          "return torch.softmax(self.classifier(self.features(x)), dim=1)"),),
        "net_logits", words("probabilities", "probabilités"),
    ),
    "9 outputs instead of 10": Mistake(
        (("tp1-10", "nn.Linear(128, num_classes)", "nn.Linear(128, 9)"),),
        "net_output", words("9 outputs per image", "9 sorties par image"),
    ),
    "no super().__init__()": Mistake(
        (("tp1-10", "        super().__init__()\n", ""),),
        "net_output", words("super().__init__()", "super().__init__()"),
    ),
    "no flatten before the first Linear": Mistake(
        (("tp1-10", None, MLP.replace("nn.Flatten(), ", "")),),
        "net_output", words("flatten", "aplatissez"),
    ),
    "forward returns nothing": Mistake(
        (("tp1-10", "return self.classifier(self.features(x))", "self.classifier(self.features(x))"),),
        "net_output", words("NoneType", "NoneType"),
    ),
    "layers in a plain Python list": Mistake(
        (("tp1-10", None, MLP.replace(
            "self.layers = nn.Sequential(\n            nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)\n        )",
            "self.layers = [nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)]",
        ).replace("return self.layers(x)", "for layer in self.layers:\n            x = layer(x)\n        return x")),),
        "runs", words(("code cell 10", "plain Python list"), ("cellule de code 10", "simple liste Python")),
        whole=True,
    ),
    # ---- the loss
    "MSE on one-hot targets": Mistake(
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return nn.functional.mse_loss(logits, nn.functional.one_hot(y, 10).float())"),),
        "loss_fn", words("mean squared error", "erreur quadratique moyenne"),
    ),
    "softmax inside loss_fn": Mistake(
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return nn.CrossEntropyLoss()(torch.softmax(logits, dim=1), y)"),),
        "loss_fn", words("squashed twice", "écrasés deux fois"),
    ),
    "NLLLoss on raw logits": Mistake(
        (("tp1-loss", "nn.CrossEntropyLoss()", "nn.NLLLoss()"),), "loss_fn", words("NLLLoss", "NLLLoss"),
    ),
    "the loss class, not an instance": Mistake(
        (("tp1-loss", "nn.CrossEntropyLoss()", "nn.CrossEntropyLoss"),),
        "loss_fn", words("a class", "une classe"),
    ),
    "a loss cut from the graph": Mistake(
        (("tp1-loss", "loss_fn = nn.CrossEntropyLoss()",
          "def loss_fn(logits, y):\n    return torch.tensor(nn.functional.cross_entropy(logits, y).item())"),),
        "loss_fn", words("no gradient flows", "aucun gradient ne remonte"),
    ),
    # ---- the data and the training cell
    "images and labels shuffled apart": Mistake(
        (("tp1-10", None, MLP),
         ("tp1-08", "BATCH_SIZE = 128\n",
          "x_train = x_train[np.random.permutation(len(x_train))]\ny_train = y_train[np.random.permutation(len(y_train))]\nBATCH_SIZE = 128\n")),
        "model_accuracy", words("shuffled apart", "mélangés séparément"), whole=True,
        never=("train for more epochs",),
    ),
    # Adam's steps are about LR long whatever the gradient: too large a rate leaves the MLP at 0.23–0.45
    # on the tiny budget, by seed; 3 stays under the 0.4 bar at seeds 0–3 (0.30, 0.30, 0.28, 0.39)
    "a learning rate of 3": Mistake(
        (("tp1-10", None, MLP), ("tp1-17", "LR = 1e-3", "LR = 3")),
        "model_accuracy", words(("learning rate 3", "LR = 1e-3"), ("pas d'apprentissage 3", "LR = 1e-3")),
        never=("train for more epochs",),
        whole=True,
    ),
    "un-normalised images": Mistake(
        (("tp1-10", None, MLP),
         ("tp1-08", "normalise = dict(mean=dataset.mean, std=dataset.std, device=device)",
          "normalise = dict(device=device)")),
        ("model_accuracy", "reported_accuracy"), words("not normalised", "pas normalisées"), whole=True,
    ),
    "test_accuracy on the validation set": Mistake(
        (("tp1-10", None, MLP),
         ("tp1-17", "test_accuracy = evaluate(model, x_test, y_test)", "test_accuracy = evaluate(model, x_val, y_val)")),
        "reported_accuracy", words("evaluate(model, x_test, y_test)", "evaluate(model, x_test, y_test)"),
        whole=True,
    ),
}  # fmt: skip

# --------------------------------------------------------------------------------------------------
# Building and grading a mistake notebook


def mistake_notebook(lang: str, edits: tuple[Edit, ...]) -> nbformat.NotebookNode:
    """The instructor's solution in ``lang`` with ``edits`` made, each on the one code cell it names."""
    nb = nbformat.read(SOLUTIONS[lang], as_version=4)
    for cell_id, old, new in edits:
        (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.get("id") == cell_id]
        if old is None:
            cell.source = new
        else:
            assert cell.source.count(old) == 1, f"{cell_id}: {old!r} is not there once"
            cell.source = cell.source.replace(old, new)
    return nb


def earlier_template(lang: str) -> nbformat.NotebookNode:
    """The solution with the set-up and data cells of the template before the grader's sandbox (commit
    51c4740): Fashion-MNIST through load_fashion_mnist, else the digits enlarged by the notebook itself."""
    return mistake_notebook(lang, (("tp1-02", None, EARLIER_SETUP), ("tp1-04", None, EARLIER_DATA)))


EARLIER_SETUP = """import dataclasses
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from drlab.common.device import resolve_device
from drlab.common.errors import DrlabError
from drlab.common.seeding import seed_everything
from drlab.data import Batches, load_digits, train_val_split

SEED = 0
BUDGET = os.environ.get("DRLAB_NOTEBOOK_BUDGET", "full")  # "tiny" in CI
seed_everything(SEED)  # Python, NumPy and torch, in one call
device = resolve_device("auto")  # CUDA, then MPS, then the CPU
"""
EARLIER_DATA = """def digits_28x28(images):
    \"\"\"Enlarge 8×8 digits to 28×28: each pixel repeated 3×3 (24×24), then a 2-pixel black border.\"\"\"
    enlarged = images.repeat(3, axis=1).repeat(3, axis=2)
    return np.pad(enlarged, ((0, 0), (2, 2), (2, 2)))


try:
    from drlab.data import load_fashion_mnist

    dataset = load_fashion_mnist(download=BUDGET != "tiny")
except (ImportError, DrlabError, OSError, ValueError) as exc:
    digits = load_digits()
    dataset = dataclasses.replace(
        digits, x_train=digits_28x28(digits.x_train), x_test=digits_28x28(digits.x_test)
    )
if BUDGET == "tiny":
    dataset = dataset.limit(600)  # the first 600 training and 600 test images
"""


class Collector:
    """A data channel that keeps the frames in memory (the first of each name, as the grader does)."""

    def __init__(self) -> None:
        self.frames: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def send(self, name: str, data: dict[str, Any], tensors: dict[str, Any] | None = None) -> None:
        copied = {key: value.detach().clone() for key, value in (tensors or {}).items()}
        self.frames.setdefault(name, (json.loads(json.dumps(data)), copied))


@functools.cache
def request(seed: int = 0) -> Any:
    from drlab.check import tp1

    return tp1.build_request(seed, "tiny")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The notebook's prints, warnings and plots, kept out of the test's output."""
    import warnings

    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def graded(
    notebooks: dict[str, nbformat.NotebookNode], *, whole: bool, seed: int = 0
) -> dict[str, tuple[list[Any], dict[str, Any]]]:
    """Grade the notebooks (one per language, the same code) as the sandbox would, in this process: run
    their code cells (all of them, or the defining ones), harvest, and decide in each notebook's language:
    ``{lang: (results, facts)}``."""
    from drlab.check import harvest, tp1
    from drlab.check.runner import cell_labels, report_language

    english = next(iter(notebooks.values()))
    cells = [
        {"index": index, "source": cell.source}
        for index, cell in enumerate(english.cells)
        if cell.cell_type == "code" and cell.source.strip() and (whole or cell.get("id") in DEFINITIONS)
    ]
    sent = request(seed)
    collector = Collector()
    with quiet(), grader_data(seed):
        namespace, report = harvest.run_cells(cells, 600.0)
        collector.send("cells", report)
        harvest.harvest(namespace, sent.tensors, collector, seed=seed, seconds=60.0)
    decided = {}
    for nb in notebooks.values():
        lang = report_language(nb, "auto")
        kwargs: dict[str, Any] = {"cell_labels": cell_labels(nb)}
        if "cell_sources" in tp1.Harvest.__dataclass_fields__:  # a grader before issue 26 has none
            kwargs["cell_sources"] = {cell["index"]: cell["source"] for cell in cells}
        decided[lang] = tp1.decide(sent, tp1.Harvest(collector.frames, **kwargs), lang=lang)
    return decided


def grade(notebooks: dict[str, nbformat.NotebookNode], *, whole: bool, seed: int = 0) -> dict[str, list[Any]]:
    """The checks' results of :func:`graded`, by language."""
    return {lang: results for lang, (results, _) in graded(notebooks, whole=whole, seed=seed).items()}


def code_of(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


# --------------------------------------------------------------------------------------------------
# The tests


@pytest.fixture(autouse=True)
def _as_in_the_sandbox(monkeypatch: pytest.MonkeyPatch, tp1_data_read_once: None) -> None:
    """The tiny budget, offline, and the harvester's plain runner (no IPython shell, whose namespace
    would carry over from one notebook to the next)."""
    from drlab.check import harvest

    monkeypatch.setenv("DRLAB_NOTEBOOK_BUDGET", "tiny")
    monkeypatch.setenv("DRLAB_OFFLINE", "1")
    monkeypatch.setattr(harvest, "make_shell", lambda: None)
    request(0)  # drawn from the real dataset, before any test hides it


def judge(name: str, mistake: Mistake, results: dict[str, list[Any]]) -> None:
    for lang, checks in results.items():
        failed = [check for check in checks if not check.passed]
        if mistake.first is None:
            assert failed == [], (name, lang, [(c.id, c.message) for c in failed])
            (noted,) = [check for check in checks if check.id == mistake.noted]
            assert all(word in noted.message for word in mistake.words[lang]), (name, lang, noted.message)
            continue
        first = failed[0]
        expected = (mistake.first,) if isinstance(mistake.first, str) else mistake.first
        assert first.id in expected and not first.caused_by, (name, lang, first.id, first.message)
        missing = [word for word in mistake.words[lang] if word not in first.message]
        assert missing == [], (name, lang, missing, first.message)
        # one mistake, one root: every later ✗ says it is a consequence (only the functions' checks
        # when the notebook's training cell did not run)
        considered = [c for c in failed[1:] if mistake.whole or c.id in FUNCTION_CHECKS]
        assert [c.id for c in considered if not c.caused_by] == [], (name, lang)
    for word in mistake.never:
        assert not any(word in check.message for check in results["en"]), (name, word)


@pytest.mark.parametrize("name", [name for name in MISTAKES if name != "an earlier template's data cell"])
def test_the_first_failure_names_the_mistake(name: str) -> None:
    mistake = MISTAKES[name]
    notebooks = {lang: mistake_notebook(lang, mistake.edits) for lang in SOLUTIONS}
    assert code_of(notebooks["en"]) == code_of(notebooks["fr"])  # one harvest serves both languages
    judge(name, mistake, grade(notebooks, whole=mistake.whole))


def test_an_earlier_template_is_told_to_take_the_data_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook that loads Fashion-MNIST its own way finds no file in the sandbox (no network, no
    dataset: only load_tp1_dataset finds the grader's copy); here the dataset's folders are hidden."""
    monkeypatch.setenv("DRLAB_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "no-system-data"))
    notebooks = {lang: earlier_template(lang) for lang in SOLUTIONS}
    name = "an earlier template's data cell"
    judge(name, MISTAKES[name], grade(notebooks, whole=True))


def main() -> None:
    """Print the first ✗ of every mistake, in English and French, and count those named as the table says."""
    import os

    os.environ.setdefault("DRLAB_NOTEBOOK_BUDGET", "tiny")
    os.environ.setdefault("DRLAB_OFFLINE", "1")
    from drlab.check import harvest

    harvest.make_shell = lambda: None  # type: ignore[assignment]
    request(0)
    named = 0
    for name, mistake in MISTAKES.items():
        hidden = {"DRLAB_DATA": "/nonexistent", "XDG_DATA_DIRS": "/nonexistent"}
        saved = {key: os.environ.get(key) for key in hidden}
        if name == "an earlier template's data cell":
            os.environ.update(hidden)
            notebooks = {lang: earlier_template(lang) for lang in SOLUTIONS}
        else:
            notebooks = {lang: mistake_notebook(lang, mistake.edits) for lang in SOLUTIONS}
        results = grade(notebooks, whole=mistake.whole)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            judge(name, mistake, results)
            verdict = "named"
            named += 1
        except AssertionError:
            verdict = "NOT NAMED"
        print(f"\n{verdict}: {name}")
        for lang, checks in results.items():
            failed = [check for check in checks if not check.passed]
            shown = f"✗ {failed[0].id}: {failed[0].message}" if failed else "every check passes"
            print(f"  [{lang}] {shown[:600]}")
    print(f"\nRESULT {json.dumps({'named': named, 'mistakes': len(MISTAKES)})}")


if __name__ == "__main__":
    main()
