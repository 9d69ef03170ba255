"""Did the trained model learn from images, or does it look the dataset's labels up?

Fashion-MNIST is public: all 70,000 labels fit in a table of 640 KB, and the private images the grader
keeps back are public training images, so a ``Net`` whose ``forward`` finds each image in such a table
(a hash of its pixels, or its nearest neighbour; the table in a Python attribute or in a buffer) scores
1.0 on them without having learned anything. Three defences, decided here from data the sandbox sends:

- **the shuffled classes.** The grader has a *fresh* ``Net()`` trained by the student's own
  ``train_one_epoch`` (:func:`drlab.check.harvest.harvest_retrain`: Adam, two epochs) on training
  images whose 10 class labels it renamed by a permutation drawn from the seed — every class becomes
  another one (a derangement) — and measures that network on the private images under the same renaming.
  A network that learns from its images learns the renamed task as easily as the real one (≈ 0.75–0.8
  after 600–2,000 images; chance is 0.1); a model that answers from a table of the dataset's labels
  answers with the old names, and gets ≈ 0.
- **the copy**: a fresh ``Net()`` given the trained model's ``state_dict`` must answer as the model
  does on the private images (:func:`copy_differs`). A trained network *is* its weights; a model that
  answers from something set on it after ``Net()`` built it (the notebook's ``model`` holding a table,
  while every fresh ``Net()`` — the grader's — is an honest network that learns the renamed classes)
  does not carry it into the copy;
- **accuracies no TP1 model reaches** on images it never saw (:data:`CEILINGS`): a lookup of the public
  set is right on every private image (1.0), where the best published networks reach about 0.96 on
  Fashion-MNIST and the solution's CNN 0.93.

What these do not catch (measured in ``tests/test_check_lookup.py``): a ``Net`` whose trainable part is a
small layer *on top of* the looked-up label, the table built in ``__init__`` (it learns the renaming in a
few steps, its copy carries the table), answering wrong often enough to stay under the ceilings; or
code that tells the grader's calls from the notebook's (a hook on ``load_state_dict``, the grader's
inputs read to recover the renaming) — work aimed at the grader, as forging its data channel is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from drlab.check.harvest import RETRAIN
from drlab.check.messages import Text, text
from drlab.check.tp1.contract import NUM_CLASSES

if TYPE_CHECKING:
    from drlab.data.datasets import ImageDataset

__all__ = [
    "CEILINGS", "RETRAIN_IMAGES", "RETRAIN_MIN_ACCURACY", "Retrained", "add_retrain", "copy_differs",
    "derangement", "retrained", "suspicion",
]  # fmt: skip

#: training images a fresh Net is trained on with renamed classes, by budget (the tiny budget's are
#: its 600 training images; the full budget's are drawn from the seed among the notebook's)
RETRAIN_IMAGES = {"full": 2000, "tiny": 600}
#: a fresh Net that learns from its images beats this on the renamed task (honest MLPs and CNNs reach
#: 0.73–0.81 with either budget; a table of the public labels ≈ 0; chance 0.1)
RETRAIN_MIN_ACCURACY = 0.4
HONEST_RETRAIN = (0.75, 0.8)
#: accuracies on images a model never saw that no TP1 model reaches, by (dataset, budget); none for the
#: digits, which a good CNN may classify without a mistake
CEILINGS = {("fashion-mnist", "full"): 0.97, ("fashion-mnist", "tiny"): 0.92}
#: the best published networks on Fashion-MNIST, and the solution's CNN (full budget), for the hint
BEST_PUBLISHED, SOLUTION_CNN = 0.96, 0.93
#: a fresh Net() given the model's state_dict answers as the model does on at least this share of the
#: private images (a trained network: all of them, its weights being all it is)
MIN_COPY_AGREEMENT = 0.99
#: the same for the fresh Net after its two short epochs on 600–2,000 images (the solution's: 0.75)
RETRAIN_CEILINGS = {("fashion-mnist", "full"): 0.95, ("fashion-mnist", "tiny"): 0.95}
SOLUTION_RETRAIN = 0.75

Frame = tuple[Mapping[str, Any], Mapping[str, torch.Tensor]]


def derangement(seed: int) -> torch.Tensor:
    """A permutation of the 10 classes that moves every class (drawn from ``seed``)."""
    generator = torch.Generator().manual_seed(seed * 7919 + 97)
    while True:
        permutation = torch.randperm(NUM_CLASSES, generator=generator)
        if bool((permutation != torch.arange(NUM_CLASSES)).all()):
            return permutation


def add_retrain(
    tensors: dict[str, torch.Tensor],
    kept: dict[str, torch.Tensor],
    seen: ImageDataset,
    seed: int,
    budget: str,
) -> None:
    """Put the renamed training images, normalised as the notebook's (``retrain.x``, ``retrain.y``), into
    the request, and keep the renaming (``retrain.permutation``)."""
    from drlab.data.batches import Batches

    available = min(len(seen.y_train), 600) if budget == "tiny" else len(seen.y_train)
    size = min(RETRAIN_IMAGES[budget], available)
    generator = torch.Generator().manual_seed(seed * 7919 + 98)
    chosen = torch.randperm(available, generator=generator)[:size].sort().values.numpy()
    permutation = derangement(seed)
    tensors["retrain.x"] = Batches(
        seen.x_train[chosen], seen.y_train[chosen], batch_size=1000, mean=seen.mean, std=seen.std,
        shuffle=False,
    ).x  # fmt: skip
    tensors["retrain.y"] = permutation[torch.as_tensor(seen.y_train[chosen]).long()]
    kept["retrain.permutation"] = permutation


@dataclass(frozen=True)
class Retrained:
    """The fresh Net trained on renamed classes, measured on the private images under the same renaming."""

    accuracy: float
    images: int
    """training images it was given"""
    private: int
    """private images it was measured on"""


#: words what went wrong in a sandbox step (:func:`drlab.check.tp1.evidence.sandbox_event`, given by the
#: caller: the request, which this module also serves, comes before the evidence)
Describe = Callable[[Any], Text]


def _event(data: Mapping[str, Any], describe: Describe) -> Text | None:
    """What went wrong in the sandbox's step, as a message (None: nothing)."""
    error = data.get("error")
    return describe(error) if error else None


def retrained(
    frame: Frame | None,
    labels: torch.Tensor,
    kept: Mapping[str, torch.Tensor],
    images: int,
    describe: Describe,
) -> Retrained | Text:
    """The fresh Net's accuracy on the renamed private images, from the sandbox's ``retrain`` frame (or
    why there is none)."""
    if frame is None:
        return text("integrity.no_retrain")
    data, tensors = frame
    event = _event(data, describe)
    if event is not None:
        return text("integrity.retrain_failed", event=event)
    logits = tensors.get("logits.private")
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), NUM_CLASSES):
        return text("integrity.retrain_no_logits")
    renamed = kept["retrain.permutation"][labels.long()]
    accuracy = float((logits.float().argmax(dim=1) == renamed).float().mean())
    return Retrained(accuracy, images, len(labels))


def copy_differs(
    frame: Frame | None, model_logits: torch.Tensor, labels: torch.Tensor, describe: Describe
) -> Text | None:
    """Does a fresh Net() given ``model``'s state_dict answer otherwise than ``model`` on the private
    images (from the sandbox's ``model_copy`` frame)? A trained network is its weights."""
    if frame is None:
        return text("integrity.no_copy")
    data, tensors = frame
    event = _event(data, describe)
    if event is not None:
        return text("integrity.copy_failed", event=event)
    logits = tensors.get("logits.private")
    if not isinstance(logits, torch.Tensor) or logits.shape != model_logits.shape:
        return text("integrity.copy_no_logits")
    copied, original = logits.float().argmax(dim=1), model_logits.float().argmax(dim=1)
    agreement = float((copied == original).float().mean())
    if agreement >= MIN_COPY_AGREEMENT:
        return None
    return text(
        "integrity.copy_differs", percent=100 * agreement,
        copy=float((copied == labels).float().mean()), model=float((original == labels).float().mean()),
    )  # fmt: skip


def suspicion(
    dataset: str, budget: str, private_accuracy: float, retrain: Retrained | Text, copy: Text | None = None
) -> Text | None:
    """Why the trained model's ``private_accuracy`` is not taken as learned, or ``None``."""
    if copy is not None:
        return copy
    if isinstance(retrain, Text):
        return retrain
    renamed = text(
        "integrity.renamed", epochs=RETRAIN[0], images=retrain.images, accuracy=retrain.accuracy,
        private=retrain.private,
    )  # fmt: skip
    if retrain.accuracy <= RETRAIN_MIN_ACCURACY:
        return text(
            "integrity.chance", renamed=renamed, minimum=RETRAIN_MIN_ACCURACY, honest_low=HONEST_RETRAIN[0],
            honest_high=HONEST_RETRAIN[1], chance=1 / NUM_CLASSES,
        )  # fmt: skip
    ceiling = CEILINGS.get((dataset, budget))
    if ceiling is not None and private_accuracy > ceiling:
        return text(
            "integrity.ceiling", accuracy=private_accuracy, ceiling=ceiling, best=BEST_PUBLISHED,
            solution=SOLUTION_CNN,
        )  # fmt: skip
    retrain_ceiling = RETRAIN_CEILINGS.get((dataset, budget))
    if retrain_ceiling is not None and retrain.accuracy > retrain_ceiling:
        return text("integrity.retrain_ceiling", renamed=renamed, solution=SOLUTION_RETRAIN)
    return None
