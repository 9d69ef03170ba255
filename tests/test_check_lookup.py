"""A ``Net`` that looks Fashion-MNIST's labels up instead of learning them (issue 23, item 4).

The private images the grader keeps back are public training images: a table of the dataset's 70,000
labels classifies them all (1.0). The lookup notebooks (``_lookup_notebooks.py``: a hash of the pixels
in a Python attribute, nearest thumbnails in buffers; honest ``train_one_epoch``, ``evaluate`` and
``loss_fn``; ``model = Net()`` never trained) used to score 14/14. Now the grader also trains a fresh
``Net()`` with the student's ``train_one_epoch`` on training images whose classes it renamed, and
measures it on the private images under the same renaming (:mod:`drlab.check.tp1.integrity`): a network
that learns, learns the renamed task; a table answers with the old names. The bar: a lookup scores no
more than an empty notebook on the model's two checks, every honest solution (CNN and MLP, English and
French, both budgets) keeps 14/14.

What remains, measured and asserted as such: the adaptive attacker (``learned_head``), whose trainable
part is a layer on top of the looked-up label, tuned to stay under the accuracies no TP1 model reaches.
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
from drlab.check.sandbox import bwrap_problem
from drlab.check.tp1 import integrity
from drlab.check.tp1.contract import TINY_MIN_TEST_ACCURACY
from drlab.check.tp1.evidence import sandbox_event
from drlab.cli import main
from test_check_tp1 import request, run_checks

pytestmark = pytest.mark.skipif(fashion_mnist() is None, reason="the real Fashion-MNIST is not installed")

MODEL_CHECKS = ("model_accuracy", "reported_accuracy")


@pytest.fixture(autouse=True)
def _tiny_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRLAB_NOTEBOOK_BUDGET", "tiny")
    monkeypatch.setenv("DRLAB_OFFLINE", "1")


def executed(cells: list[str]) -> dict[str, Any]:
    """The namespace of the cells, run in order in this process (as the sandbox runs them)."""
    namespace: dict[str, Any] = {"__name__": "tp1_notebook"}
    for number, source in enumerate(cells):
        exec(compile(source, f"<cell {number}>", "exec"), namespace)
    return namespace


def test_the_renaming_moves_every_class_and_depends_on_the_seed() -> None:
    permutations = [integrity.derangement(seed) for seed in range(50)]
    for permutation in permutations:
        assert sorted(permutation.tolist()) == list(range(10))
        assert bool((permutation != torch.arange(10)).all())  # a table's answer is never the renamed one
    assert len({tuple(p.tolist()) for p in permutations}) == 50


def test_the_request_holds_renamed_training_images_and_keeps_the_renaming() -> None:
    sent = request(0)
    permutation = sent.kept["retrain.permutation"]
    assert "retrain.permutation" not in sent.tensors
    assert len(sent.tensors["retrain.y"]) == integrity.RETRAIN_IMAGES["tiny"]
    # the oracle: the tiny budget's retraining images are its 600 training images, their labels renamed
    data = fashion_mnist()
    assert data is not None
    labels = data[1]
    seen = sent.notebook_data
    assert seen is not None
    order = torch.argsort(sent.tensors["retrain.x"].flatten(1).sum(1))
    expected = (torch.as_tensor(seen.x_train[:600]).float() / 255 - seen.mean) / seen.std
    assert torch.allclose(
        sent.tensors["retrain.x"].flatten(1).sum(1)[order],
        torch.sort(expected.flatten(1).sum(1)).values,
        atol=1e-3,
    )
    assert torch.equal(
        torch.bincount(sent.tensors["retrain.y"], minlength=10),
        torch.bincount(permutation[torch.as_tensor(labels[:600]).long()], minlength=10),
    )


@pytest.mark.parametrize("net", ["cnn", "mlp"])
def test_honest_networks_learn_the_renamed_classes_and_keep_14(net: str) -> None:
    results, facts = run_checks(executed(honest_cells(net)))
    failed = {r.id: r.message for r in results if not r.passed}
    assert failed == {}
    assert facts["test_accuracy"] > TINY_MIN_TEST_ACCURACY


@pytest.mark.parametrize("kind", ["hash", "nearest"])
def test_a_lookup_scores_no_more_than_an_empty_model_on_the_models_checks(kind: str) -> None:
    namespace = executed(lookup_cells(kind))
    results, facts = run_checks(namespace)
    by_id = {r.id: r for r in results}
    # before the renamed classes, this passed: right on every private image, not better on the public ones
    assert facts["test_accuracy"] >= 0.99
    assert abs(namespace["test_accuracy"] - facts["test_accuracy"]) < 0.02
    assert not any(by_id[check_id].passed for check_id in MODEL_CHECKS)  # an empty model: 0 of 2
    assert "renamed" in by_id["model_accuracy"].message
    assert by_id["reported_accuracy"].caused_by == "model_accuracy"
    # its honest functions still pass their own checks
    assert all(r.passed for r in results if r.id not in MODEL_CHECKS)


def test_a_lookup_under_the_ceiling_is_caught_by_the_renaming() -> None:
    """Without the ceiling (a lookup that is wrong 15% of the time would stay under it), the renamed
    classes alone catch a table: the fresh Net gets ≈ 0 on them."""
    namespace = executed(lookup_cells("hash"))
    frame = None

    class Keep:
        def send(
            self, name: str, data: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None
        ) -> None:
            nonlocal frame
            if name == "retrain":
                frame = (data, tensors or {})

    from drlab.check import harvest

    sent = request(0)
    harvest.harvest(namespace, sent.tensors, Keep(), seed=0, seconds=60)
    measured = integrity.retrained(
        frame, sent.labels["private"], sent.kept, len(sent.tensors["retrain.y"]), sandbox_event
    )
    assert isinstance(measured, integrity.Retrained) and measured.accuracy < 0.05
    verdict = integrity.suspicion("fashion-mnist", "tiny", 0.85, measured)
    assert verdict is not None and "renamed" in verdict.render("en") and "renommé" in verdict.render("fr")


def test_a_model_that_is_not_its_weights_is_caught_by_its_copy() -> None:
    """The switch: the grader's fresh Net() is an honest network (it learns the renamed classes), the
    notebook's model answers from a table set on it after Net() built it, 15% wrong (under the ceiling).
    A fresh Net() given model's state_dict answers as an untrained network: the copy gives it away."""
    results, facts = run_checks(executed(lookup_cells("switch")))
    by_id = {r.id: r for r in results}
    assert 0.8 < facts["test_accuracy"] < 0.9  # under the ceiling: before the copy, 14/14
    assert not any(by_id[check_id].passed for check_id in MODEL_CHECKS)
    assert "state_dict" in by_id["model_accuracy"].message
    assert "not in its weights" in by_id["model_accuracy"].message


def test_accuracies_no_tp1_model_reaches_are_flagged() -> None:
    honest = integrity.Retrained(0.78, 2000, 5000)
    assert integrity.suspicion("fashion-mnist", "full", 0.93, honest) is None  # the solution
    assert integrity.suspicion("fashion-mnist", "full", 0.99, honest) is not None
    assert integrity.suspicion("digits", "full", 1.0, honest) is None  # a good CNN may make no mistake there
    assert (
        integrity.suspicion("fashion-mnist", "full", 0.93, integrity.Retrained(0.99, 2000, 5000)) is not None
    )
    assert (
        integrity.suspicion("fashion-mnist", "full", 0.93, integrity.Retrained(0.12, 2000, 5000)) is not None
    )


def test_the_adaptive_lookup_is_what_remains() -> None:
    """The measured limit: a trainable layer on top of the looked-up label learns the renaming."""
    results, facts = run_checks(executed(lookup_cells("learned_head")))
    by_id = {r.id: r for r in results}
    assert 0.8 < facts["test_accuracy"] < 0.9
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
