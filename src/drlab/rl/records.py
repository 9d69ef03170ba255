"""What an RL run records as it trains: one typed record per training episode and per evaluation.

The algorithm appends them; the checkpoint saves them; the run folder writer (:mod:`drlab.rl.runs`) turns
them into ``returns.csv``; the learning curve (:mod:`drlab.rl.plots`) draws them. Each figure is computed
once, where the record is made, so that the files never disagree with each other.

Plain dataclasses of numbers, free of torch and NumPy, so that every wing module can import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CurveKind = Literal["episode", "eval"]
"""the two kinds of row in a DQN run's ``returns.csv``: a training episode, a greedy evaluation"""


@dataclass(frozen=True)
class EpisodeRecord:
    """One training episode, played ε-greedily."""

    step: int
    """the environment step at which it ended (counted from the start of the run)"""
    episode_return: float
    """its return ("retour"), the sum of its rewards"""
    length: int
    """its number of steps"""


@dataclass(frozen=True)
class EvaluationRecord:
    """One greedy evaluation during training: the figures the best model is selected on."""

    step: int
    """the environment step after which the Q-network was evaluated"""
    mean_return: float
    """the mean return of the greedy policy over the evaluation episodes"""
    std_return: float
    """their standard deviation"""
    mean_length: float
    """their mean number of steps"""
