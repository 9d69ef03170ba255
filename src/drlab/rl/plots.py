"""Pictures of RL runs: the learning curve of DQN, REINFORCE, A2C and PPO, the Q-table and greedy policy of Q-learning.

Each function draws a figure and returns it; the run folder writer (:mod:`drlab.rl.runs`) saves it, a
notebook displays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from drlab.common.plots import new_figure
from drlab.rl.records import EpisodeRecord, EvaluationRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ARROWS = {0: "←", 1: "↓", 2: "→", 3: "↑"}
"""FrozenLake's actions: 0 left, 1 down, 2 right, 3 up"""


def plot_learning_curve(
    episodes: Sequence[EpisodeRecord],
    evaluations: Sequence[EvaluationRecord],
    title: str = "DQN",
    threshold: float | None = None,
    exploration: str = "ε-greedy",
) -> Figure:
    """Episode returns (light), their moving average, and greedy evaluation means ± std, over env steps.

    ``exploration`` names how the training episodes chose their actions (ε-greedy, sampled from π).
    """
    fig, ax = new_figure(figsize=(7, 4.2))
    if episodes:
        steps, returns = np.array([(e.step, e.episode_return) for e in episodes], dtype=np.float64).T
        ax.plot(
            steps,
            returns,
            color="tab:blue",
            alpha=0.25,
            lw=0.8,
            label=f"training episode return ({exploration})",
        )
        window = min(20, len(returns))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :], smooth, color="tab:blue", lw=1.5, label=f"moving average ({window} episodes)"
        )
    if evaluations:
        steps_e, means, stds = np.array([(e.step, e.mean_return, e.std_return) for e in evaluations]).T
        ax.fill_between(steps_e, means - stds, means + stds, color="tab:orange", alpha=0.2)
        ax.plot(steps_e, means, "o-", color="tab:orange", lw=1.5, ms=3, label="greedy evaluation mean ± std")
        best = int(np.argmax(means[::-1]))  # the latest of the best, as training keeps it
        best = len(means) - 1 - best
        ax.plot(steps_e[best], means[best], "*", color="tab:red", ms=12, label="kept model (best evaluation)")
    if threshold is not None:
        ax.axhline(threshold, color="gray", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (sum of rewards)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return fig


def policy_grid(q_table: NDArray[np.floating[Any]], desc: Sequence[str]) -> list[str]:
    """The greedy policy on a FrozenLake map as rows of arrows (holes ``H`` and goal ``G`` kept as letters)."""
    width = len(desc[0])
    lines = []
    for row, letters in enumerate(desc):
        cells = []
        for col, letter in enumerate(letters):
            state = row * width + col
            cells.append(letter if letter in "HG" else ARROWS[int(np.argmax(q_table[state]))])
        lines.append(" ".join(cells))
    return lines


def plot_q_table(
    q_table: NDArray[np.floating[Any]],
    title: str = "Q-table",
    desc: Sequence[str] | None = None,
    action_names: Sequence[str] | None = None,
) -> Figure:
    """The Q-table as a heat map (states × actions); with a FrozenLake map, also the greedy policy as arrows."""
    columns = 2 if desc is not None else 1
    fig, axes = new_figure(1, columns, figsize=(5.5 * columns, 4.5), squeeze=False)
    ax = axes[0][0]
    image = ax.imshow(q_table, aspect="auto", cmap="viridis")
    ax.set_xlabel("action")
    ax.set_ylabel("state")
    if action_names is not None:
        ax.set_xticks(range(len(action_names)), list(action_names))
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="Q(s, a)")
    if desc is not None:
        ax = axes[0][1]
        height, width = len(desc), len(desc[0])
        values = q_table.max(axis=1).reshape(height, width)
        ax.imshow(values, cmap="Blues")
        for row, line in enumerate(policy_grid(q_table, desc)):
            for col, symbol in enumerate(line.split(" ")):
                ax.text(
                    col,
                    row,
                    symbol,
                    ha="center",
                    va="center",
                    fontsize=16,
                    color="darkred" if symbol in "HG" else "black",
                )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("greedy policy (shade: max_a Q)")
    return fig
