"""What the grader sends into the sandbox, and what it keeps: the probes, their data, the images.

Everything is drawn from ``--seed``: a different seed, different probe weights, images and expected
accuracy, so that no constant answer passes. The *probes* are small networks of the grader's
(:class:`~drlab.check.harvest.ProbeNet`) that the student's ``train_one_epoch`` and ``evaluate`` are
called on. The trained ``model`` is measured on the public test images (shuffled) and on *private*
images: training images the grader keeps back. The notebook's sandbox holds the dataset without them
(:func:`hold_out`) and none of the dataset's own files, so their labels exist nowhere the notebook can
read. And the notebook's dataset has its 10 classes *renamed* (:func:`drlab.check.tp1.integrity.rename`:
each class carries another's number, drawn from the seed), as have the labels the grader keeps: a network
learns the numbers it is trained with, a table of the public dataset's labels answers with the old ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from drlab.check.harvest import PROBES, ProbeNet, make_probe
from drlab.check.tp1 import integrity
from drlab.check.tp1.contract import IMAGE_SHAPE, NUM_CLASSES
from drlab.data.datasets import ImageDataset
from drlab.data.tp1 import TINY_SAMPLES, load_tp1_dataset

#: training images the grader keeps back, by budget: the trained model is measured on them, and the
#: notebook's sandbox holds every image but these (at most half of the training images after the first 600)
PRIVATE_IMAGES = {"full": 5000, "tiny": 600}
#: images in evaluate's second probe: a prime number, so that any chunk size leaves a smaller last chunk
EVALUATE_BIG = 1037
#: labels in the loss probe: not 10, so that a (B, 10) - (B,) broadcast fails as it would in training
LOSS_BATCH = 7
#: images (and labels) of each probe's data
PROBE_IMAGES = {
    "lowers": 32,
    "zero_grad": 32,
    "train_mode": 16,
    "evaluate": 64,
    "eval_mode": 64,
    "eval_no_grad": 64,
}


@dataclass
class Request:
    """The inputs of one grading (the same for every notebook of a class), and what stays in the grader."""

    seed: int
    budget: str
    tensors: dict[str, torch.Tensor]
    """sent to the sandbox: probe weights and data, 5 images for Net, the public test images and the
    private ones (no labels)"""
    labels: dict[str, torch.Tensor]
    """kept: the labels of the shuffled public test images (``test``) and of the private ones (``private``),
    renamed as the notebook's dataset (``kept["renaming"]``)"""
    dataset: str
    fashion_mnist_missing: str | None
    evaluate_expected: float
    """the accuracy the evaluate probe really has on its data (drawn from the seed)"""
    kept: dict[str, torch.Tensor] = field(default_factory=dict)
    """kept too: the probes' logits on evaluate's inputs (the references of the checks and their hints)"""
    notebook_data: ImageDataset | None = None
    """what the notebook may see of the dataset: everything but the private images, its classes renamed
    (written to a file that the sandbox's ``load_tp1_dataset`` reads, :func:`drlab.data.tp1.save_tp1_snapshot`)"""


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
    for offset, (name, size) in enumerate(PROBE_IMAGES.items(), start=1):
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
        probe = make_probe(tensors, name).eval()
        with torch.no_grad():
            kept[f"{name}.logits"] = probe(tensors[f"{name}.x"])
        tensors[f"{name}.y"], right[name] = _labels_with_accuracy(
            kept[f"{name}.logits"].argmax(dim=1), seed, offset
        )
    # evaluate's second input: 1,037 images, about half of them labelled as the probe predicts
    tensors["evaluate_big.x"] = torch.randn(EVALUATE_BIG, *IMAGE_SHAPE, generator=_generator(seed, 53))
    with torch.no_grad():
        kept["evaluate_big.logits"] = make_probe(tensors, "evaluate").eval()(tensors["evaluate_big.x"])
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
    renaming = integrity.derangement(seed)  # the lookup defence: every class carries another's number
    seen, private_labels = integrity.rename(seen, renaming), renaming[private_labels.long()]
    kept["renaming"] = renaming
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
    return Request(
        seed, budget, tensors, labels, full.name, reason, right["evaluate"] / 64, kept, notebook_data=seen
    )
