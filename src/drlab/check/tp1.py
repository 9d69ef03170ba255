"""The checks of TP1 (``notebooks/03_tp1_fashion_mnist.ipynb``), decided in the grader's own process.

The notebook runs in a sandbox (:mod:`drlab.check.sandbox`); there, :mod:`drlab.check.harvest` calls the
student's code on inputs chosen here and sends back data only. Every verdict is computed here, from
data held against the reference below and labels that never enter the sandbox — never from what the
sandbox *says* happened (its spies' records only choose a hint for a check that already failed):

- the *probes* (small networks of the grader's, :class:`~drlab.check.harvest.ProbeNet`) and their data
  are drawn from ``--seed``: a different seed, different weights, images and expected accuracy;
- ``train_one_epoch`` is judged by the weights it leaves (against the reference's four steps), and
  its training mode by a batch-norm probe's statistics, which move only in a forward pass in training
  mode; ``evaluate`` by the numbers it returns, on a plain probe and on two *marked* ones whose scores
  move by one class in training mode or under autograd — a forgotten ``model.eval()`` or
  ``torch.no_grad()`` then gives an accuracy the grader computes;
- the trained ``model`` must be an instance of the student's ``Net`` with a plausible number of
  weights; its logits are asked for on the public test images (shuffled) and on *private* images:
  training images the grader keeps back, drawn from the seed. The notebook's sandbox holds the dataset
  without them (:func:`hold_out`) and none of the dataset's own files, so their labels exist nowhere
  the notebook can read: the bar is measured there, and a model far better on the public test images
  than on the private ones has looked the public ones up;
- a check whose data did not come back fails: the score is always out of the same 14.

What this cannot tell: who computed the data. The student's cells share the sandbox's process with
the harvester, so a notebook can send frames itself; it passes a check only with the data a right
computation gives, but the checks of ``Net()``'s output and size are those data themselves, and the
model's logits may come from any classifier (``tests/test_check_forgery.py`` measures the ceilings).

The checker teaches: each ✗ names the likely cause, from the evidence the grader holds (its reference
run beside the student's result and the classic mistakes, what reached the parameters during the
student's four steps, the statistics of the images the notebook trained on), and a later ✗ with the
same root says "caused by the failure above" instead of a second, misleading hint. Every title and
message exists in English and in French (the course's vocabulary: propagation avant, rétropropagation,
remise à zéro des gradients, mise à jour des paramètres); the report speaks the notebook's language.

The contract, stated in the notebook — what the student defines:

- ``class Net(nn.Module)``, built as ``Net()``, mapping images ``(B, 1, 28, 28)`` to ``(B, 10)`` *logits*;
- ``train_one_epoch(model, batches, optimizer, loss_fn) -> float``: one epoch ("époque") of the lecture's
  four steps over ``batches``, returning the mean batch loss;
- ``evaluate(model, x, y) -> float``: the accuracy of ``model`` on ``(x, y)``, a fraction in [0, 1];
- ``loss_fn(logits, y_batch)``: the loss of a classification, the cross-entropy of the logits;
- ``model``, the trained ``Net``, and ``test_accuracy = evaluate(model, x_test, y_test)``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from drlab.check import integrity
from drlab.check.harvest import PROBES, ProbeNet, probe_state
from drlab.check.report import CheckResult, printable
from drlab.check.sandbox import WALL_FACTOR
from drlab.data.datasets import ImageDataset
from drlab.data.tp1 import TINY_SAMPLES, load_tp1_dataset

__all__ = [
    "CHECKS", "CHECK_IDS", "CheckResult", "Context", "Harvest", "Lang", "Request", "build_request", "decide",
]  # fmt: skip

Lang = Literal["en", "fr"]
_T = TypeVar("_T")

IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
#: a sane model for TP1: more than a handful of weights, less than a laptop CPU can train in a session
PARAMETER_RANGE = (1_000, 5_000_000)
#: test accuracy to beat with the full budget; the solution's CNN reaches ≥ 0.92 on Fashion-MNIST
MIN_TEST_ACCURACY = {"fashion-mnist": 0.85, "digits": 0.95}
#: with the tiny budget (CI, a quick look) the bar is only "clearly better than chance" (0.1)
TINY_MIN_TEST_ACCURACY = 0.4
#: time limit of one check's call into the student's code, by default
CHECK_SECONDS = 60.0
#: training images the grader keeps back, by budget: the trained model is measured on them, and the
#: notebook's sandbox holds every image but these (at most half of the training images after the first 600)
PRIVATE_IMAGES = {"full": 5000, "tiny": 600}
#: images in evaluate's second probe: a prime number, so that any chunk size leaves a smaller last chunk
EVALUATE_BIG = 1037
#: labels in the loss probe: not 10, so that a (B, 10) - (B,) broadcast fails as it would in training
LOSS_BATCH = 7
#: normalised images have a mean near 0 and a standard deviation near 1 (the notebook's Batches)
NORMALISED_MEAN = 0.6
NORMALISED_STD = (0.5, 2.0)
#: where the notebook asks for each name, for the hints (English, French)
WHERE = {
    "Net": ("the cell marked TODO 1", "la cellule marquée TODO 1"),
    "train_one_epoch": ("the cell marked TODO 2", "la cellule marquée TODO 2"),
    "evaluate": ("the cell marked TODO 3", "la cellule marquée TODO 3"),
    "loss_fn": ("the cell marked TODO 4", "la cellule marquée TODO 4"),
    "model": (
        "the training cell (run it after TODO 1–4)",
        "la cellule d'entraînement (exécutez-la après les TODO 1 à 4)",
    ),
    "test_accuracy": (
        "the training cell (run it after TODO 1–4)",
        "la cellule d'entraînement (exécutez-la après les TODO 1 à 4)",
    ),
}
NO_ANSWER = (
    "no answer came back from the notebook's sandbox for this check: it was stopped or ended before "
    "(see the first check)",
    "aucune réponse n'est revenue du bac à sable du notebook pour cette vérification : il a été arrêté ou "
    "s'est terminé avant (voir la première vérification)",
)
#: the start of a ✗ whose root is a failure reported above it
CAUSED_BY = ("caused by the failure above", "conséquence de l'échec ci-dessus")


def min_test_accuracy(dataset_name: str, budget: str) -> float:
    """The test accuracy the trained model must beat, for this dataset and budget."""
    if budget == "tiny":
        return TINY_MIN_TEST_ACCURACY
    return MIN_TEST_ACCURACY.get(dataset_name, MIN_TEST_ACCURACY["fashion-mnist"])


# --------------------------------------------------------------------------------------------------
# The reference: the lecture's four steps, and the accuracy


def reference_train_one_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    zero_grad: bool = True,
    softmax_first: bool = False,
    max_batches: int | None = None,
) -> float:
    """One epoch of the four steps; returns the mean batch loss.

    ``zero_grad=False``, ``softmax_first=True`` and ``max_batches`` give the classic mistakes, so that
    a hint can say which one a student's result matches.
    """
    model.train()  # dropout and batch norm in their training behaviour
    losses: list[float] = []
    for x_batch, y_batch in batches:
        if max_batches is not None and len(losses) >= max_batches:
            break
        logits = model(x_batch)  # ❶ forward pass (propagation avant)
        if softmax_first:
            logits = torch.softmax(logits, dim=1)
        loss = loss_fn(logits, y_batch)  # ❷ loss (fonction de perte)
        loss.backward()  # ❸ gradients (rétropropagation), added into each parameter's .grad
        optimizer.step()  # ❹ update of the parameters (mise à jour des paramètres): θ ← θ − η ∇θ
        if zero_grad:
            optimizer.zero_grad()  # .grad accumulates: remise à zéro before the next batch
        losses.append(loss.item())
    return sum(losses) / len(losses)


def reference_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``(x, y)`` that ``model`` classifies right, in eval mode, without autograd."""
    model.eval()  # dropout off, batch norm on its running statistics
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


# --------------------------------------------------------------------------------------------------
# What the grader sends, and what it keeps


@dataclass
class Request:
    """The inputs of one grading (the same for every notebook of a class), and what stays in the grader."""

    seed: int
    budget: str
    tensors: dict[str, torch.Tensor]
    """sent to the sandbox: probe weights and data, 5 images for Net, the public test images and the
    private ones (no labels)"""
    labels: dict[str, torch.Tensor]
    """kept: the labels of the shuffled public test images (``test``) and of the private ones (``private``)"""
    dataset: str
    fashion_mnist_missing: str | None
    evaluate_expected: float
    """the accuracy the evaluate probe really has on its data (drawn from the seed)"""
    kept: dict[str, torch.Tensor] = field(default_factory=dict)
    """kept too: the probes' logits on evaluate's inputs (the references of the checks and their hints)"""
    notebook_data: ImageDataset | None = None
    """what the notebook may see of the dataset: everything but the private images (written to a file
    that the sandbox's ``load_tp1_dataset`` reads, :func:`drlab.data.tp1.save_tp1_snapshot`)"""


def _generator(seed: int, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7919 + offset)


def _labels_with_accuracy(predicted: torch.Tensor, seed: int, offset: int) -> tuple[torch.Tensor, int]:
    """Labels for a probe's predictions: ``right`` of them agree (drawn from the seed, 17 to 47 of 64 but
    never 32, where the accuracy and the error rate would be equal), the others are another class."""
    n = len(predicted)
    choices = [k for k in range(17, 48) if k != 32]
    right = choices[int(torch.randint(0, len(choices), (1,), generator=_generator(seed, offset)))]
    agree = torch.randperm(n, generator=_generator(seed, offset + 1)) < right
    shift = torch.randint(1, NUM_CLASSES, (n,), generator=_generator(seed, offset + 2))
    return torch.where(agree, predicted, (predicted + shift) % NUM_CLASSES), right


def private_size(dataset: ImageDataset, budget: str) -> int:
    """How many training images the grader keeps back: :data:`PRIVATE_IMAGES`, at most half of those
    beyond the first ``TINY_SAMPLES`` (the tiny budget's training images are never taken)."""
    return min(PRIVATE_IMAGES[budget], (len(dataset.y_train) - TINY_SAMPLES) // 2)


def hold_out(
    dataset: ImageDataset, seed: int, budget: str
) -> tuple[ImageDataset, torch.Tensor, torch.Tensor]:
    """Split ``dataset`` into what the notebook sees and the private images (drawn from the seed among
    the training images after the first ``TINY_SAMPLES``): ``(notebook's dataset, images, labels)``.

    The notebook's dataset keeps every other image in its order and the original normalisation
    constants, so the tiny budget trains on the very images it trains on at home."""
    pool = torch.arange(TINY_SAMPLES, len(dataset.y_train))
    chosen = pool[torch.randperm(len(pool), generator=_generator(seed, 70))[: private_size(dataset, budget)]]
    private = np.zeros(len(dataset.y_train), dtype=bool)
    private[chosen.numpy()] = True
    seen = dataclasses.replace(
        dataset,
        x_train=dataset.x_train[~private],
        y_train=dataset.y_train[~private],
        source=f"{dataset.source}, without the {int(private.sum()):,} training images the grader keeps back",
    )
    return seen, torch.as_tensor(dataset.x_train[private]), torch.as_tensor(dataset.y_train[private])


def build_request(seed: int, budget: str) -> Request:
    """Draw the probes and their data from ``seed``; keep private images back; shuffle the test set."""
    from drlab.data.batches import Batches

    tensors: dict[str, torch.Tensor] = {}
    for offset, name in enumerate(PROBES, start=1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 7919 + 100 * offset)
            probe = ProbeNet(**PROBES[name])
        tensors.update({f"probe.{name}.{key}": value.clone() for key, value in probe.state_dict().items()})
    sizes = {
        "lowers": 32,
        "zero_grad": 32,
        "train_mode": 16,
        "evaluate": 64,
        "eval_mode": 64,
        "eval_no_grad": 64,
    }
    for offset, (name, size) in enumerate(sizes.items(), start=1):
        tensors[f"{name}.x"] = torch.randn(size, *IMAGE_SHAPE, generator=_generator(seed, 10 * offset))
        tensors[f"{name}.y"] = torch.randint(
            0, NUM_CLASSES, (size,), generator=_generator(seed, 10 * offset + 1)
        )
    tensors["net_x"] = torch.randn(5, *IMAGE_SHAPE, generator=_generator(seed, 1))

    # the three probes of evaluate: `right` of their 64 labels agree with their predictions (in eval
    # mode, without autograd), `right` drawn from the seed; the marked ones' scores move by one class
    # in training mode / under autograd, and that accuracy is another number (only labels moved by one
    # class agree then: a handful of the 64)
    kept: dict[str, torch.Tensor] = {}
    right = {}
    for offset, name in ((50, "evaluate"), (80, "eval_mode"), (90, "eval_no_grad")):
        probe = _probe(tensors, name).eval()
        with torch.no_grad():
            kept[f"{name}.logits"] = probe(tensors[f"{name}.x"])
        tensors[f"{name}.y"], right[name] = _labels_with_accuracy(
            kept[f"{name}.logits"].argmax(dim=1), seed, offset
        )
    # evaluate's second input: 1,037 images, about half of them labelled as the probe predicts
    tensors["evaluate_big.x"] = torch.randn(EVALUATE_BIG, *IMAGE_SHAPE, generator=_generator(seed, 53))
    with torch.no_grad():
        kept["evaluate_big.logits"] = _probe(tensors, "evaluate").eval()(tensors["evaluate_big.x"])
    big_predicted = kept["evaluate_big.logits"].argmax(dim=1)
    random_labels = torch.randint(0, NUM_CLASSES, (EVALUATE_BIG,), generator=_generator(seed, 54))
    keep = torch.rand(EVALUATE_BIG, generator=_generator(seed, 55)) < 0.5
    tensors["evaluate_big.y"] = torch.where(keep, big_predicted, random_labels)
    # the loss probe: scores of a confident-ish model and labels, B ≠ 10
    tensors["loss.logits"] = 3 * torch.randn(LOSS_BATCH, NUM_CLASSES, generator=_generator(seed, 56))
    tensors["loss.y"] = torch.randint(0, NUM_CLASSES, (LOSS_BATCH,), generator=_generator(seed, 57))

    # the trained model is measured on private images: training images the notebook never sees (its
    # sandbox holds only the rest), labelled by labels that stay here; and on the public test split,
    # which the notebook's own test_accuracy measures
    full, reason = load_tp1_dataset("full")
    seen, private_images, private_labels = hold_out(full, seed, budget)
    shown = seen.limit(TINY_SAMPLES) if budget == "tiny" else seen
    labels: dict[str, torch.Tensor] = {}
    for offset, (name, images, targets) in enumerate(
        (
            ("test", torch.as_tensor(shown.x_test), torch.as_tensor(shown.y_test)),
            ("private", private_images, private_labels),
        ),
        start=60,
    ):
        order = torch.randperm(len(images), generator=_generator(seed, offset))
        tensors[name] = Batches(
            images[order], torch.zeros(len(images)), batch_size=1000, mean=full.mean, std=full.std,
            shuffle=False,
        ).x  # fmt: skip
        labels[name] = targets[order]
    integrity.add_retrain(tensors, kept, seen, seed, budget)  # the renamed classes
    return Request(
        seed, budget, tensors, labels, full.name, reason, right["evaluate"] / 64, kept, notebook_data=seen
    )


def _probe(tensors: Mapping[str, torch.Tensor], name: str) -> ProbeNet:
    probe = ProbeNet(**PROBES[name])
    probe.load_state_dict(probe_state(tensors, name))
    return probe


# --------------------------------------------------------------------------------------------------
# What came back: frames of data, read without trusting them


@dataclass
class Harvest:
    """The frames of one notebook, decoded: JSON data and tensors, per step (absent when not sent)."""

    frames: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = field(default_factory=dict)
    killed: bool = False
    """the sandbox was still running at its deadline"""
    exit_code: int | None = None
    notebook_seconds: float = 0.0
    cell_labels: dict[int, tuple[int, str]] = field(default_factory=dict)
    """by cell index: the cell's number among the code cells (as the student counts them) and its first line"""

    @classmethod
    def decode(cls, frames: Mapping[str, Any], **kwargs: Any) -> Harvest:
        """Decode raw frames (:class:`~drlab.check.sandbox.Frame`); a frame whose tensors do not load is dropped."""
        from safetensors.torch import load

        decoded = {}
        for name, frame in frames.items():
            try:
                tensors = load(frame.tensors) if frame.tensors else {}
            except Exception:  # malformed safetensors from the sandbox: as if nothing came
                continue
            decoded[name] = (frame.data, tensors)
        return cls(decoded, **kwargs)

    def get(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The frame ``name``, or :class:`Failed` when the sandbox never sent it."""
        if name not in self.frames:
            raise Failed(NO_ANSWER, cause="no_answer")
        return self.frames[name]


class Failed(Exception):
    """A check failed: the hint shown to the student, in English and French, and its root cause.

    ``cause`` names the root (``"train"``, ``"evaluate"``, ``"loss"``, ``"inputs"``…): a later failure
    with the same root is reported as "caused by the failure above".
    """

    def __init__(self, en: str | tuple[str, str], fr: str | None = None, *, cause: str | None = None) -> None:
        if isinstance(en, tuple):
            en, fr = en
        super().__init__(en)
        self.en = en
        self.fr = fr if fr is not None else en
        self.cause = cause

    def text(self, lang: Lang) -> str:
        return self.fr if lang == "fr" else self.en


def _message(data: Mapping[str, Any], key: str) -> str:
    return printable(str(data.get(key, "")))[:600]


#: the sandbox's own sentences (drlab.check.harvest, in English) and their French
_SANDBOX_FRENCH = (
    (
        re.compile(r" did not return within ([\d.]+) s \(an endless loop\?\)"),
        r" n'a pas répondu en \1 s (une boucle sans fin ?)",
    ),
    (re.compile(r" \(in ([^,]+), at `"), r" (dans \1, à `"),
    (
        re.compile(r"^measuring `model` on the test set took more than"),
        "mesurer `model` sur le test a pris plus de",
    ),
    (re.compile(r"^`model` failed on the test images: "), "`model` a échoué sur les images de test : "),
    (re.compile(r"^could not run: "), "impossible d'exécuter : "),
    (re.compile(r" on a batch of shape (\([\d, ]+\)) raised "), r" sur un batch de forme \1 a levé "),
    (re.compile(r"^([\w.]+\([^()]*\)) raised "), r"\1 a levé "),
)


def in_french(text: str) -> str:
    """A message written in the sandbox (``Net() raised ValueError: …``) with its English words in French."""
    for pattern, french in _SANDBOX_FRENCH:
        text = pattern.sub(french, text, count=1)
    return text


def _number(value: Any) -> dict[str, Any]:
    """A returned value as the sandbox described it: ``{"kind", "type", "value"}``, checked."""
    if not isinstance(value, dict):
        return {"kind": "other", "type": "?", "value": None}
    number = value.get("value")
    return {
        "kind": value.get("kind") if value.get("kind") in ("real", "tensor", "bool", "other") else "other",
        "type": printable(str(value.get("type", "?")))[:60],
        "value": float(number) if isinstance(number, (int, float)) and not isinstance(number, bool) else None,
    }


def _calls(value: Any) -> list[tuple[bool, bool]]:
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1])
        for item in value[:10_000]
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, bool) for v in item)
    ]


def _parameters(tensors: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    keys = sorted(
        (key for key in tensors if key.startswith("param.")),
        key=lambda k: int(k[6:]) if k[6:].isdigit() else -1,
    )
    return [tensors[key] for key in keys]


def _same_shapes(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(
        a.shape == b.shape and a.is_floating_point() == b.is_floating_point()
        for a, b in zip(first, second, strict=False)
    )


def _same(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return _same_shapes(first, second) and all(
        torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-6)
        for a, b in zip(first, second, strict=True)
    )


def _max_difference(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> float:
    return max(float((a.double() - b.double()).abs().max()) for a, b in zip(first, second, strict=True))


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --------------------------------------------------------------------------------------------------
# The checks' shared knowledge: typed, computed once, on demand


@dataclass(frozen=True)
class NetOutcome:
    """``Net()`` as built in the sandbox: its output on 5 images, and how many trainable weights it has."""

    output: torch.Tensor | None
    output_type: str
    parameters: int


@dataclass(frozen=True)
class TrainOutcome:
    """The student's ``train_one_epoch`` on two batches (SGD), beside the reference and its classic mistakes."""

    parameters: list[torch.Tensor]
    returned: dict[str, Any]
    start: list[torch.Tensor]
    reference: list[torch.Tensor]
    mean_loss: float
    """the reference epoch's mean batch loss"""
    first_loss: float
    """the reference's first batch loss"""
    evidence: dict[str, Any]
    """what the sandbox saw of the four steps: forward calls, gradients in, gradients at each step"""


@dataclass(frozen=True)
class EvaluateOutcome:
    """The student's ``evaluate`` on the grader's probe: what it returned, the model's mode at each call."""

    returned: dict[str, Any]
    calls: list[tuple[bool, bool]]
    expected: float
    returned_big: dict[str, Any] | None
    """what it returned on the 1,037 images (None: it raised, see error_big)"""
    error_big: str


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

    @property
    def looks_up(self) -> bool:
        """Far better on the public test images than on images it never saw: it recognises them."""
        return self.public_accuracy - self.accuracy > lookup_gap(
            self.public_accuracy, self.accuracy, self.public_size, self.size
        )


def lookup_gap(public: float, private: float, n_public: int, n_private: int) -> float:
    """How much better on the public test images than on the private ones a model that classifies can
    be, by chance: four standard errors of the difference of the two accuracies, plus two points."""
    p = min(max((public + private) / 2, 0.05), 0.95)
    return 4 * math.sqrt(p * (1 - p) * (1 / max(n_public, 1) + 1 / max(n_private, 1))) + 0.02


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def why_no_update(evidence: Mapping[str, Any]) -> Failed | None:
    """The likely reason why the parameters of the model given to ``train_one_epoch`` did not move.

    From what the sandbox recorded: the model's forward calls (❶), the gradients that reached its
    parameters in ``backward()`` (❸), and whether ``.grad`` held anything at each ``optimizer.step()`` (❹).
    """
    forward, gradients_in = evidence.get("forward_calls"), evidence.get("gradients_in")
    steps = evidence.get("steps")
    if not (_is_count(forward) and _is_count(gradients_in) and isinstance(steps, list)):
        return None
    if forward == 0:
        return Failed(
            "it never called the model it was given: it trains another one (a global `model`?). Use the "
            "`model`, `optimizer` and `loss_fn` passed as arguments",
            "elle n'a jamais appelé le modèle reçu : elle en entraîne un autre (un `model` global ?). "
            "Utilisez les arguments `model`, `optimizer` et `loss_fn`",
            cause="train",
        )
    if gradients_in == 0:
        return Failed(
            "no gradient reached the model's parameters: loss.backward() is missing, or the computation "
            "graph between the model's output and the loss is cut — .detach() (then .requires_grad_()), "
            ".item(), torch.tensor(…), .data or torch.no_grad() around the forward pass. backward() then "
            "computes the gradient of a new leaf, not of θ, and optimizer.step() has nothing to apply. "
            "Pass logits = model(x_batch) to loss_fn untouched",
            "aucun gradient n'a atteint les paramètres du modèle : il manque loss.backward(), ou le graphe "
            "de calcul est coupé entre la sortie du modèle et la perte — .detach() (puis "
            ".requires_grad_()), .item(), torch.tensor(…), .data ou torch.no_grad() autour de la "
            "propagation avant. La rétropropagation calcule alors le gradient d'une nouvelle feuille, pas "
            "celui de θ, et optimizer.step() n'a rien à appliquer. Passez logits = model(x_batch) tel quel "
            "à loss_fn : on perd le gradient dès qu'on détache",
            cause="train",
        )
    if not steps:
        return Failed(
            "optimizer.step() was never called on the optimizer it was given: the gradients were "
            "computed (❸) but the parameters never updated (❹ mise à jour des paramètres)",
            "optimizer.step() n'a jamais été appelé sur l'optimiseur reçu : les gradients ont été calculés "
            "(❸) mais les paramètres jamais mis à jour (❹ mise à jour des paramètres)",
            cause="train",
        )
    if all(state in ("none", "zero") for state in steps):
        return Failed(
            "the gradients were empty at every optimizer.step(): zero_grad() runs between loss.backward() "
            "and optimizer.step(), and wipes them. The order is ❶ forward, ❷ loss, ❸ backward, "
            "❹ step, then zero_grad()",
            "les gradients étaient vides à chaque optimizer.step() : zero_grad() est appelé entre "
            "loss.backward() et optimizer.step(), et les efface. L'ordre est ❶ propagation avant, ❷ perte, "
            "❸ rétropropagation, ❹ step, puis la remise à zéro des gradients",
            cause="train",
        )
    return None


def chunk_mean_accuracies(correct: torch.Tensor) -> set[float]:
    """Every number that averaging per-chunk accuracies gives on ``correct`` (one bool per image),
    for every chunk size whose last chunk is smaller."""
    n = len(correct)
    values = set()
    for size in range(2, n):
        if n % size:
            chunks = correct.float().split(size)
            values.add(round(float(torch.stack([c.mean() for c in chunks]).mean()), 6))
    return values


def flat_argmax_accuracies(logits: torch.Tensor, labels: torch.Tensor) -> set[float]:
    """Every accuracy that ``logits.argmax()`` *without* ``dim`` gives, per chunk of every size ≥ 2:
    one index into the flattened chunk, compared with every label."""
    values = set()
    for size in range(2, len(labels) + 1):
        correct = sum(
            int((chunk.argmax() == y).sum())
            for chunk, y in zip(logits.split(size), labels.split(size), strict=True)
        )
        values.add(round(correct / len(labels), 6))
    return values


def loss_references(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The classic choices of loss, on the probe's logits and labels (the right one is ``cross_entropy``)."""
    functional = nn.functional
    one_hot = functional.one_hot(labels, NUM_CLASSES).float()
    probabilities = torch.softmax(logits, dim=1)
    return {
        "cross_entropy": float(functional.cross_entropy(logits, labels)),
        "cross_entropy_sum": float(functional.cross_entropy(logits, labels, reduction="sum")),
        "mse_one_hot": float(functional.mse_loss(logits, one_hot)),
        "mse_probabilities": float(functional.mse_loss(probabilities, one_hot)),
        "softmax_cross_entropy": float(functional.cross_entropy(probabilities, labels)),
        "nll_logits": float(functional.nll_loss(logits, labels)),
        "nll_probabilities": float(functional.nll_loss(probabilities, labels)),
        "bce_one_hot": float(functional.binary_cross_entropy_with_logits(logits, one_hot)),
    }


def accuracy_variants(logits: torch.Tensor, labels: torch.Tensor) -> set[float]:
    """Every number that a right ``evaluate``, or one of its classic mistakes (a percentage, the error
    rate, ``argmax()`` without ``dim``, a mean of per-chunk accuracies), returns on these scores."""
    correct = logits.argmax(dim=1) == labels
    accuracy = float(correct.float().mean())
    plain = {round(v, 6) for v in (accuracy, 100 * accuracy, 1 - accuracy, 100 * (1 - accuracy))}
    return plain | flat_argmax_accuracies(logits, labels) | chunk_mean_accuracies(correct)


@dataclass(frozen=True)
class MarkedVerdict:
    """What ``evaluate`` returned on a marked probe, read against both ways the probe can be measured:
    right (eval mode, no autograd), or with its marker on (its scores moved by one class)."""

    value: float
    right: float
    """the probe's accuracy, measured right"""
    marked: float
    """its accuracy with the marker on"""
    is_right: bool
    is_marked: bool

    def decide(self, ctx: Context, passed: Message, mistake: Failed, state: tuple[str, str]) -> Message:
        """``passed`` when measured right; ``mistake`` raised when measured with the marker on (in
        ``state``: "training mode", "under autograd"); else the ✗ of a number that is neither."""
        if self.is_right:
            return passed
        if self.is_marked:
            raise mistake
        raise self.unknown(ctx, *state)

    def unknown(self, ctx: Context, state_en: str, state_fr: str) -> Failed:
        """The ✗ when the value is neither: a wrong evaluate (reported above, or not)."""
        if ctx.first_cause("evaluate"):
            return Failed(
                "cannot be told from the number evaluate returns, which is wrong (see above)",
                "impossible à dire d'après le nombre que renvoie evaluate, qui est faux (voir plus haut)",
                cause="evaluate",
            )
        return Failed(
            f"on 64 images of a probe of the checker whose scores move {state_en}, evaluate returned "
            f"{self.value:.4f}: neither its accuracy ({self.right:.4f}) nor its accuracy {state_en} "
            f"({self.marked:.4f}). Measure the model on the x and y passed as arguments",
            f"sur 64 images d'une sonde du correcteur dont les scores bougent {state_fr}, evaluate a renvoyé "
            f"{self.value:.4f} : ni sa précision ({self.right:.4f}) ni sa précision {state_fr} "
            f"({self.marked:.4f}). Mesurez le modèle sur les x et y reçus en arguments",
            cause="evaluate",
        )


def _unwrap(outcome: _T | Failed) -> _T:
    """A lazily computed outcome, or the failure it found, raised (once computed, for every check)."""
    if isinstance(outcome, Failed):
        raise outcome
    return outcome


class Context:
    """What the checks share: the request, the harvest, and outcomes computed once, when first needed.

    Each outcome is a typed member; one that cannot be computed raises :class:`Failed` with the reason
    every check that needs it will show. ``failures`` maps each root cause reported so far to the check
    that reported it first.
    """

    def __init__(
        self, request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0, lang: Lang = "en"
    ) -> None:
        self.request = request
        self.harvest = harvest
        self.notebook_timeout = notebook_timeout
        self.lang = lang
        self.failures: dict[str, str] = {}

    def first_cause(self, *causes: str) -> str | None:
        """The first of ``causes`` already reported above (in report order), if any."""
        reported = [cause for cause in self.failures if cause in causes]
        return reported[0] if reported else None

    def _frame(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        data, tensors = self.harvest.get(name)
        missing = data.get("missing")
        if isinstance(missing, str) and missing in WHERE:
            en, fr = WHERE[missing]
            raise Failed(
                f"`{missing}` is not defined: write it in {en}",
                f"`{missing}` n'est pas défini : écrivez-le dans {fr}",
                cause=f"missing:{missing}",
            )
        if isinstance(data.get("not_callable"), str):
            name_, type_ = _message(data, "not_callable"), _message(data, "type")
            raise Failed(
                f"`{name_}` should be a function, found {type_}",
                f"`{name_}` devrait être une fonction, trouvé {type_}",
                cause=f"missing:{name_}",
            )
        if data.get("error"):
            cause = {
                "train_lowers": "train", "train_zero_grad": "train", "train_mode": "train",
                "eval_mode": "evaluate", "eval_no_grad": "evaluate",
            }.get(name, name)  # fmt: skip
            text = _message(data, "error")
            raise Failed(text, in_french(text), cause=cause)
        return data, tensors

    @cached_property
    def _student_net(self) -> NetOutcome | Failed:
        try:
            data, tensors = self.harvest.get("net")
            status = data.get("status")
            if status == "missing":
                en, fr = WHERE["Net"]
                raise Failed(
                    f"`Net` is not defined: write it in {en}",
                    f"`Net` n'est pas défini : écrivez-le dans {fr}",
                    cause="missing:Net",
                )
            if status == "not-module":
                raise Failed(
                    "`Net` must be a class that inherits from nn.Module: `class Net(nn.Module): …`",
                    "`Net` doit être une classe qui hérite de nn.Module : `class Net(nn.Module): …`",
                    cause="net",
                )
            if status == "init-error":
                message = _message(data, "error")
                if "argument" in message:
                    raise Failed(
                        message + " (Net() must work without arguments: give every argument a default)",
                        in_french(message)
                        + " (Net() doit marcher sans argument : donnez une valeur par défaut à chacun)",
                        cause="net",
                    )
                raise Failed(message, in_french(message), cause="net")
            parameters = sum(t.numel() for t in _parameters(tensors))
            if status == "forward-error":
                message = _message(data, "error")
                if "shape" in message or "size" in message:
                    raise Failed(
                        message + ". The model receives images (B, 1, 28, 28): flatten them inside forward "
                        "(nn.Flatten() or x.flatten(1)) before the first nn.Linear, which then takes "
                        "28·28 = 784 inputs",
                        in_french(message)
                        + ". Le modèle reçoit des images (B, 1, 28, 28) : aplatissez-les dans forward "
                        "(nn.Flatten() ou x.flatten(1)) avant la première couche nn.Linear, qui prend alors "
                        "28·28 = 784 entrées",
                        cause="net",
                    )
                raise Failed(message, in_french(message), cause="net")
            if status != "ok":
                raise Failed(NO_ANSWER, cause="no_answer")
            output = tensors.get("output")
            return NetOutcome(output, _number(data.get("output"))["type"], parameters)
        except Failed as failure:
            return failure

    def student_net(self) -> NetOutcome:
        """``Net()``: its output on 5 of the grader's images and its size (or why there is none)."""
        return _unwrap(self._student_net)

    @cached_property
    def _train_outcome(self) -> TrainOutcome | Failed:
        try:
            data, tensors = self._frame("train_zero_grad")
            tensors_in = self.request.tensors
            x, y = tensors_in["zero_grad.x"], tensors_in["zero_grad.y"]
            batches = [(x[:16], y[:16]), (x[16:], y[16:])]
            reference, mean_loss = self._reference_run(batches)
            _, first_loss = self._reference_run(batches, max_batches=1)
            start = _params(_probe(tensors_in, "zero_grad"))
            parameters = _parameters(tensors)
            if not _same_shapes(parameters, start):
                raise Failed(
                    "the sandbox sent back weights of another shape than the probe's (malformed data)",
                    "le bac à sable a renvoyé des poids d'une autre forme que ceux de la sonde (données invalides)",
                    cause="train",
                )
            return TrainOutcome(
                parameters, _number(data.get("returned")), start, reference, mean_loss, first_loss, data
            )
        except Failed as failure:
            return failure

    def _reference_run(
        self, batches: list[tuple[torch.Tensor, torch.Tensor]], **mistake: Any
    ) -> tuple[list[torch.Tensor], float]:
        model = _probe(self.request.tensors, "zero_grad")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.request.seed)
            loss = reference_train_one_epoch(
                model, batches, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), **mistake
            )
        return _params(model), loss

    def train_outcome(self) -> TrainOutcome:
        """The student's one epoch on two batches, with the reference's (or why there is none)."""
        return _unwrap(self._train_outcome)

    @cached_property
    def _evaluate_outcome(self) -> EvaluateOutcome | Failed:
        try:
            data, _ = self.harvest.get("evaluate")
            calls = _calls(data.get("calls"))
            self._frame("evaluate")
            if not calls:
                raise Failed(
                    "evaluate never called the model it was given: compute model(x) on the x it receives",
                    "evaluate n'a jamais appelé le modèle reçu : calculez model(x) sur le x reçu",
                    cause="evaluate",
                )
            big = _number(data["returned_big"]) if "returned_big" in data else None
            return EvaluateOutcome(
                _number(data.get("returned")), calls, self.request.evaluate_expected, big,
                _message(data, "error_big"),
            )  # fmt: skip
        except Failed as failure:
            return failure

    def evaluate_outcome(self) -> EvaluateOutcome:
        """The student's ``evaluate`` on the grader's probe (or why there is none)."""
        return _unwrap(self._evaluate_outcome)

    @cached_property
    def train_mode_reference(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The batch-norm probe's statistics before, and after one forward pass in training mode."""
        probe = _probe(self.request.tensors, "train_mode")
        start = {name: buffer.clone() for name, buffer in probe.named_buffers()}
        probe.train()
        with torch.no_grad():
            probe(self.request.tensors["train_mode.x"])
        return start, {name: buffer.clone() for name, buffer in probe.named_buffers()}

    def marked_verdict(self, name: str) -> MarkedVerdict:
        """The student's ``evaluate`` on the marked probe ``name`` (``eval_mode``, ``eval_no_grad``)."""
        self.evaluate_outcome()  # evaluate is missing, raised, or never called its model: said once, above
        data, _ = self._frame(name)
        returned = _number(data.get("returned"))
        if returned["value"] is None:
            raise Failed(
                f"needs evaluate to return a number; it returns {returned['type']} (see the check above)",
                f"il faut qu'evaluate renvoie un nombre ; elle renvoie {returned['type']} (voir la "
                "vérification ci-dessus)",
                cause="evaluate",
            )
        value = float(returned["value"])
        logits, labels = self.request.kept[f"{name}.logits"], self.request.tensors[f"{name}.y"]
        marked = logits.roll(1, dims=1)
        right_accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        marked_accuracy = float((marked.argmax(dim=1) == labels).float().mean())
        if math.isclose(value, right_accuracy, abs_tol=1e-6):
            is_right, is_marked = True, False
        elif math.isclose(value, marked_accuracy, abs_tol=1e-6):
            is_right, is_marked = False, True
        else:
            as_right = round(value, 6) in accuracy_variants(logits, labels)
            as_marked = round(value, 6) in accuracy_variants(marked, labels)
            is_right, is_marked = as_right and not as_marked, as_marked and not as_right
        return MarkedVerdict(value, right_accuracy, marked_accuracy, is_right, is_marked)

    @cached_property
    def _test_measurement(self) -> TestMeasurement | Failed:
        try:
            data, tensors = self.harvest.get("model")
            status = data.get("status")
            if status == "missing":
                en, fr = WHERE["model"]
                raise Failed(
                    f"`model` is not defined: write it in {en}",
                    f"`model` n'est pas défini : il est créé par {fr}",
                    cause="missing:model",
                )
            type_ = _message(data, "type")
            if status == "not-module":
                raise Failed(
                    f"`model` should be the trained Net (an nn.Module), found {type_}",
                    f"`model` devrait être le Net entraîné (un nn.Module), trouvé {type_}",
                    cause="model",
                )
            if status == "error":
                text = _message(data, "error")
                raise Failed(text, in_french(text), cause="model")
            if data.get("is_net") is not True:
                raise Failed(
                    f"`model` is a {type_}, not an instance of your Net: the training cell must train "
                    "model = Net()",
                    f"`model` est un {type_}, pas une instance de votre Net : la cellule d'entraînement doit "
                    "entraîner model = Net()",
                    cause="model",
                )
            count = sum(t.numel() for t in _parameters(tensors))
            low, high = PARAMETER_RANGE
            if not low <= count <= high:
                raise Failed(
                    f"`model` has {count:,} trainable parameters: a TP1 Net has {low:,} to {high:,}",
                    f"`model` a {count:,} paramètres entraînables : un Net du TP1 en a de {low:,} à {high:,}",
                    cause="model",
                )
            accuracies = {}
            for name, labels in self.request.labels.items():
                logits = tensors.get(f"logits.{name}")
                if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), NUM_CLASSES):
                    got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else None
                    raise Failed(
                        f"`model` did not give (N, 10) logits for the checker's {len(labels):,} images "
                        f"(got {got or 'nothing'})",
                        f"`model` n'a pas donné de logits (N, 10) pour les {len(labels):,} images du "
                        f"correcteur (reçu : {got or 'rien'})",
                        cause="model",
                    )
                accuracies[name] = float((logits.float().argmax(dim=1) == labels).float().mean())
            return TestMeasurement(
                self.request.dataset, len(self.request.labels["private"]), accuracies["private"],
                accuracies["test"], len(self.request.labels["test"]),
                min_test_accuracy(self.request.dataset, self.request.budget),
            )  # fmt: skip
        except Failed as failure:
            return failure

    def test_measurement(self) -> TestMeasurement:
        """The trained ``model`` measured on the private images and the public test set, with the grader's
        labels (or why it could not be)."""
        return _unwrap(self._test_measurement)

    @cached_property
    def suspicion(self) -> integrity.Suspicion | None:
        """Why the trained model's accuracy is not taken as learned (a lookup of the dataset's labels), or
        None (:mod:`drlab.check.integrity`); asked only of a model that was measured."""
        test = self.test_measurement()
        retrain = integrity.retrained(
            self.harvest.frames.get("retrain"), self.request.labels["private"], self.request.kept,
            len(self.request.tensors["retrain.y"]),
        )  # fmt: skip
        _, measured = self.harvest.get("model")
        copy = integrity.copy_differs(
            self.harvest.frames.get("model_copy"), measured["logits.private"], self.request.labels["private"]
        )
        return integrity.suspicion(self.request.dataset, self.request.budget, test.accuracy, retrain, copy)

    def inputs_problem(self) -> Failed | None:
        """A ✗ naming un-normalised inputs, when the images the notebook used are not normalised.

        The grader gives ``model`` the test images normalised as the notebook's ``Batches`` does
        (``(pixel/255 − mean)/std``: mean ≈ 0, std ≈ 1). A model trained on other inputs is measured
        on images it never saw the like of, and the notebook's own ``test_accuracy`` disagrees.
        """
        if "model" not in self.harvest.frames:
            return None
        inputs = self.harvest.frames["model"][0].get("inputs")
        if not isinstance(inputs, dict):
            return None
        for name in ("train_batches", "x_test", "x_val"):
            stats = inputs.get(name)
            if not isinstance(stats, dict) or not all(
                isinstance(stats.get(key), (int, float)) for key in ("mean", "std", "min", "max")
            ):
                continue
            mean, std = float(stats["mean"]), float(stats["std"])
            low, high = float(stats["min"]), float(stats["max"])
            if abs(mean) <= NORMALISED_MEAN and NORMALISED_STD[0] <= std <= NORMALISED_STD[1]:
                continue
            shown = "train_batches.x" if name == "train_batches" else name
            figures = f"mean {mean:.2f}, std {std:.2f}, values in [{low:.2f}, {high:.2f}]"
            return Failed(
                f"the images are not normalised: {shown} has {figures}, where normalised images have a "
                "mean near 0 and a std near 1. The model learned on inputs of another scale than the "
                "normalised test images ((pixel/255 − mean)/std, as Batches computes with "
                "mean=dataset.mean, std=dataset.std) the checker gives it, so its accuracy there is not the "
                "one you measured. Normalise every split the same way, and train again",
                f"les images ne sont pas normalisées : {shown} a une {figures.replace('mean', 'moyenne', 1).replace('std', 'écart-type', 1).replace('values in', 'valeurs dans', 1)}, "
                "alors que des images normalisées ont une moyenne proche de 0 et un écart-type proche de 1. "
                "Le modèle a appris sur des entrées d'une autre échelle que les images de test normalisées "
                "((pixel/255 − moyenne)/écart-type, comme Batches avec mean=dataset.mean, std=dataset.std) "
                "que le correcteur lui donne : sa précision y diffère de celle que vous avez mesurée. "
                "Normalisez toutes les parties de la même façon, et entraînez à nouveau",
                cause="inputs",
            )
        return None


# --------------------------------------------------------------------------------------------------
# The checks, in report order


Message = tuple[str, str]
"""a pass message: (English, French)"""
Check = Callable[[Context], Message]
CHECKS: list[tuple[str, tuple[str, str], Check]] = []


def check(check_id: str, title: str, title_fr: str) -> Callable[[Check], Check]:
    """Register a check: it returns the message of a pass, or raises :class:`Failed` with a hint."""

    def register(function: Check) -> Check:
        CHECKS.append((check_id, (title, title_fr), function))
        return function

    return register


def _where(ctx: Context, index: Any) -> Message:
    """``code cell 5 (`first line`)``: numbered among the code cells, as the student sees them."""
    label = ctx.harvest.cell_labels.get(index) if isinstance(index, int) else None
    if label is None:
        return "a cell", "une cellule"
    number, first = label
    quoted = f" (`{first}`)" if first else ""
    return f"code cell {number}{quoted}", f"la cellule de code {number}{quoted}"


@check(
    "runs",
    "the notebook runs top to bottom without errors",
    "le notebook s'exécute de haut en bas sans erreur",
)
def check_runs(ctx: Context) -> Message:
    harvest = ctx.harvest
    if "cells" not in harvest.frames:
        if harvest.killed:
            raise Failed(
                f"the notebook was still running when its time was up ({ctx.notebook_timeout:g} s of computing, "
                "and a minute to start; on the clock as long if it was waiting, "
                f"{WALL_FACTOR:g} times as long at most): everything in its sandbox was stopped. An endless "
                "loop? A cell that ignores interrupts?",
                f"le notebook tournait encore quand son temps a expiré ({ctx.notebook_timeout:g} s de calcul, plus "
                "une minute pour démarrer ; à l'horloge autant s'il attendait, "
                f"{WALL_FACTOR:g} fois plus au plus) : tout son bac à sable a été arrêté. Une boucle sans fin ? "
                "Une cellule qui ignore les interruptions ?",
                cause="runs",
            )
        raise Failed(
            f"the notebook's process ended before its cells were done (exit status {harvest.exit_code}): "
            "os._exit or sys.exit in a cell? out of memory? a crash in native code?",
            f"le processus du notebook s'est terminé avant la fin de ses cellules (code de sortie "
            f"{harvest.exit_code}) : os._exit ou sys.exit dans une cellule ? mémoire épuisée ? un plantage "
            "dans du code natif ?",
            cause="runs",
        )
    data, _ = harvest.frames["cells"]
    timed_out = data.get("timed_out_at")
    if isinstance(timed_out, int) and not isinstance(timed_out, bool):
        en, fr = _where(ctx, timed_out)
        # the limit counts the time it computes; a notebook that waits meets the wall clock's, longer
        how, limit = data.get("timed_out_by"), f"{ctx.notebook_timeout:g} s"
        limit_en, limit_fr = f"{limit} of computing", f"{limit} de calcul"
        if how == "idle":
            limit_en = (
                f"{limit} (they passed on the clock while it was waiting, not computing: time.sleep? a lock?)"
            )
            limit_fr = f"{limit} (passées à l'horloge pendant qu'il attendait au lieu de calculer : time.sleep ? un verrou ?)"
        elif how == "clock":
            limit_en = (
                f"{limit}: {WALL_FACTOR:g} times as long passed on the clock though it kept computing (a machine "
                "busy with other work? grade with a larger --timeout)"
            )
            limit_fr = (
                f"{limit} : {WALL_FACTOR:g} fois plus ont passé à l'horloge alors qu'il calculait encore (une "
                "machine occupée à autre chose ? notez avec un --timeout plus grand)"
            )
        raise Failed(
            f"the notebook did not finish within {limit_en}: {en} was still running when the "
            "time limit came (an endless loop? too many epochs for this budget?); the checks below ran on "
            "what was defined by then",
            f"le notebook n'a pas fini en {limit_fr} : {fr} tournait encore à la limite de "
            "temps (une boucle sans fin ? trop d'époques pour ce budget ?) ; les vérifications ci-dessous "
            "portent sur ce qui était défini à ce moment",
            cause="runs",
        )
    errors = (
        [e for e in data.get("errors", []) if isinstance(e, dict)]
        if isinstance(data.get("errors"), list)
        else []
    )
    if errors:
        first = errors[0]
        en, fr = _where(ctx, first.get("index"))
        line = first.get("line")
        at_en = f", line {line}" if isinstance(line, int) and not isinstance(line, bool) else ""
        at_fr = f", ligne {line}" if at_en else ""
        value = _message(first, "evalue").splitlines()[0] if _message(first, "evalue") else ""
        error = _message(first, "ename") + (f": {value}" if value else "")
        more = len(errors) - 1
        tail_en = f" ({more} later cell{'s' if more > 1 else ''} failed too)" if more else ""
        tail_fr = (
            f" ({more} cellule{'s' if more > 1 else ''} plus bas {'ont' if more > 1 else 'a'} échoué aussi)"
            if more
            else ""
        )
        raise Failed(
            f"{en}{at_en} raised {error}{tail_en}",
            f"{fr[0].upper() + fr[1:]}{at_fr} a levé {error}{tail_fr}",
            cause="runs",
        )
    seconds = data.get("seconds")
    text = f"{seconds:.0f} s" if isinstance(seconds, (int, float)) and math.isfinite(seconds) else ""
    return text, text


@check(
    "net_output",
    "Net() maps a batch (B, 1, 28, 28) to (B, 10) logits",
    "Net() transforme un batch (B, 1, 28, 28) en logits (B, 10)",
)
def check_net_output(ctx: Context) -> Message:
    output = ctx.student_net().output
    if output is None:
        type_ = ctx.student_net().output_type
        raise Failed(
            f"forward returned {type_}; it must return a tensor of logits",
            f"forward a renvoyé {type_} ; il doit renvoyer un tenseur de logits",
            cause="net",
        )
    shape = tuple(output.shape)
    if shape == (5, NUM_CLASSES):
        return "a batch of 5 images gives (5, 10)", "un batch de 5 images donne (5, 10)"
    if len(shape) == 2 and shape[0] == 5:
        raise Failed(
            f"a batch of 5 images gives {shape}: {shape[1]} outputs per image, but TP1 has 10 classes. "
            "The last layer must be nn.Linear(…, 10): one score (logit) per class",
            f"un batch de 5 images donne {shape} : {shape[1]} sorties par image, mais le TP1 a 10 classes. "
            "La dernière couche doit être nn.Linear(…, 10) : un score (logit) par classe",
            cause="net",
        )
    raise Failed(
        f"a batch of 5 images gives {shape}, expected (5, 10): one row per image, one logit per class. "
        "Flatten the images first (nn.Flatten()) and end with nn.Linear(…, 10)",
        f"un batch de 5 images donne {shape}, attendu (5, 10) : une ligne par image, un logit par classe. "
        "Aplatissez d'abord les images (nn.Flatten()) et terminez par nn.Linear(…, 10)",
        cause="net",
    )


@check(
    "net_logits",
    "Net returns logits, not probabilities (no softmax before CrossEntropyLoss)",
    "Net renvoie des logits, pas des probabilités (pas de softmax avant CrossEntropyLoss)",
)
def check_net_logits(ctx: Context) -> Message:
    output = ctx.student_net().output
    if output is None or output.ndim != 2 or not output.is_floating_point():
        raise Failed(
            "needs Net's output to be a (B, 10) tensor (see the check above)",
            "il faut que la sortie de Net soit un tenseur (B, 10) (voir la vérification ci-dessus)",
            cause="net",
        )
    rows = output.float()
    if bool((rows >= 0).all()) and bool(torch.allclose(rows.sum(dim=1), torch.ones(len(rows)), atol=1e-4)):
        raise Failed(
            "Net's outputs are probabilities (every row is ≥ 0 and sums to 1): forward ends with a softmax. "
            "nn.CrossEntropyLoss applies log-softmax itself, so the scores are squashed twice: the gradients "
            "flatten and learning crawls. Return the raw scores of the last nn.Linear; use torch.softmax "
            "only to display probabilities",
            "les sorties de Net sont des probabilités (chaque ligne est ≥ 0 et somme à 1) : forward finit par "
            "un softmax. nn.CrossEntropyLoss applique lui-même le log-softmax : les scores sont écrasés deux "
            "fois, les gradients s'aplatissent et l'apprentissage se traîne. Renvoyez les scores bruts de la "
            "dernière nn.Linear ; torch.softmax ne sert qu'à afficher des probabilités",
            cause="softmax",
        )
    return "raw scores, as CrossEntropyLoss expects", "des scores bruts, comme l'attend CrossEntropyLoss"


@check(
    "net_size",
    f"Net has a sane number of parameters ({PARAMETER_RANGE[0]:,} to {PARAMETER_RANGE[1]:,})",
    f"Net a un nombre raisonnable de paramètres ({PARAMETER_RANGE[0]:,} à {PARAMETER_RANGE[1]:,})",
)
def check_net_size(ctx: Context) -> Message:
    count = ctx.student_net().parameters
    low, high = PARAMETER_RANGE
    if count < low:
        raise Failed(
            f"Net has {count:,} trainable parameters: even softmax regression (one nn.Linear(784, 10)) has "
            "7,850. Layers must be attributes of the module (self.fc1 = nn.Linear(…)) or in an "
            "nn.Sequential / nn.ModuleList — a plain Python list hides them from .parameters()",
            f"Net a {count:,} paramètres entraînables : même une régression softmax (une seule "
            "nn.Linear(784, 10)) en a 7,850. Les couches doivent être des attributs du module "
            "(self.fc1 = nn.Linear(…)) ou dans un nn.Sequential / nn.ModuleList — une simple liste Python "
            "les cache à .parameters()",
            cause="net",
        )
    if count > high:
        raise Failed(
            f"Net has {count:,} trainable parameters: too many to train on a laptop CPU during a TP. "
            "Shrink the hidden layers (a 784-256-128-10 MLP has 235k; a small CNN 100k–500k)",
            f"Net a {count:,} paramètres entraînables : trop pour l'entraîner sur le CPU d'un portable "
            "pendant un TP. Réduisez les couches cachées (un MLP 784-256-128-10 en a 235k ; un petit CNN "
            "100k–500k)",
            cause="net_size",
        )
    return f"{count:,} parameters", f"{count:,} paramètres"


def _probe_loss(
    tensors: Mapping[str, torch.Tensor], name: str, parameters: Sequence[torch.Tensor] | None
) -> float:
    probe = _probe(tensors, name)
    if parameters is not None:
        with torch.no_grad():
            for target, value in zip(probe.parameters(), parameters, strict=True):
                target.copy_(value)
    probe.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(probe(tensors[f"{name}.x"]), tensors[f"{name}.y"]))


@check(
    "train_lowers_loss",
    "train_one_epoch lowers the loss on a fixed batch",
    "train_one_epoch fait baisser la perte sur un batch fixe",
)
def check_train_lowers_loss(ctx: Context) -> Message:
    data, tensors = ctx._frame("train_lowers")
    sent = ctx.request.tensors
    start = _params(_probe(sent, "lowers"))
    after_parameters = _parameters(tensors)
    if not _same_shapes(after_parameters, start):
        raise Failed(
            "the sandbox sent back weights of another shape than the probe's (malformed data)",
            "le bac à sable a renvoyé des poids d'une autre forme que ceux de la sonde (données invalides)",
            cause="train",
        )
    if _same(start, after_parameters):
        raise why_no_update(data) or Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments (not global ones), and call optimizer.step() after loss.backward()",
            "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` et l'`optimizer` passés "
            "en arguments (pas des globaux), et appelez optimizer.step() après loss.backward()",
            cause="train",
        )
    before, after = _probe_loss(sent, "lowers", None), _probe_loss(sent, "lowers", after_parameters)
    if not after < 0.98 * before:
        raise Failed(
            f"3 epochs on one fixed batch took the loss from {before:.3f} to {after:.3f}; it should fall. "
            "Check the four steps: ❶ forward, ❷ loss, ❸ loss.backward(), ❹ optimizer.step()",
            f"3 époques sur un batch fixe ont mené la perte de {before:.3f} à {after:.3f} ; elle devrait "
            "baisser. Vérifiez les quatre étapes : ❶ propagation avant, ❷ perte, ❸ loss.backward(), "
            "❹ optimizer.step()",
            cause="train",
        )
    return (
        f"loss {before:.3f} → {after:.3f} in 3 epochs on one batch",
        f"perte {before:.3f} → {after:.3f} en 3 époques sur un batch",
    )


@check(
    "train_zero_grad",
    "train_one_epoch zeroes the gradients: two batches give the reference update",
    "train_one_epoch remet les gradients à zéro : deux batchs donnent la mise à jour de référence",
)
def check_train_zero_grad(ctx: Context) -> Message:
    outcome = ctx.train_outcome()
    result = outcome.parameters
    if _same(result, outcome.reference):
        return (
            "2 batches, SGD: same parameters as the reference (forward, loss, backward, step, zero_grad)",
            "2 batchs, SGD : mêmes paramètres que la référence (propagation avant, perte, rétropropagation, "
            "step, zero_grad)",
        )
    if _same(result, outcome.start):
        raise why_no_update(outcome.evidence) or Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments, call optimizer.step() after loss.backward(), and do not zero the "
            "gradients between backward() and step()",
            "les paramètres du modèle reçu n'ont pas changé : entraînez le `model` et l'`optimizer` passés "
            "en arguments, appelez optimizer.step() après loss.backward(), et ne remettez pas les gradients "
            "à zéro entre backward() et step()",
            cause="train",
        )
    x, y = ctx.request.tensors["zero_grad.x"], ctx.request.tensors["zero_grad.y"]
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    if _same(result, ctx._reference_run(batches, zero_grad=False)[0]):
        raise Failed(
            "the gradients accumulated: the second step used the sum of both batches' gradients. PyTorch "
            "*adds* each backward() into .grad: call optimizer.zero_grad() at every batch, before "
            "loss.backward() (or after optimizer.step())",
            "les gradients se sont accumulés : la deuxième mise à jour a utilisé la somme des gradients des "
            "deux batchs. PyTorch *ajoute* chaque backward() dans .grad (« les gradients s'accumulent ») : "
            "remettez les gradients à zéro, optimizer.zero_grad(), à chaque batch, avant loss.backward() "
            "(ou après optimizer.step())",
            cause="train",
        )
    if _same(result, ctx._reference_run(batches, softmax_first=True)[0]):
        raise Failed(
            "the update is the one of a loss computed on softmax probabilities: pass the logits straight to "
            "loss_fn — nn.CrossEntropyLoss applies log-softmax itself",
            "la mise à jour est celle d'une perte calculée sur des probabilités (softmax) : passez les logits "
            "tels quels à loss_fn — nn.CrossEntropyLoss applique lui-même le log-softmax",
            cause="train",
        )
    if _same(result, ctx._reference_run(batches, max_batches=1)[0]):
        raise Failed(
            "only the first batch was used: loop over every (x_batch, y_batch) in batches",
            "seul le premier batch a servi : bouclez sur chaque (x_batch, y_batch) de batches",
            cause="train",
        )
    gap = _max_difference(result, outcome.reference)
    raise Failed(
        f"after one epoch of 2 batches (SGD, lr 0.1) the parameters differ from the reference's by up to "
        f"{gap:.2g}: each batch must do exactly one forward, loss, loss.backward(), optimizer.step(), with "
        "the gradients zeroed at every batch",
        f"après une époque de 2 batchs (SGD, lr 0.1), les paramètres diffèrent de ceux de la référence "
        f"jusqu'à {gap:.2g} : chaque batch doit faire exactement une propagation avant, la perte, "
        "loss.backward(), optimizer.step(), avec remise à zéro des gradients à chaque batch",
        cause="train",
    )


@check(
    "train_returns_loss",
    "train_one_epoch returns the epoch's mean loss as a float",
    "train_one_epoch renvoie la perte moyenne de l'époque (un float)",
)
def check_train_returns_loss(ctx: Context) -> Message:
    try:
        outcome = ctx.train_outcome()
    except Failed as failure:
        raise Failed(
            "needs train_one_epoch to run (see the check above)",
            "il faut que train_one_epoch s'exécute (voir la vérification ci-dessus)",
            cause=failure.cause or "train",
        ) from None
    returned = outcome.returned
    if returned["kind"] == "tensor":
        raise Failed(
            "it returns a tensor: return a Python float. Add up loss.item() over the batches (keeping the "
            "loss tensors would also keep every batch's graph in memory)",
            "elle renvoie un tenseur : renvoyez un float Python. Additionnez loss.item() sur les batchs "
            "(garder les tenseurs de perte garderait aussi le graphe de chaque batch en mémoire)",
            cause="returns",
        )
    if returned["kind"] != "real" or returned["value"] is None:
        raise Failed(
            f"it returns {returned['type']}: return the mean loss of the epoch, a float",
            f"elle renvoie {returned['type']} : renvoyez la perte moyenne de l'époque, un float",
            cause="returns",
        )
    value = returned["value"]
    if not math.isfinite(value):
        raise Failed(
            f"it returns {value}: the loss must be a finite number",
            f"elle renvoie {value} : la perte doit être un nombre fini",
            cause="returns",
        )

    def near(target: float) -> bool:
        return math.isclose(value, target, rel_tol=1e-4, abs_tol=1e-6)

    if near(outcome.mean_loss):
        return f"{value:.4f}, the mean of the batch losses", f"{value:.4f}, la moyenne des pertes des batchs"
    if near(2 * outcome.mean_loss):
        raise Failed(
            "it returns the sum of the batch losses: divide by the number of batches",
            "elle renvoie la somme des pertes des batchs : divisez par le nombre de batchs",
            cause="returns",
        )
    if near(2 * outcome.mean_loss - outcome.first_loss):
        raise Failed(
            "it returns the last batch's loss: return the mean over all the batches of the epoch",
            "elle renvoie la perte du dernier batch : renvoyez la moyenne sur tous les batchs de l'époque",
            cause="returns",
        )
    # a training that is wrong (see above) gives other batch losses: the same root, not a second mistake
    trained_right = _same(outcome.parameters, outcome.reference)
    raise Failed(
        f"it returns {value:.4f}, but the mean of the epoch's batch losses is {outcome.mean_loss:.4f}: "
        "return the average of loss.item() over the batches",
        f"elle renvoie {value:.4f}, mais la moyenne des pertes des batchs de l'époque est "
        f"{outcome.mean_loss:.4f} : renvoyez la moyenne de loss.item() sur les batchs",
        cause="returns" if trained_right else "train",
    )


@check(
    "train_mode",
    "train_one_epoch puts the model in training mode (model.train())",
    "train_one_epoch met le modèle en mode entraînement (model.train())",
)
def check_train_mode(ctx: Context) -> Message:
    data, tensors = ctx._frame("train_mode")
    start, expected = ctx.train_mode_reference
    got = {name: tensors[f"buffer.{name}"] for name in expected if f"buffer.{name}" in tensors}
    if not all(name in got and got[name].shape == expected[name].shape for name in expected):
        raise Failed(
            "the sandbox sent back no batch-norm statistics of the probe's shape (malformed data)",
            "le bac à sable n'a pas renvoyé de statistiques de batch norm de la forme de la sonde "
            "(données invalides)",
            cause="train",
        )

    def same(reference: Mapping[str, torch.Tensor]) -> bool:
        return all(
            torch.allclose(got[name].double(), reference[name].double(), rtol=1e-4, atol=1e-5)
            for name in reference
        )

    if same(expected):
        return (
            "model.train() before the forward pass: the probe's batch-norm statistics moved as in training mode",
            "model.train() avant la propagation avant : les statistiques de batch norm de la sonde ont bougé "
            "comme en mode entraînement",
        )
    calls = _calls(data.get("calls"))
    if not calls:
        raise Failed(
            "train_one_epoch never called the model it was given: compute model(x_batch)",
            "train_one_epoch n'a jamais appelé le modèle reçu : calculez model(x_batch)",
            cause="train",
        )
    if same(start):
        raise Failed(
            "the model stayed in evaluation mode while training: its batch-norm statistics did not move. "
            "Call model.train() at the start of train_one_epoch. evaluate() switches it to eval mode, so "
            "without it dropout and batch norm would stay off for every epoch after the first",
            "le modèle est resté en mode évaluation pendant l'entraînement : ses statistiques de batch norm "
            "n'ont pas bougé. Appelez model.train() au début de train_one_epoch. evaluate() le passe en mode "
            "évaluation, donc sans cela dropout et batch norm resteraient éteints à chaque époque après la "
            "première",
            cause="train_mode",
        )
    raise Failed(
        f"after one batch the probe's batch-norm statistics are not those of one forward pass in training "
        f"mode ({len(calls)} forward calls were made): call model.train() first, then model(x_batch) once "
        "per batch",
        f"après un batch, les statistiques de batch norm de la sonde ne sont pas celles d'une propagation "
        f"avant en mode entraînement ({len(calls)} appels du modèle) : appelez d'abord model.train(), puis "
        "model(x_batch) une fois par batch",
        cause="train",
    )


@check(
    "eval_accuracy",
    "evaluate returns the accuracy on the data it is given",
    "evaluate renvoie la précision sur les données reçues",
)
def check_eval_accuracy(ctx: Context) -> Message:
    outcome = ctx.evaluate_outcome()
    returned, reference = outcome.returned, outcome.expected
    tensor = returned["kind"] == "tensor"
    tip = (
        (
            " (tip: return .item(), a Python float, rather than a tensor)",
            " (conseil : renvoyez .item(), un float Python, plutôt qu'un tenseur)",
        )
        if tensor
        else ("", "")
    )
    if returned["kind"] not in ("real", "tensor") or returned["value"] is None:
        raise Failed(
            f"it returns {returned['type']}: return the accuracy, a float in [0, 1]",
            f"elle renvoie {returned['type']} : renvoyez la précision, un float dans [0, 1]",
            cause="evaluate",
        )
    value = returned["value"]
    if math.isclose(value, reference, abs_tol=1e-6):
        big = _check_big_evaluate(ctx, outcome)
        return (
            f"{value:.4f} on 64 held-out images of the checker, as the reference{big[0]}{tip[0]}",
            f"{value:.4f} sur 64 images du correcteur, comme la référence{big[1]}{tip[1]}",
        )
    if math.isclose(value, 100 * reference, abs_tol=1e-4):
        raise Failed(
            f"it returns {value:g}, a percentage: return a fraction in [0, 1] ({reference})",
            f"elle renvoie {value:g}, un pourcentage : renvoyez une fraction dans [0, 1] ({reference})",
            cause="evaluate",
        )
    if math.isclose(value, 1 - reference, abs_tol=1e-6):
        raise Failed(
            "it returns the error rate (the fraction of mistakes): return the fraction of right answers",
            "elle renvoie le taux d'erreur (la fraction d'erreurs) : renvoyez la fraction de bonnes réponses",
            cause="evaluate",
        )
    logits, labels = ctx.request.kept["evaluate.logits"], ctx.request.tensors["evaluate.y"]
    if round(value, 6) in flat_argmax_accuracies(logits, labels):
        raise Failed(
            f"on 64 held-out images of the checker it returns {value:.4f}, but the model gets "
            f"{reference:.4f} right: the predictions come from logits.argmax() without dim, which gives "
            "ONE index into the whole flattened (B, 10) tensor, not one class per image. Use "
            "logits.argmax(dim=1): the largest score of each row",
            f"sur 64 images du correcteur elle renvoie {value:.4f}, mais le modèle en a {reference:.4f} de "
            "justes : les prédictions viennent de logits.argmax() sans dim, qui donne UN seul indice dans "
            "tout le tenseur (B, 10) aplati, pas une classe par image. Utilisez logits.argmax(dim=1) : le "
            "plus grand score de chaque ligne",
            cause="evaluate",
        )
    raise Failed(
        f"on 64 held-out images of the checker it returns {value:.4f}, but the model gets {reference:.4f} "
        "right. Measure the model on the x and y passed as arguments: using the training tensors (a global "
        "such as x_train) measures how well the model memorised, not how well it generalises",
        f"sur 64 images du correcteur elle renvoie {value:.4f}, mais le modèle en a {reference:.4f} de "
        "justes. Mesurez le modèle sur les x et y reçus en arguments : avec les tenseurs d'entraînement (un "
        "global comme x_train), on mesure ce que le modèle a mémorisé, pas ce qu'il généralise",
        cause="evaluate",
    )


def _check_big_evaluate(ctx: Context, outcome: EvaluateOutcome) -> Message:
    """evaluate on 1,037 images: the accuracy, not a mean of per-chunk accuracies (raises otherwise)."""
    logits, labels = ctx.request.kept["evaluate_big.logits"], ctx.request.tensors["evaluate_big.y"]
    correct = logits.argmax(dim=1) == labels
    expected = float(correct.float().mean())
    big = outcome.returned_big
    if big is None:
        text = outcome.error_big or NO_ANSWER[0]
        raise Failed(
            f"on 1,037 images of the checker: {text}",
            f"sur 1 037 images du correcteur : {in_french(text)}",
            cause="evaluate",
        )
    value = big["value"]
    if value is None:
        raise Failed(
            f"on 1,037 images it returns {big['type']}: return the accuracy, a float in [0, 1]",
            f"sur 1 037 images elle renvoie {big['type']} : renvoyez la précision, un float dans [0, 1]",
            cause="evaluate",
        )
    if math.isclose(value, expected, abs_tol=1e-6):
        return "; and on 1,037 images", " ; et sur 1 037 images"
    if round(value, 6) in chunk_mean_accuracies(correct):
        raise Failed(
            f"on 1,037 images of the checker it returns {value:.4f}, but the model gets {expected:.4f} "
            "right: it averages the accuracies of the chunks, and the last chunk is smaller, so each of its "
            "images weighs more. Count the right answers over all chunks, then divide by len(y)",
            f"sur 1 037 images du correcteur elle renvoie {value:.4f}, mais le modèle en a {expected:.4f} de "
            "justes : elle fait la moyenne des précisions des morceaux, et le dernier morceau est plus petit, "
            "donc chacune de ses images pèse plus. Comptez les bonnes réponses sur tous les morceaux, puis "
            "divisez par len(y)",
            cause="evaluate",
        )
    raise Failed(
        f"on 64 images it is right, but on 1,037 images of the checker it returns {value:.4f} where the "
        f"model gets {expected:.4f} right: measure every image of the x it is given, and divide by len(y)",
        f"juste sur 64 images, mais sur 1 037 images du correcteur elle renvoie {value:.4f} alors que le "
        f"modèle en a {expected:.4f} de justes : mesurez chaque image du x reçu, et divisez par len(y)",
        cause="evaluate",
    )


@check(
    "eval_mode",
    "evaluate puts the model in evaluation mode (model.eval())",
    "evaluate met le modèle en mode évaluation (model.eval())",
)
def check_eval_mode(ctx: Context) -> Message:
    return ctx.marked_verdict("eval_mode").decide(
        ctx,
        (
            "model.eval() before the forward pass: a probe whose scores move in training mode was measured "
            "in evaluation mode",
            "model.eval() avant la propagation avant : une sonde dont les scores bougent en mode "
            "entraînement a été mesurée en mode évaluation",
        ),
        Failed(
            "the model was in training mode: call model.eval() before predicting. In training mode dropout "
            "drops random units and batch norm uses the batch's own statistics, so the accuracy is biased: "
            "it measures a weakened network",
            "le modèle était en mode entraînement : appelez model.eval() avant de prédire. En mode "
            "entraînement, le dropout éteint des neurones au hasard et la batch norm prend les statistiques "
            "du batch : la précision est biaisée, elle mesure un réseau affaibli",
            cause="eval_mode",
        ),
        ("in training mode", "en mode entraînement"),
    )


@check(
    "eval_no_grad",
    "evaluate turns gradient tracking off (torch.no_grad())",
    "evaluate désactive le suivi des gradients (torch.no_grad())",
)
def check_eval_no_grad(ctx: Context) -> Message:
    return ctx.marked_verdict("eval_no_grad").decide(
        ctx,
        (
            "no graph built: a probe whose scores move under autograd was measured without it",
            "aucun graphe construit : une sonde dont les scores bougent sous autograd a été mesurée sans",
        ),
        Failed(
            "autograd recorded the forward pass: wrap the predictions in `with torch.no_grad():`. "
            "Evaluation needs no gradients, and the graph costs memory and time",
            "autograd a enregistré la propagation avant : entourez les prédictions de "
            "`with torch.no_grad():`. L'évaluation n'a pas besoin de gradients, et le graphe de calcul coûte "
            "mémoire et temps",
            cause="eval_no_grad",
        ),
        ("under autograd", "sous autograd"),
    )


@check(
    "loss_fn",
    "loss_fn is the loss of a classification: cross-entropy of the logits and integer labels",
    "loss_fn est une perte de classification : l'entropie croisée des logits et des labels entiers",
)
def check_loss_fn(ctx: Context) -> Message:
    data, tensors = ctx._frame("loss")
    logits, labels = ctx.request.tensors["loss.logits"], ctx.request.tensors["loss.y"]
    references = loss_references(logits, labels)
    type_ = _message(data, "type")
    raised = _message(data, "raised")
    if raised:
        if "MSE" in type_ or "mse" in raised or "must match the size" in raised or "Long" in raised:
            raise Failed(
                f"with logits (B, 10) and integer labels (B,), {raised}. "
                "MSELoss compares two tensors of the same shape (a regression: predictions that approach "
                "numbers); the labels are class indices, not quantities. For 10 classes use "
                "nn.CrossEntropyLoss(), which takes the raw scores (logits) and the integer labels",
                f"avec des logits (B, 10) et des labels entiers (B,), {in_french(raised)}. "
                "MSELoss compare deux tenseurs de même forme (une régression : des prédictions qui approchent "
                "des nombres) ; les labels sont des indices de classe, pas des quantités. Pour 10 classes, "
                "prenez nn.CrossEntropyLoss(), qui prend les scores bruts (logits) et les labels entiers",
                cause="loss",
            )
        raise Failed(
            f"with logits (B, 10) and integer labels (B,), {raised}",
            f"avec des logits (B, 10) et des labels entiers (B,), {in_french(raised)}",
            cause="loss",
        )
    returned = _number(data.get("returned"))
    if returned["value"] is None:
        shape = data.get("shape")
        raise Failed(
            f"it returns {returned['type']}"
            + (f" of shape {tuple(shape)}" if isinstance(shape, list) else "")
            + ": it must return the batch's mean loss, one number (reduction='mean')",
            f"elle renvoie {returned['type']}"
            + (f" de forme {tuple(shape)}" if isinstance(shape, list) else "")
            + " : elle doit renvoyer la perte moyenne du batch, un seul nombre (reduction='mean')",
            cause="loss",
        )
    value = returned["value"]
    match = next(
        (
            name
            for name, target in references.items()
            if math.isclose(value, target, rel_tol=1e-4, abs_tol=1e-6)
        ),
        None,
    )
    if match == "cross_entropy":
        grad = tensors.get("grad")
        expected = (torch.softmax(logits, dim=1) - nn.functional.one_hot(labels, NUM_CLASSES)) / len(labels)
        if (
            not isinstance(grad, torch.Tensor)
            or grad.shape != expected.shape
            or not torch.allclose(grad.double(), expected.double(), rtol=1e-3, atol=1e-6)
        ):
            raise Failed(
                "its value is the cross-entropy, but no gradient flows from it back to the logits: the loss "
                "was cut from the computation graph (.item(), torch.tensor(…), .detach()). Return the "
                "tensor that nn.CrossEntropyLoss() gives",
                "sa valeur est l'entropie croisée, mais aucun gradient ne remonte jusqu'aux logits : la "
                "perte a été coupée du graphe de calcul (.item(), torch.tensor(…), .detach()). Renvoyez le "
                "tenseur que donne nn.CrossEntropyLoss()",
                cause="loss",
            )
        return (
            f"{value:.4f}: the cross-entropy of the checker's logits, with its gradient",
            f"{value:.4f} : l'entropie croisée des logits du correcteur, avec son gradient",
        )
    if match in ("mse_one_hot", "mse_probabilities"):
        raise Failed(
            "it is the mean squared error against one-hot vectors: MSE compares two tensors of the same "
            "shape (a regression), and asks each of the 10 scores to hit 0 or 1 — nothing makes the scores "
            "behave like probabilities, and a right answer is punished for being too sure. For 10 classes "
            "use nn.CrossEntropyLoss(), which takes the raw scores (logits) and the integer labels",
            "c'est l'erreur quadratique moyenne contre des vecteurs one-hot : la MSE compare deux tenseurs "
            "de même forme (une régression) et demande à chacun des 10 scores de valoir 0 ou 1 — rien n'en "
            "fait des probabilités, et une bonne réponse est punie d'être trop sûre. Pour 10 classes, prenez "
            "nn.CrossEntropyLoss(), qui prend les scores bruts (logits) et les labels entiers",
            cause="loss",
        )
    if match == "softmax_cross_entropy":
        raise Failed(
            "it applies a softmax before CrossEntropyLoss: the scores are squashed twice, since "
            "CrossEntropyLoss applies log-softmax itself. The loss then cannot go below ≈ 1.46 (log(1 + 9/e)) "
            "and its gradients flatten: pass the logits to nn.CrossEntropyLoss() directly",
            "elle applique un softmax avant CrossEntropyLoss : les scores sont écrasés deux fois, car "
            "CrossEntropyLoss applique lui-même le log-softmax. La perte ne peut alors pas descendre sous "
            "≈ 1,46 (log(1 + 9/e)) et ses gradients s'aplatissent : passez directement les logits à "
            "nn.CrossEntropyLoss()",
            cause="loss",
        )
    if match in ("nll_logits", "nll_probabilities"):
        raise Failed(
            "it is NLLLoss on scores that are not log-probabilities: NLLLoss only picks −score[true class], "
            "it expects log_softmax outputs. nn.CrossEntropyLoss() is log-softmax + NLLLoss in one: give it "
            "the logits",
            "c'est NLLLoss sur des scores qui ne sont pas des log-probabilités : NLLLoss prend seulement "
            "−score[vraie classe], il attend la sortie d'un log_softmax. nn.CrossEntropyLoss() fait "
            "log-softmax + NLLLoss en une fois : donnez-lui les logits",
            cause="loss",
        )
    if match == "cross_entropy_sum":
        raise Failed(
            "it is the sum of the cross-entropies of the batch, not their mean: the step size then grows "
            "with the batch size. Use nn.CrossEntropyLoss() (reduction='mean')",
            "c'est la somme des entropies croisées du batch, pas leur moyenne : le pas grandit alors avec la "
            "taille du batch. Prenez nn.CrossEntropyLoss() (reduction='mean')",
            cause="loss",
        )
    if match == "bce_one_hot":
        raise Failed(
            "it is a binary cross-entropy against one-hot vectors: 10 independent yes/no questions, not "
            "one choice among 10 classes. Use nn.CrossEntropyLoss() on the logits and integer labels",
            "c'est une entropie croisée binaire contre des vecteurs one-hot : 10 questions oui/non "
            "indépendantes, pas un choix parmi 10 classes. Prenez nn.CrossEntropyLoss() sur les logits et "
            "les labels entiers",
            cause="loss",
        )
    ce = references["cross_entropy"]
    raise Failed(
        f"on the checker's logits and labels it gives {value:.4f}, where the cross-entropy is {ce:.4f}: "
        "use nn.CrossEntropyLoss() on the raw logits and the integer labels",
        f"sur les logits et labels du correcteur elle donne {value:.4f}, alors que l'entropie croisée vaut "
        f"{ce:.4f} : prenez nn.CrossEntropyLoss() sur les logits bruts et les labels entiers",
        cause="loss",
    )


def _model_cause(ctx: Context, failure: Failed) -> str:
    """The root of "no trained model": a `loss_fn` that is missing (the training cell needs it), else its own."""
    cause = failure.cause or "model"
    if cause.startswith("missing:"):
        return ctx.first_cause("missing:loss_fn") or cause
    return cause


#: the roots that make a trained model bad, in the order a hint should name them
TRAINING_ROOTS = ("inputs", "net", "softmax", "loss", "train", "net_size")


@check(
    "model_accuracy",
    "the trained model beats the stated accuracy on images it never saw",
    "le modèle entraîné dépasse la précision demandée sur des images qu'il n'a jamais vues",
)
def check_model_accuracy(ctx: Context) -> Message:
    try:
        test = ctx.test_measurement()
    except Failed as failure:
        raise Failed(failure.en, failure.fr, cause=_model_cause(ctx, failure)) from None
    where_en = f"{test.size:,} images of {test.dataset} it never saw (kept back by the checker)"
    where_fr = f"{test.size:,} images de {test.dataset} qu'il n'a jamais vues (gardées par le correcteur)"
    if test.looks_up:
        raise Failed(
            f"`model` gets {test.public_accuracy:.4f} on the public test images but {test.accuracy:.4f} on "
            f"{where_en}: it recognises the public test images instead of classifying them",
            f"`model` obtient {test.public_accuracy:.4f} sur les images de test publiques mais "
            f"{test.accuracy:.4f} sur {where_fr} : il reconnaît les images de test publiques au lieu de les "
            "classer",
            cause="lookup",
        )
    suspicion = ctx.suspicion
    if suspicion is not None:
        cause = ctx.first_cause(*TRAINING_ROOTS)
        raise Failed(
            "the accuracy of `model` is not counted"
            + (" (the training is wrong, see above)" if cause else "") + ": " + suspicion.en,
            "la précision de `model` n'est pas retenue"
            + (" (l'entraînement est faux, voir plus haut)" if cause else "") + " : " + suspicion.fr,
            cause=cause or "lookup",
        )  # fmt: skip
    if test.accuracy > test.threshold:
        return (
            f"{test.accuracy:.4f} on {where_en}, above {test.threshold}",
            f"{test.accuracy:.4f} sur {where_fr}, au-dessus de {test.threshold}",
        )
    inputs = ctx.inputs_problem()
    if inputs is not None:
        raise Failed(
            f"`model` gets {test.accuracy:.4f} on {where_en}, which does not beat {test.threshold}: "
            + inputs.en,
            f"`model` obtient {test.accuracy:.4f} sur {where_fr}, sans dépasser {test.threshold} : "
            + inputs.fr,
            cause="inputs",
        )
    cause = ctx.first_cause(*TRAINING_ROOTS)
    raise Failed(
        f"`model` gets {test.accuracy:.4f} on {where_en}, which does not beat {test.threshold}"
        + (
            ": the training is wrong (see above)"
            if cause
            else ": train for more epochs, tune the learning rate, or try a CNN (the solution's reaches "
            "0.92 on Fashion-MNIST)"
        ),
        f"`model` obtient {test.accuracy:.4f} sur {where_fr}, sans dépasser {test.threshold}"
        + (
            " : l'entraînement est faux (voir plus haut)"
            if cause
            else " : entraînez plus d'époques, réglez le pas d'apprentissage, ou essayez un CNN (celui du "
            "corrigé atteint 0,92 sur Fashion-MNIST)"
        ),
        cause=cause or "accuracy",
    )


@check(
    "reported_accuracy",
    "test_accuracy is the trained model's accuracy on the test set",
    "test_accuracy est la précision du modèle entraîné sur le test",
)
def check_reported_accuracy(ctx: Context) -> Message:
    try:
        test = ctx.test_measurement()
    except Failed as failure:
        raise Failed(
            "needs the trained `model` (see the check above)",
            "il faut le `model` entraîné (voir la vérification ci-dessus)",
            cause=_model_cause(ctx, failure),
        ) from None
    data, _ = ctx.harvest.get("model")
    if data.get("test_accuracy") is None:
        en, fr = WHERE["test_accuracy"]
        raise Failed(
            f"`test_accuracy` is not defined: write it in {en}",
            f"`test_accuracy` n'est pas défini : il est calculé dans {fr}",
            cause=ctx.first_cause("missing:loss_fn", "missing:model") or "missing:test_accuracy",
        )
    reported = _number(data.get("test_accuracy"))
    if reported["kind"] not in ("real", "tensor") or reported["value"] is None:
        raise Failed(
            f"`test_accuracy` should be a number, found {reported['type']}",
            f"`test_accuracy` devrait être un nombre, trouvé {reported['type']}",
            cause="reported",
        )
    value = reported["value"]
    if abs(value - test.public_accuracy) <= 0.005 and not test.looks_up and ctx.suspicion is None:
        return (
            f"{value:.4f}, as measured by the checker ({test.accuracy:.4f} on the images it kept back)",
            f"{value:.4f}, comme le mesure le correcteur ({test.accuracy:.4f} sur les images qu'il a gardées)",
        )
    if test.looks_up or ctx.suspicion is not None:
        raise Failed(
            "`model` does not classify the test images (see the check above)",
            "`model` ne classe pas les images de test (voir la vérification ci-dessus)",
            cause="lookup" if test.looks_up else ctx.first_cause(*TRAINING_ROOTS) or "lookup",
        )
    inputs = ctx.inputs_problem()
    if inputs is not None:
        raise Failed(
            f"test_accuracy = {value:.4f}, but the checker measures {test.public_accuracy:.4f}: " + inputs.en,
            f"test_accuracy = {value:.4f}, mais le correcteur mesure {test.public_accuracy:.4f} : "
            + inputs.fr,
            cause="inputs",
        )
    cause = ctx.first_cause("eval_mode", "evaluate")
    if cause is not None:
        raise Failed(
            f"test_accuracy = {value:.4f}, but `model` gets {test.public_accuracy:.4f} on the test set: "
            "test_accuracy comes from your evaluate, which is wrong (see above)",
            f"test_accuracy = {value:.4f}, mais `model` obtient {test.public_accuracy:.4f} sur le test : "
            "test_accuracy vient de votre evaluate, qui est faux (voir plus haut)",
            cause=cause,
        )
    raise Failed(
        f"test_accuracy = {value:.4f}, but `model` gets {test.public_accuracy:.4f} on the test set: "
        "compute it with evaluate(model, x_test, y_test) after training — on the test split, not the "
        "training or validation data",
        f"test_accuracy = {value:.4f}, mais `model` obtient {test.public_accuracy:.4f} sur le test : "
        "calculez-la avec evaluate(model, x_test, y_test) après l'entraînement — sur la partie test, pas sur "
        "les données d'entraînement ou de validation",
        cause="reported",
    )


CHECK_IDS = tuple(check_id for check_id, _, _ in CHECKS)
#: the consequences of cells that failed: a name not defined, a step that never answered
_RUNS_CONSEQUENCES = ("missing:", "no_answer")


def decide(
    request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0, lang: Lang = "en"
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Every check, decided here from the harvest: one result per check, always all of them, in order,
    in ``lang``; and facts for the report (dataset, measured test accuracy, threshold, names not defined).

    A failure whose root cause was already reported by a check above says so ("caused by the failure
    above") and names that check, rather than giving a second hint for the same mistake.
    """
    ctx = Context(request, harvest, notebook_timeout=notebook_timeout, lang=lang)
    language = 1 if lang == "fr" else 0
    titles = {check_id: title for check_id, title, _ in CHECKS}
    root_texts: dict[str, str] = {}
    results = []
    for check_id, title, function in CHECKS:
        try:
            message = function(ctx)
            results.append(CheckResult(check_id, title[language], True, message[language]))
        except Failed as failure:
            cause = failure.cause
            if cause is not None and cause.startswith(_RUNS_CONSEQUENCES) and "runs" in ctx.failures:
                cause = "runs"
            text = failure.text(lang)
            root = ctx.failures.get(cause) if cause is not None else None
            if root is not None:
                # the same root as a ✗ above: say so, and do not repeat its hint word for word
                root_title, root_text = titles[root][language], root_texts[root]
                # French typography: no-break spaces inside « » and before ":" (the line never breaks there)
                marker = (
                    f"{CAUSED_BY[1]} (\u00ab\u00a0{root_title}\u00a0\u00bb)"
                    if lang == "fr"
                    else f"{CAUSED_BY[0]} (“{root_title}”)"
                )
                separator = "\u00a0: " if lang == "fr" else ": "
                text = marker if text == root_text else marker + separator + text
                results.append(CheckResult(check_id, title[language], False, text, caused_by=root))
            else:
                if cause is not None:
                    ctx.failures[cause] = check_id
                root_texts[check_id] = text
                results.append(CheckResult(check_id, title[language], False, text))
        except Exception as exc:  # malformed data can break a check in ways we did not foresee
            reason = f"{type(exc).__name__}: {exc}"[:260]
            text = f"impossible de décider : {reason}" if lang == "fr" else f"could not decide: {reason}"
            results.append(CheckResult(check_id, title[language], False, text))
    facts: dict[str, Any] = {"budget": request.budget, "dataset": request.dataset, "lang": lang}
    if request.fashion_mnist_missing:
        facts["fashion_mnist_missing"] = request.fashion_mnist_missing
    cells = harvest.frames.get("cells")
    if cells is not None and isinstance(cells[0].get("defined"), list):
        facts["missing"] = [name for name in WHERE if name not in cells[0]["defined"]]
    measured = ctx._test_measurement
    if isinstance(measured, TestMeasurement):
        facts.update(test_accuracy=measured.accuracy, threshold=measured.threshold)
    return results, facts
