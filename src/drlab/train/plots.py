"""The pictures of a run, for people who would rather look than read.

- ``curves.png``: training and validation loss and accuracy per epoch (over-fitting shows as a gap);
- ``confusion_matrix.png``: which classes are mistaken for which, with the class names;
- ``predictions.png``: a grid of test images with the predicted and the true label, mistakes in red;
- ``confused_pairs.png``: the most frequent mistakes, "true → predicted", with counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from drlab.common.plots import new_figure
from drlab.train.metrics import most_confused_pairs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISTAKE = "#c62828"
CORRECT = "#2e7d32"


def plot_curves(history: Sequence[Mapping[str, float]]) -> Figure:
    """Loss and accuracy per epoch, training vs validation."""
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(10, 4))
    epochs = [int(record["epoch"]) for record in history]
    for split, style in (("train", "-o"), ("val", "-s")):
        losses = [record[f"{split}_loss"] for record in history]
        accuracies = [record[f"{split}_accuracy"] for record in history]
        if not all(np.isnan(losses)):
            ax_loss.plot(epochs, losses, style, label=split, markersize=3)
            ax_acc.plot(epochs, accuracies, style, label=split, markersize=3)
    ax_loss.set(title="loss (cross-entropy)", xlabel="epoch (époque)", ylabel="loss")
    ax_acc.set(title="accuracy", xlabel="epoch (époque)", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_confusion_matrix(confusion: np.ndarray, classes: Sequence[str]) -> Figure:
    """The confusion matrix: rows are true classes, columns predictions; colour = share of the row."""
    confusion = np.asarray(confusion)
    k = len(classes)
    rows = confusion.sum(axis=1, keepdims=True)
    shares = confusion / np.maximum(rows, 1)
    size = max(5.0, 0.6 * k + 2)
    fig, ax = new_figure(figsize=(size + 1, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted", ylabel="true", title=f"confusion matrix ({int(confusion.sum())} samples)")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if confusion[i, j]:
                    color = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(
                        j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=7, color=color
                    )
    return fig


def plot_predictions(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    confidence: np.ndarray,
    classes: Sequence[str],
    columns: int = 8,
) -> Figure:
    """A grid of images titled "predicted (probability) / true"; mistakes framed and titled in red."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = new_figure(rows, columns, figsize=(1.6 * columns, 1.9 * rows), squeeze=False)
    mistakes = int((y_true != y_pred).sum())
    fig.suptitle(f"test images: predicted (probability) / true — {mistakes} mistake(s) of {n} in red")
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= n:
            ax.axis("off")
            continue
        ax.imshow(images[index], cmap="gray_r", vmin=0, vmax=255)
        wrong = y_true[index] != y_pred[index]
        color = MISTAKE if wrong else CORRECT
        ax.set_title(
            f"{classes[y_pred[index]]} ({confidence[index]:.0%})\n/ {classes[y_true[index]]}",
            fontsize=7,
            color=color,
        )
        for spine in ax.spines.values():
            spine.set_color(color)
            spine.set_linewidth(3 if wrong else 0.5)
    return fig


def plot_confused_pairs(confusion: np.ndarray, classes: Sequence[str], top: int = 10) -> Figure:
    """A bar chart of the most frequent mistakes, "true → predicted", as counts and shares of the true class."""
    confusion = np.asarray(confusion)
    pairs = most_confused_pairs(confusion, top)
    fig, ax = new_figure(figsize=(7, 0.4 * max(len(pairs), 3) + 1.2))
    if not pairs:
        ax.text(0.5, 0.5, "no mistakes on this split", ha="center", va="center")
        ax.axis("off")
        return fig
    labels = [f"{classes[i]} → {classes[j]}" for i, j, _ in pairs][::-1]
    counts = [count for _, _, count in pairs][::-1]
    rows = confusion.sum(axis=1)
    bars = ax.barh(labels, counts, color=MISTAKE, alpha=0.8)
    for bar, (i, _, count) in zip(bars, pairs[::-1], strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {count} ({count / max(rows[i], 1):.1%})",
                va="center", fontsize=8)  # fmt: skip
    ax.set(title="most confused pairs (true → predicted)", xlabel="test samples")
    ax.margins(x=0.2)
    return fig
