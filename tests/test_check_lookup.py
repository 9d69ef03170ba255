"""A ``Net`` that looks Fashion-MNIST's labels up instead of learning them (issue 23, item 4).

The private images the grader keeps back are public training images: a table of the dataset's 70,000
labels classifies them all (1.0). The lookup notebooks (``_lookup_notebooks.py``: a hash of the pixels
in a Python attribute, nearest thumbnails in buffers, a table set on ``model`` after ``Net()`` built it;
honest ``train_one_epoch``, ``evaluate`` and ``loss_fn``; ``model`` never trained) used to score 14/14.
Now the dataset the notebook is given has its classes renamed, and so have the labels the grader keeps
(:mod:`drlab.check.tp1.integrity`): a network learns the numbers it is trained with; a table answers with
the dataset's own, and gets ≈ 0. The bar: a lookup scores no more than an empty notebook on the model's
two checks, every honest solution (CNN and MLP, English and French, both budgets) keeps 14/14.

What remains, measured and asserted as such: the adaptive attacker (``learned_head``), whose trainable
part is a layer on top of the looked-up label that the notebook trains on the data it is given, tuned to
stay under the accuracies no TP1 model reaches.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from _lookup_notebooks import fashion_mnist, honest_cells, lookup_cells, notebook
from drlab.check import tp1
from drlab.check.sandbox import bwrap_problem
from drlab.check.tp1 import integrity
from drlab.check.tp1.contract import TINY_MIN_TEST_ACCURACY
from drlab.cli import main
from drlab.data.fashion_mnist import load_fashion_mnist
from test_check_tp1 import grader_data, harvested, request, run_checks

pytestmark = pytest.mark.skipif(fashion_mnist() is None, reason="the real Fashion-MNIST is not installed")

MODEL_CHECKS = ("model_accuracy", "reported_accuracy")


@pytest.fixture(autouse=True)
def _tiny_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRLAB_NOTEBOOK_BUDGET", "tiny")
    monkeypatch.setenv("DRLAB_OFFLINE", "1")


def executed(cells: list[str], seed: int = 0) -> dict[str, Any]:
    """The namespace of the cells, run in order in this process on the grader's data (as the sandbox
    runs them)."""
    namespace: dict[str, Any] = {"__name__": "tp1_notebook"}
    with grader_data(seed):
        for number, source in enumerate(cells):
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
    return namespace


def test_the_renaming_moves_every_class_and_depends_on_the_seed() -> None:
    permutations = [integrity.derangement(seed) for seed in range(50)]
    for permutation in permutations:
        assert sorted(permutation.tolist()) == list(range(10))
        assert bool((permutation != torch.arange(10)).all())  # a table's answer is never the renamed one
    assert len({tuple(p.tolist()) for p in permutations}) == 50


def test_the_notebooks_data_has_its_classes_renamed_and_the_grader_keeps_the_renaming() -> None:
    sent = request(0)
    renaming = sent.kept["renaming"]
    assert torch.equal(renaming, integrity.derangement(0))
    assert not any("renaming" in name or "retrain" in name for name in sent.tensors)
    # the oracle: the real files' labels, each class given another's number; the images and names as they are
    data = fashion_mnist()
    assert data is not None
    images, labels = data
    seen = sent.notebook_data
    assert seen is not None
    assert (seen.x_train[:600] == images[:600]).all()
    assert (seen.y_train[:600] == renaming.numpy()[labels[:600]]).all()
    assert (seen.y_train[:600] != labels[:600]).all()  # a table's answer is never the renamed one
    assert seen.classes == load_fashion_mnist(download=False).classes
    namespace = executed(honest_cells("cnn")[:2])  # the set-up and data cells: what the notebook loads
    assert (namespace["dataset"].y_train == seen.y_train[:600]).all()


@pytest.mark.parametrize("net", ["cnn", "mlp"])
def test_honest_networks_learn_the_renamed_classes_and_keep_14(net: str) -> None:
    results, facts = run_checks(executed(honest_cells(net)))
    failed = {r.id: r.message for r in results if not r.passed}
    assert failed == {}
    assert facts["test_accuracy"] > TINY_MIN_TEST_ACCURACY


@pytest.mark.parametrize("kind", ["hash", "nearest", "switch"])
def test_a_lookup_scores_no_more_than_an_empty_model_on_the_models_checks(kind: str) -> None:
    sent, frames = request(0), harvested(executed(lookup_cells(kind)))
    results, facts = tp1.decide(sent, frames)
    by_id = {r.id: r for r in results}
    # under the dataset's own labels, it is right on most private images (before the renaming: 14/14)
    _, measured = frames.get("model")
    original = integrity.original_accuracy(
        measured["logits.private"], sent.labels["private"], sent.kept["renaming"]
    )
    assert original >= (0.8 if kind == "switch" else 0.99)
    assert facts["test_accuracy"] < 0.05  # under the renamed classes of the data it was given
    assert not any(by_id[check_id].passed for check_id in MODEL_CHECKS)  # an empty model: 0 of 2
    assert "own labels" in by_id["model_accuracy"].message
    assert by_id["reported_accuracy"].caused_by == "model_accuracy"
    # its honest functions still pass their own checks
    assert all(r.passed for r in results if r.id not in MODEL_CHECKS)
    french = {r.id: r for r in tp1.decide(sent, frames, lang="fr")[0]}
    assert "jeu de données public" in french["model_accuracy"].message


def test_what_is_taken_as_learned() -> None:
    """The oracle of :func:`integrity.suspicion`: the accuracy under the renamed classes against the one
    under the dataset's own labels, and the accuracies no TP1 model reaches."""
    assert integrity.suspicion("fashion-mnist", "full", 0.93, 0.02) is None  # the solution
    assert integrity.suspicion("fashion-mnist", "tiny", 0.72, 0.03) is None
    assert integrity.suspicion("fashion-mnist", "tiny", 0.10, 0.10) is None  # untrained: no lookup
    assert integrity.suspicion("fashion-mnist", "tiny", 0.01, 0.85) is not None  # a table, 15% wrong
    assert integrity.suspicion("digits", "tiny", 0.0, 0.97) is not None
    assert integrity.suspicion("fashion-mnist", "full", 0.99, 0.0) is not None  # beyond any TP1 model
    assert integrity.suspicion("digits", "full", 1.0, 0.0) is None  # a good CNN may make no mistake there
    # the oracle of original_accuracy: answers that are the dataset's own labels, counted by hand
    renaming = integrity.derangement(3)
    own = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    answers = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3, 4, 0, 0, 0, 0, 0]), 10).float()
    assert integrity.original_accuracy(answers, renaming[own], renaming) == 0.5


def test_the_adaptive_lookup_is_what_remains() -> None:
    """The measured limit: a trainable layer on top of the looked-up label, trained by the notebook on
    the data it was given, learns the renaming."""
    results, facts = run_checks(executed(lookup_cells("learned_head")))
    by_id = {r.id: r for r in results}
    assert 0.7 < facts["test_accuracy"] < integrity.CEILINGS["fashion-mnist", "tiny"]
    assert all(by_id[check_id].passed for check_id in MODEL_CHECKS), by_id["model_accuracy"].message


# --------------------------------------------------------------------------------------------------
# Through the real sandbox and command line


@pytest.mark.slow
@pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
def test_lookups_and_honest_notebooks_through_the_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(notebook(["print('hello')"]), submissions / "empty.ipynb")
    for kind in ("hash", "nearest", "switch", "learned_head"):
        nbformat.write(notebook(lookup_cells(kind)), submissions / f"lookup_{kind}.ipynb")
    nbformat.write(notebook(honest_cells("cnn")), submissions / "honest_cnn.ipynb")
    nbformat.write(notebook(honest_cells("mlp")), submissions / "honest_mlp.ipynb")
    french = nbformat.read(
        Path(__file__).parents[1] / "instructor" / "fr" / "03_tp1_fashion_mnist_solution.ipynb", 4
    )
    nbformat.write(french, submissions / "honest_fr.ipynb")
    scores = tmp_path / "scores.csv"
    code = main(
        ["check", "tp1", str(submissions), "--csv", str(scores), "--budget", "tiny", "--timeout", "300",
         "--jobs", "2", "--seed", "5"]
    )  # fmt: skip
    capsys.readouterr()
    with open(scores, newline="", encoding="utf-8") as handle:
        rows = {Path(row["notebook"]).stem: row for row in csv.DictReader(handle)}
    assert code == 1
    for name in ("honest_cnn", "honest_mlp", "honest_fr"):
        assert rows[name]["score"] == "14" and rows[name]["sandbox"] == "bwrap", rows[name]["first_problem"]
    assert all(rows["empty"][check_id] == "0" for check_id in MODEL_CHECKS)
    for kind in ("hash", "nearest", "switch"):
        row = rows[f"lookup_{kind}"]
        assert [row[check_id] for check_id in MODEL_CHECKS] == ["0", "0"], row
        assert row["score"] == "12"  # its honest functions
    assert rows["lookup_learned_head"]["score"] == "14"  # the measured limit
    print({name: row["score"] for name, row in rows.items()}, os.getloadavg())
