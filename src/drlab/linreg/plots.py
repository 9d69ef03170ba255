"""The lab's two pictures: the data with each method's fitted line, and the loss per epoch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drlab.common.plots import new_figure, save_figure
from drlab.linreg.data import FitResult, RegressionData


def plot_fits(
    data: RegressionData, results: Sequence[FitResult], ols: tuple[float, float], path: str | Path
) -> Path:
    """Scatter the train and validation points and draw each method's line y = a + b·x."""
    fig, ax = new_figure(figsize=(7, 5))
    ax.scatter(data.x_train, data.y_train, s=14, label="train", color="tab:blue")
    ax.scatter(data.x_val, data.y_val, s=14, label="validation", color="tab:orange", marker="^")
    xs = np.array([0.0, 1.0])
    ax.plot(xs, ols[0] + ols[1] * xs, color="black", linewidth=3, alpha=0.3, label="least squares")
    for result in results:
        ax.plot(
            xs,
            result.a + result.b * xs,
            linewidth=1,
            label=f"{result.method} (a={result.a:.3f}, b={result.b:.3f})",
        )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("y = a + b·x: the fitted lines")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_losses(results: Sequence[FitResult], path: str | Path) -> Path:
    """Train and validation MSE per epoch ("époque"), both axes logarithmic (epoch 0 = before training)."""
    fig, (ax_train, ax_val) = new_figure(1, 2, figsize=(11, 4.5), sharey=True)
    for result in results:
        epochs = np.arange(len(result.train_loss))
        (line,) = ax_train.plot(epochs, result.train_loss, linewidth=1, alpha=0.85, label=result.method)
        ax_val.plot(epochs, result.val_loss, color=line.get_color(), linewidth=1, alpha=0.85)
    for ax, title in ((ax_train, "training MSE"), (ax_val, "validation MSE")):
        ax.set_xscale("symlog", linthresh=1)  # the first epochs, where most of the descent happens, get room
        ax.set_xlim(left=0)
        ax.set_yscale("log")
        ax.set_xlabel("epoch (époque)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    ax_train.set_ylabel("MSE")
    ax_train.legend(fontsize=7)
    return save_figure(fig, path)
