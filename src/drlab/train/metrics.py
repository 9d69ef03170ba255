"""Classification metrics computed from counts, so that they add up across batches (and across processes).

An accuracy averaged over batches of unequal sizes — or over ranks — is wrong; a confusion matrix of
counts is exact: sum the matrices, then divide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as ``j`` (int64, on the inputs' device)."""
    flat = y_true.to(torch.int64) * num_classes + y_pred.to(torch.int64)
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums (NaN for a class absent from the data)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)


def most_confused_pairs(confusion: np.ndarray, top: int = 10) -> list[tuple[int, int, int]]:
    """The ``top`` off-diagonal cells ``(true, predicted, count)``, largest count first (zeros left out)."""
    confusion = np.asarray(confusion)
    pairs = [
        (i, j, int(confusion[i, j]))
        for i in range(confusion.shape[0])
        for j in range(confusion.shape[1])
        if i != j and confusion[i, j] > 0
    ]
    pairs.sort(key=lambda pair: (-pair[2], pair[0], pair[1]))
    return pairs[:top]


def confusion_report(confusion: np.ndarray, classes: Sequence[str], top: int = 10) -> dict[str, Any]:
    """Per-class accuracy, the confusion matrix and the ``top`` most confused pairs, JSON-ready."""
    confusion = np.asarray(confusion)
    return {
        "per_class_accuracy": {
            name: (None if math.isnan(acc) else float(acc))
            for name, acc in zip(classes, per_class_accuracy(confusion), strict=True)
        },
        "confusion_matrix": confusion.tolist(),
        "most_confused": [
            {"true": classes[i], "predicted": classes[j], "count": count}
            for i, j, count in most_confused_pairs(confusion, top)
        ],
    }
