"""The training cell: ``model``, the trained ``Net``, beats the bar on images it never saw, and
``test_accuracy = evaluate(model, x_test, y_test)`` is its accuracy on the test set.

``model`` must be an instance of the student's ``Net`` with a plausible number of weights; its logits
are asked for on the public test images (shuffled) and on *private* images, training images the
grader keeps back (:mod:`drlab.check.tp1.request`). The bar is measured on the private ones, and a
model far better on the public test images than on the private ones has looked the public ones up.
The model must also have learned (:mod:`drlab.check.tp1.integrity`): the notebook's dataset has its
classes renamed, so a model that answers with the public dataset's own labels is a lookup, and no
accuracy beyond what a TP1 model reaches is taken. Forged data may still pass
(``tests/test_check_forgery.py`` measures the ceilings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from drlab.check.messages import Text, text
from drlab.check.tp1.contract import (
    NORMALISED_MEAN,
    NORMALISED_STD,
    NUM_CLASSES,
    PARAMETER_RANGE,
    SOLUTION_ACCURACY,
    min_test_accuracy,
)
from drlab.check.tp1.evidence import (
    Context,
    Failed,
    missing_name,
    parameters,
    quoted,
    returned,
    sandbox_event,
)
from drlab.check.tp1.integrity import original_accuracy, suspicion
from drlab.check.tp1.net import student_net
from drlab.check.tp1.reference import accuracy, lookup_gap
from drlab.check.tp1.runs import own_data_loaders

#: the roots that make a trained model bad, in the order a hint should name them
TRAINING_ROOTS = ("inputs", "net", "softmax", "loss", "train", "net_size")
#: a first layer that receives the images shrunk more than this (relative to Batches' normalised images)
#: is given the images divided once more: ``x / 255`` in forward
SHRUNK_INPUTS = 1 / 20
#: a training whose sampled images carry another label than the dataset's this often lost its labels
WRONG_LABELS = 0.2
#: an epoch's mean loss this many times the loss of a model that guesses (log 10): the steps overshoot
EXPLODED = 3.0


@dataclass(frozen=True)
class TestMeasurement:
    """The trained ``model`` measured by the grader, with its own labels."""

    dataset: str
    size: int
    """private images"""
    accuracy: float
    """on the private images, which the notebook never saw (the bar)"""
    public_accuracy: float
    """on the public test split (what the notebook's test_accuracy should equal)"""
    public_size: int
    threshold: float
    original_accuracy: float
    """on the private images, under the dataset's own labels (not the renamed ones it was given)"""

    @property
    def looks_up(self) -> bool:
        """Far better on the public test images than on images it never saw: it recognises them."""
        return self.public_accuracy - self.accuracy > lookup_gap(
            self.public_accuracy, self.accuracy, self.public_size, self.size
        )


def model_measurement(ctx: Context) -> TestMeasurement:
    """The trained ``model`` measured on the private images and the public test set, with the grader's
    labels (or why it could not be)."""
    data, tensors = ctx.harvest.get("model")
    status = data.get("status")
    if status == "missing":
        raise missing_name("model")
    type_ = quoted(data.get("type"))
    if status == "not-module":
        raise Failed("model.not_module", cause="model", type=type_)
    if status == "error":
        raise Failed(sandbox_event(data.get("error")), cause="model")
    if data.get("is_net") is not True:
        raise Failed("model.not_net", cause="model", type=type_)
    count = sum(t.numel() for t in parameters(tensors))
    low, high = PARAMETER_RANGE
    if not low <= count <= high:
        raise Failed("model.size", cause="model", count=count, low=low, high=high)
    accuracies = {}
    for name, labels in ctx.request.labels.items():
        logits = tensors.get(f"logits.{name}")
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), NUM_CLASSES):
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else ()
            shown = str(got) if got else text("model.nothing")
            raise Failed("model.no_logits", cause="model", n=len(labels), got=shown)
        accuracies[name] = accuracy(logits, labels)
    request = ctx.request
    original = original_accuracy(
        tensors["logits.private"], request.labels["private"], request.kept["renaming"]
    )
    return TestMeasurement(
        request.dataset, len(request.labels["private"]), accuracies["private"],
        accuracies["test"], len(request.labels["test"]), min_test_accuracy(request.dataset, request.budget),
        original,
    )  # fmt: skip


def suspicion_of(ctx: Context) -> Text | None:
    """Why the trained model's accuracy is not taken as learned (it answers with the public dataset's
    own labels, or beyond what a TP1 model reaches), or None; asked of a model that was measured
    (:func:`model_measurement`), above the bar or not: a table scores ≈ 0 under the renamed classes."""
    test = ctx.outcome(model_measurement)
    return suspicion(ctx.request.dataset, ctx.request.budget, test.accuracy, test.original_accuracy)


def inputs_problem(ctx: Context) -> Failed | None:
    """A ✗ naming un-normalised inputs, when the images the notebook used are not normalised.

    The grader gives ``model`` the test images normalised as the notebook's ``Batches`` does
    (``(pixel/255 − mean)/std``: mean ≈ 0, std ≈ 1). A model trained on other inputs is measured
    on images it never saw the like of, and the notebook's own ``test_accuracy`` disagrees.
    """
    if "model" not in ctx.harvest.frames:
        return None
    inputs = ctx.harvest.frames["model"][0].get("inputs")
    if not isinstance(inputs, dict):
        return None
    for name in ("train_batches", "x_test", "x_val"):
        stats = inputs.get(name)
        if not isinstance(stats, dict) or not all(
            isinstance(stats.get(key), (int, float)) for key in ("mean", "std", "min", "max")
        ):
            continue
        mean, std = float(stats["mean"]), float(stats["std"])
        if abs(mean) <= NORMALISED_MEAN and NORMALISED_STD[0] <= std <= NORMALISED_STD[1]:
            continue
        return Failed(
            "model.not_normalised", cause="inputs",
            name="train_batches.x" if name == "train_batches" else name,
            mean=mean, std=std, low=float(stats["min"]), high=float(stats["max"]),
        )  # fmt: skip
    return None


def model_cause(ctx: Context, failure: Failed) -> str:
    """The root of "no trained model": a `loss_fn` that is missing (the training cell needs it), a Net
    whose size was reported above (a model of the same class has the same size), else its own."""
    cause = failure.cause or "model"
    if cause.startswith("missing:"):
        return ctx.first_cause("missing:loss_fn") or cause
    if failure.message.key == "model.size":
        return ctx.first_cause("net", "net_size") or cause
    return cause


def check_accuracy(ctx: Context) -> Text:
    try:
        test = ctx.outcome(model_measurement)
    except Failed as failure:
        raise Failed(failure.message, cause=model_cause(ctx, failure)) from None
    where = text("model.private_images", n=test.size, dataset=test.dataset)
    if test.looks_up:
        raise Failed(
            "model.looks_up", cause="lookup", public=test.public_accuracy, private=test.accuracy, where=where
        )
    suspicion = ctx.outcome(suspicion_of)
    if suspicion is not None:
        cause = ctx.first_cause(*TRAINING_ROOTS)
        key = "model.not_counted_training" if cause else "model.not_counted"
        raise Failed(key, cause=cause or "lookup", why=suspicion)
    measured = {"accuracy": test.accuracy, "where": where, "threshold": test.threshold}
    if test.accuracy > test.threshold:
        return text("model.ok", **measured)
    inputs = inputs_problem(ctx)
    if inputs is not None:
        raise Failed("model.below_inputs", cause="inputs", inputs=inputs.message, **measured)
    cause = ctx.first_cause(*TRAINING_ROOTS)
    if cause is not None:
        raise Failed("model.below_training_wrong", cause=cause, **measured)
    raise training_problem(ctx, measured) or Failed(
        "model.below", cause="accuracy", solution=SOLUTION_ACCURACY, **measured
    )


def training_problem(ctx: Context, measured: dict[str, object]) -> Failed | None:
    """Why the model trained badly, when the functions checked above are right: the notebook loads its
    own data, forward divides the normalised images again, the images lost their labels, or the
    training loss rose (a learning rate too large)."""
    loaders = own_data_loaders(ctx)
    if loaders:
        return Failed("model.below_own_data", cause="own_data", loaders=", ".join(loaders), **measured)
    try:
        scale = ctx.outcome(student_net).input_scale
    except Failed:
        scale = None
    if scale is not None and 0 < scale < SHRUNK_INPUTS:
        return Failed("model.below_shrunk", cause="net", factor=1 / scale, **measured)
    wrong, sampled = wrong_labels(ctx)
    if sampled and wrong > WRONG_LABELS * sampled:
        return Failed("model.below_labels", cause="labels", wrong=wrong, sampled=sampled, **measured)
    data = ctx.harvest.frames["model"][0] if "model" in ctx.harvest.frames else {}
    losses = data.get("train_loss")
    if isinstance(losses, list) and losses and all(isinstance(v, (int, float)) for v in losses):
        chance = math.log(NUM_CLASSES)  # the cross-entropy of a model that gives every class 1/10
        peak = max(float(v) if math.isfinite(v) else math.inf for v in losses)
        if peak > EXPLODED * chance or (len(losses) > 1 and losses[-1] >= losses[0]):
            lr = data.get("lr")
            shown = text("model.lr", lr=lr) if isinstance(lr, (int, float)) else ""
            return Failed("model.below_diverged", cause="lr", peak=peak, chance=chance, lr=shown, **measured)
    return None


def wrong_labels(ctx: Context) -> tuple[int, int]:
    """Of the first training images the notebook trained on (found in the dataset the notebook was given),
    how many carry another label than the dataset's: ``(wrong, found)``."""
    dataset = ctx.request.notebook_data
    tensors = ctx.harvest.frames["model"][1] if "model" in ctx.harvest.frames else {}
    images, labels = tensors.get("sample.x"), tensors.get("sample.y")
    if dataset is None or images is None or labels is None or len(images) != len(labels) or not len(images):
        return 0, 0
    raw = ((images.double() * dataset.std + dataset.mean) * 255).round().clamp(0, 255).to(torch.uint8)
    label_of = {
        image.tobytes(): int(label) for image, label in zip(dataset.x_train, dataset.y_train, strict=True)
    }
    known = [
        (label_of.get(row.numpy().tobytes()), int(label))
        for row, label in zip(raw.flatten(1), labels, strict=True)
    ]
    found = [(theirs, ours) for theirs, ours in known if theirs is not None]
    return sum(theirs != ours for theirs, ours in found), len(found)


def check_reported(ctx: Context) -> Text:
    try:
        test = ctx.outcome(model_measurement)
    except Failed as failure:
        raise Failed("reported.needs_model", cause=model_cause(ctx, failure)) from None
    data, _ = ctx.harvest.get("model")
    if data.get("test_accuracy") is None:
        raise missing_name(
            "test_accuracy",
            cause=ctx.first_cause("missing:loss_fn", "missing:model") or "missing:test_accuracy",
        )
    reported = returned(data.get("test_accuracy"))
    if reported.kind not in ("real", "tensor") or reported.value is None:
        raise Failed("reported.not_number", cause="reported", type=reported.type)
    value = reported.value
    suspicion = ctx.outcome(suspicion_of)
    if abs(value - test.public_accuracy) <= 0.005 and not test.looks_up and suspicion is None:
        return text("reported.ok", value=value, private=test.accuracy)
    if test.looks_up or suspicion is not None:
        root = None if test.looks_up else ctx.first_cause(*TRAINING_ROOTS)
        raise Failed("reported.looks_up", cause=root or "lookup")
    inputs = inputs_problem(ctx)
    if inputs is not None:
        raise Failed(
            "reported.inputs", cause="inputs", value=value, public=test.public_accuracy, inputs=inputs.message
        )
    if ctx.first_cause("own_data"):  # measured on the notebook's own images, the checker's are others
        raise Failed("reported.own_data", cause="own_data", value=value, public=test.public_accuracy)
    cause = ctx.first_cause("eval_mode", "evaluate")
    if cause is not None:
        raise Failed("reported.evaluate_wrong", cause=cause, value=value, public=test.public_accuracy)
    raise Failed("reported.wrong", cause="reported", value=value, public=test.public_accuracy)
