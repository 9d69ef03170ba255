"""Did the trained model learn from images, or does it look the dataset's labels up?

Fashion-MNIST is public: all 70,000 labels fit in a table of 640 KB, and the private images the grader
keeps back are public training images, so a ``Net`` whose ``forward`` finds each image in such a table
(a hash of its pixels, or its nearest neighbour; the table in a Python attribute or in a buffer) scores
1.0 on them without having learned anything. Two defences, decided here from data the sandbox sends:

- **the renamed classes.** The dataset the notebook is given has its 10 classes renamed by a
  permutation drawn from the seed (:func:`rename`; every class becomes another one: a derangement), and
  the grader measures the trained ``model`` on the private images under the same renaming. A network
  learns the numbers it is trained with, whatever they are (an honest network does as well on the
  renamed task as on the real one); a table of the public dataset's labels answers with the old numbers,
  and gets ≈ 0 — while it would get most of them right under the dataset's own labels
  (:func:`suspicion`), which is how the report tells a lookup from a model that did not learn;
- **accuracies no TP1 model reaches** on images it never saw (:data:`CEILINGS`): a lookup that learned
  the renaming is right on every private image (1.0), where the best published networks reach about
  0.96 on Fashion-MNIST and the solution's CNN 0.93.

What these do not catch (measured in ``tests/test_check_lookup.py``): code that recovers the renaming —
a trainable layer *on top of* the looked-up label, trained by the notebook's own training cell (it learns
the renaming in a few steps), or a comparison of the notebook's labels with the table — and answers
wrong often enough to stay under the ceilings: work aimed at the grader, as forging its data channel is.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch

from drlab.check.messages import Text, text
from drlab.check.tp1.contract import NUM_CLASSES
from drlab.check.tp1.reference import accuracy

if TYPE_CHECKING:
    from drlab.data.datasets import ImageDataset

__all__ = ["CEILINGS", "ORIGINAL_MIN_ACCURACY", "derangement", "original_accuracy", "rename", "suspicion"]

#: a model that gets more than this of the private images right under the dataset's *own* labels (and
#: more than under the renamed ones it was trained with) answers from a table of the public labels; a
#: network trained on the renamed classes gets at most its own mistakes right by chance there (≈ 0.03)
ORIGINAL_MIN_ACCURACY = 0.4
#: accuracies on images a model never saw that no TP1 model reaches, by (dataset, budget); none for the
#: digits, which a good CNN may classify without a mistake
CEILINGS = {("fashion-mnist", "full"): 0.97, ("fashion-mnist", "tiny"): 0.92}
#: the best published networks on Fashion-MNIST, and the solution's CNN (full budget), for the hint
BEST_PUBLISHED, SOLUTION_CNN = 0.96, 0.93


def derangement(seed: int) -> torch.Tensor:
    """A permutation of the 10 classes that moves every class (drawn from ``seed``)."""
    generator = torch.Generator().manual_seed(seed * 7919 + 97)
    while True:
        permutation = torch.randperm(NUM_CLASSES, generator=generator)
        if bool((permutation != torch.arange(NUM_CLASSES)).all()):
            return permutation


def rename(dataset: ImageDataset, renaming: torch.Tensor) -> ImageDataset:
    """``dataset`` with class ``k`` numbered ``renaming[k]`` in its training and test labels (the images,
    their order, the class names and the normalisation unchanged)."""
    table = renaming.numpy()
    return dataclasses.replace(
        dataset,
        y_train=table[dataset.y_train].astype(dataset.y_train.dtype),
        y_test=table[dataset.y_test].astype(dataset.y_test.dtype),
    )


def original_accuracy(logits: torch.Tensor, labels: torch.Tensor, renaming: torch.Tensor) -> float:
    """The share of ``logits``' answers that are the dataset's *own* label of each image (``labels`` are
    the renamed ones)."""
    return accuracy(logits, torch.argsort(renaming)[labels.long()])


def suspicion(dataset: str, budget: str, private_accuracy: float, original: float) -> Text | None:
    """Why the trained model's ``private_accuracy`` (under the renamed classes) is not taken as learned,
    given its accuracy under the dataset's own labels (``original``), or ``None``."""
    if original > ORIGINAL_MIN_ACCURACY and original > private_accuracy:
        return text("integrity.original_labels", original=original, renamed=private_accuracy)
    ceiling = CEILINGS.get((dataset, budget))
    if ceiling is not None and private_accuracy > ceiling:
        return text(
            "integrity.ceiling", accuracy=private_accuracy, ceiling=ceiling, best=BEST_PUBLISHED,
            solution=SOLUTION_CNN,
        )  # fmt: skip
    return None
