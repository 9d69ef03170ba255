"""Image-classification datasets as plain arrays, the form every loader of drlab returns.

An :class:`ImageDataset` holds uint8 images ``(N, H, W)`` and int64 labels ``(N,)`` for the train and
test splits, the class names, and the normalisation constants (mean and std of ``pixel / 255`` over
the training set) that :class:`drlab.data.Batches` applies once, on the device.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from drlab.common.errors import UsageError


@dataclass(frozen=True)
class ImageDataset:
    """Train and test splits of a labelled image dataset, as NumPy arrays."""

    name: str
    """short name, e.g. ``"fashion-mnist"`` or ``"digits"``"""
    x_train: np.ndarray
    """training images, uint8, shape (N, H, W)"""
    y_train: np.ndarray
    """training labels, int64 in [0, num_classes), shape (N,)"""
    x_test: np.ndarray
    """test images, uint8, shape (M, H, W)"""
    y_test: np.ndarray
    """test labels, int64, shape (M,)"""
    classes: tuple[str, ...]
    """class names, indexed by label"""
    mean: float
    """mean of pixel/255 over the training images (the standard normalisation)"""
    std: float
    """standard deviation of pixel/255 over the training images"""
    source: str = ""
    """where the images were read (folders, and whether it is the system's copy), or how they were made"""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image as the models see it."""
        return (1, int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def limit(self, n: int | None) -> ImageDataset:
        """The first ``n`` training samples (and at most ``n`` test samples): the tiny budget of tests."""
        if n is None:
            return self
        if n < 1:
            raise ValueError(f"limit must be ≥ 1, got {n}")
        return dataclasses.replace(
            self,
            x_train=self.x_train[:n],
            y_train=self.y_train[:n],
            x_test=self.x_test[:n],
            y_test=self.y_test[:n],
        )


DIGITS_CLASSES = tuple(str(d) for d in range(10))
#: the 1,797 digits, one a line: 64 pixel counts in 0..16, then the digit (scikit-learn's file, byte for
#: byte; its origin and licence: digits-NOTICE.txt beside it). drlab's grader hides it from a notebook.
DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits as they are stored: pixel counts ``(1797, 8, 8)`` in 0..16 (float64) and labels."""
    table = np.loadtxt(DIGITS_FILE, delimiter=",")  # numpy reads the .gz itself
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def load_digits(test_fraction: float = 0.2, seed: int = 0, size: Literal[8, 28] = 8) -> ImageDataset:
    """The 8×8 handwritten digits bundled with drlab (1,797 real images), split train/test with ``seed``.

    Works offline: the images ship inside drlab (:data:`DIGITS_FILE`). Pixel values 0–16 are rescaled to
    0–255 uint8 so that every dataset of drlab has the same format as Fashion-MNIST. ``size=28`` enlarges
    them to Fashion-MNIST's 28×28 (:func:`digits_28x28`), so that a TP1 network runs on them unchanged:
    TP1's fallback when Fashion-MNIST cannot be had. ``mean`` and ``std`` are always those of the images
    returned: the black border of the 28×28 images lowers the mean (0.305 on 8×8, 0.224 on 28×28, seed 0).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if size not in (8, 28):
        raise ValueError(f"size must be 8 or 28, got {size}")
    counts, labels = digits_arrays()
    images = np.round(counts * (255.0 / 16.0)).astype(np.uint8)
    if size == 28:
        images = digits_28x28(images)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = round(len(labels) * test_fraction)
    test_idx, train_idx = order[:n_test], order[n_test:]
    x_train = images[train_idx]
    scaled = x_train.astype(np.float64) / 255.0  # the statistics of the images actually fed
    return ImageDataset(
        name="digits",
        x_train=x_train,
        y_train=labels[train_idx],
        x_test=images[test_idx],
        y_test=labels[test_idx],
        classes=DIGITS_CLASSES,
        mean=float(scaled.mean()),
        std=float(scaled.std()),
        source=f"drlab's bundled digits (UCI, via scikit-learn), {size}×{size}",
    )


def digits_28x28(images: np.ndarray) -> np.ndarray:
    """Enlarge 8×8 digits to 28×28: each pixel repeated 3×3 (24×24), then a 2-pixel black border."""
    enlarged = images.repeat(3, axis=1).repeat(3, axis=2)
    return np.pad(enlarged, ((0, 0), (2, 2), (2, 2)))


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split arrays into train and validation parts with a seeded permutation.

    Returns ``(x_train, y_train, x_val, y_val)``; the same seed always gives the same split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length ({len(images)} vs {len(labels)})")
    n_val = max(1, round(len(labels) * val_fraction))
    if n_val >= len(labels):
        # a side with no image: no step to train, or nothing to validate on (both need one at least)
        raise UsageError(
            f"--val-fraction {val_fraction:g} of {len(labels):,} training images leaves "
            f"{len(labels) - n_val} for training: each part needs at least one image (use a smaller "
            "--val-fraction, or a larger --limit)"
        )
    order = np.random.default_rng(seed).permutation(len(labels))
    val_idx, train_idx = order[:n_val], order[n_val:]
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]
