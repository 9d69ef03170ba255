"""The lab's two pictures: the data with each method's fitted line, and the loss per epoch.

A learning rate that is too large makes gradient descent diverge: a and b, then the losses, grow to
1e300 and to infinity. Such values are not drawn (no axis can hold them, and matplotlib fails trying):
a diverged method's line is left out and its losses are drawn up to :data:`LOSS_CEILING`, and the legend
says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from drlab.common.plots import new_figure
from drlab.linreg.data import FitResult, RegressionData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: losses above this are a divergence, not a descent: they are left out of the picture
LOSS_CEILING = 1e12


def diverged(result: FitResult) -> bool:
    """Whether ``result`` left the picture: a non-finite or huge fit, or a loss past :data:`LOSS_CEILING`."""
    losses = np.concatenate([result.train_loss, result.val_loss])
    return not (
        np.isfinite([result.a, result.b]).all() and np.isfinite(losses).all() and losses.max() <= LOSS_CEILING
    )


def plot_fits(data: RegressionData, results: Sequence[FitResult], ols: tuple[float, float]) -> Figure:
    """Scatter the train and validation points and draw each method's line y = a + b·x."""
    fig, ax = new_figure(figsize=(7, 5))
    ax.scatter(data.x_train, data.y_train, s=14, label="train", color="tab:blue")
    ax.scatter(data.x_val, data.y_val, s=14, label="validation", color="tab:orange", marker="^")
    xs = np.array([0.0, 1.0])
    ax.plot(xs, ols[0] + ols[1] * xs, color="black", linewidth=3, alpha=0.3, label="least squares")
    for result in results:
        if diverged(result):
            ax.plot([], [], linewidth=1, label=f"{result.method}: diverged, not drawn")
            continue
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
    return fig


def plot_losses(results: Sequence[FitResult]) -> Figure:
    """Train and validation MSE per epoch ("époque"), both axes logarithmic (epoch 0 = before training)."""
    fig, (ax_train, ax_val) = new_figure(1, 2, figsize=(11, 4.5), sharey=True)
    for result in results:
        epochs = np.arange(len(result.train_loss))
        label = result.method + (
            f" (diverged: above {LOSS_CEILING:.0e} not drawn)" if diverged(result) else ""
        )
        (line,) = ax_train.plot(epochs, _drawable(result.train_loss), linewidth=1, alpha=0.85, label=label)
        ax_val.plot(epochs, _drawable(result.val_loss), color=line.get_color(), linewidth=1, alpha=0.85)
    drawn = [_drawable(loss) for result in results for loss in (result.train_loss, result.val_loss)]
    loggable = any((values > 0).any() for values in drawn)  # NaN > 0 is False: gaps do not count
    for ax, title in ((ax_train, "training MSE"), (ax_val, "validation MSE")):
        ax.set_xscale("symlog", linthresh=1)  # the first epochs, where most of the descent happens, get room
        ax.set_xlim(left=0)
        if loggable:  # a log axis needs one positive value; when every method diverged there is none
            ax.set_yscale("log")
        ax.set_xlabel("epoch (époque)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    ax_train.set_ylabel("MSE")
    ax_train.legend(fontsize=7)
    return fig


def _drawable(losses: np.ndarray) -> np.ndarray:
    # NaN is not drawn: the infinite and the huge values of a divergence become gaps
    values = np.asarray(losses, dtype=float).copy()
    values[~np.isfinite(values) | (values > LOSS_CEILING)] = np.nan
    return values
