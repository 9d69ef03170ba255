"""What an RL run records as it trains, and the final figures of ``metrics.json``, as typed records.

The algorithms append one :class:`EpisodeRecord` per training episode, one :class:`EvaluationRecord` per
greedy evaluation and (the policy-gradient ones) one :class:`UpdateRecord` per update; the checkpoint
saves them; the run folder writer (:mod:`drlab.rl.runs`) turns them into ``returns.csv`` and
``updates.csv``; the learning curve (:mod:`drlab.rl.plots`) draws them. :class:`RunMetrics` is the same
``metrics.json`` for DQN, REINFORCE, A2C and PPO, computed once by :func:`drlab.rl.evaluate.final_metrics`.

Plain dataclasses of numbers, free of torch and NumPy, so that every wing module can import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EpisodeRecord:
    """One training episode, played with the exploring policy (ε-greedy, or actions sampled from π)."""

    step: int
    """the environment step at which it ended (counted from the start of the run, over all copies)"""
    episode_return: float
    """its return ("retour"), the sum of its rewards"""
    length: int
    """its number of steps"""


@dataclass(frozen=True)
class EvaluationRecord:
    """One greedy evaluation during training: the figures the best model is selected on."""

    step: int
    """the environment step after which the policy was evaluated"""
    mean_return: float
    """the mean return of the greedy policy over the evaluation episodes"""
    std_return: float
    """their standard deviation"""
    mean_length: float
    """their mean number of steps"""


@dataclass(frozen=True)
class UpdateRecord:
    """One update of a policy-gradient method: the losses and the debug figures (PPO's core detail 12)."""

    step: int
    """the environment step after which the update was made"""
    lr: float
    """the learning rate of this update"""
    policy_loss: float
    """the policy (surrogate) loss, mean over the update's gradient steps"""
    value_loss: float
    """the value loss (0 without a critic)"""
    entropy: float
    """the policy's mean entropy: how random it still is"""
    approx_kl: float
    """PPO: the estimate (r − 1) − log r of KL(π_old ‖ π_new) after the update (0 for the others)"""
    clip_fraction: float
    """PPO: the fraction of samples whose ratio left [1 − ε, 1 + ε] (0 for the others)"""
    explained_variance: float
    """1 − Var(return − V) / Var(return): how much of the returns the critic predicts (1 is perfect)"""


@dataclass(frozen=True)
class RunMetrics:
    """The final figures of a run (``metrics.json``), the same keys for every deep RL algorithm."""

    env: str
    """the gymnasium id trained on"""
    kept_model: Literal["best", "final"]
    """which weights are kept: the best-evaluated, or the final ones when nothing was evaluated"""
    eval_mean_return: float
    """the kept model's mean return on held-out start states (an honest re-evaluation)"""
    eval_std_return: float
    """their standard deviation"""
    eval_episodes: int
    """the number of held-out episodes"""
    eval_seed: int
    """episode i of the held-out evaluation starts from reset(seed=eval_seed + i)"""
    final_eval_mean_return: float
    """the final model's mean return on the same held-out start states"""
    final_eval_std_return: float
    """their standard deviation"""
    best_selection_eval_mean_return: float | None
    """the best evaluation during training (the one the kept model was selected on), None without any"""
    first_step_reaching_threshold: int | None
    """the first evaluation step whose mean reached the environment's reward threshold, if any"""
    reward_threshold: float | None
    """the environment's "solved" return (CartPole-v1: 475), if it has one"""
    steps: int
    """environment steps of the whole run (over all copies of the environment)"""
    steps_this_session: int
    """environment steps taken by this call (fewer than ``steps`` after a resume)"""
    episodes: int
    """training episodes finished over the whole run"""
    seconds: float
    """wall-clock time of this session's loop: train_seconds + eval_seconds + checkpoint_seconds"""
    train_seconds: float
    """the part spent acting and learning"""
    eval_seconds: float
    """the part spent in greedy evaluations"""
    checkpoint_seconds: float
    """the part spent writing checkpoints"""
    steps_per_second: float
    """steps_this_session / train_seconds: the training speed, evaluations and checkpoints excluded"""
    device: str
    """where the networks lived"""
