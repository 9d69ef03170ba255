"""The typed configs of the RL wing, one docstring per field; the CLI options are generated from them.

They live apart from :mod:`drlab.rl.dqn` and :mod:`drlab.rl.qlearning` only so that ``drlab --help``
never imports torch or gymnasium; read them as the first page of those files.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Literal

from drlab.common.config import check_int, check_number, check_seed
from drlab.common.device import check_device
from drlab.common.errors import UsageError

#: bytes per float32 and per int64
_FLOAT, _INT = 4, 8
#: copies of every Q-network weight while training: the network, its target, the gradient, Adam's two
#: moments
WEIGHT_COPIES = 5


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(size: float) -> str:
    """``1.5 GiB``-style sizes for messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


@dataclass
class QLearningConfig:
    """Tabular Q-learning with ε-greedy exploration (defaults: slippery FrozenLake 4x4)."""

    env: str = "FrozenLake-v1"
    """gymnasium id of an environment with discrete states and actions (FrozenLake-v1, Taxi-v4, CliffWalking-v1)"""
    slippery: bool = True
    """FrozenLake only: the ice is slippery (a move may slide sideways); --no-slippery makes it deterministic"""
    episodes: int = 10_000
    """number of training episodes"""
    learning_rate: float = 0.1
    """α, how far each update moves Q(s, a) toward its TD target ("pas d'apprentissage")"""
    gamma: float = 0.99
    """γ, the discount factor of future rewards"""
    epsilon_start: float = 1.0
    """ε at the first episode (probability of a random action)"""
    epsilon_end: float = 0.05
    """ε once the schedule is over"""
    exploration_fraction: float = 0.5
    """fraction of the episodes over which ε falls linearly from start to end"""
    eval_episodes: int = 1_000
    """episodes of the greedy policy played after training to measure it"""
    seed: int = 0
    """seeds the environment, its action space and the exploration coin"""

    def check(self) -> None:
        """Raise :class:`UsageError` for settings no run can use (every float finite and in range)."""
        check_int("--episodes", self.episodes, 1, 100_000_000)
        check_int("--eval-episodes", self.eval_episodes, 1, 100_000_000)
        check_number("--learning-rate", self.learning_rate, 0, 1, low_open=True)
        check_number("--gamma", self.gamma, 0, 1)
        check_number("--epsilon-start", self.epsilon_start, 0, 1)
        check_number("--epsilon-end", self.epsilon_end, 0, 1)
        check_number("--exploration-fraction", self.exploration_fraction, 0, 1)
        check_seed(self.seed)


@dataclass
class DQNConfig:
    """Deep Q-learning (Mnih et al. 2015); the defaults are the rl-zoo's tuned CartPole-v1 settings."""

    env: str = "CartPole-v1"
    """gymnasium id of an environment with vector observations and discrete actions"""
    total_steps: int = 50_000
    """environment steps to train for"""
    seed: int = 0
    """seeds torch (network init), the environments, their action spaces, exploration and the replay buffer"""
    learning_rate: float = 2.3e-3
    """Adam's step size ("pas d'apprentissage")"""
    final_learning_rate_fraction: float = 0.0
    """the learning rate falls linearly to this fraction of its start by the end of training (0: to zero; 1: constant, the zoo)"""
    buffer_size: int = 100_000
    """replay buffer capacity, in transitions"""
    learning_starts: int = 1_000
    """environment steps of purely random play before the first gradient step"""
    batch_size: int = 64
    """transitions per gradient step"""
    gamma: float = 0.99
    """γ, the discount factor of the TD target r + γ max_a' Q_target(s', a')"""
    train_freq: int = 256
    """environment steps between two training phases"""
    gradient_steps: int = 128
    """gradient steps per training phase"""
    target_update_interval: int = 10
    """environment steps between target-network updates (counted as SB3 and cleanrl count them)"""
    tau: float = 1.0
    """target update rate: 1.0 copies the Q-network (hard update), below 1 moves toward it (Polyak)"""
    epsilon_start: float = 1.0
    """ε at the start (probability of a random action)"""
    epsilon_end: float = 0.04
    """ε once the schedule is over"""
    exploration_fraction: float = 0.16
    """fraction of total_steps over which ε falls linearly from start to end"""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """widths of the Q-network's hidden layers (ReLU between them)"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: Huber (smooth L1, robust to large TD errors) or mean squared error"""
    max_grad_norm: float = 10.0
    """clip the gradient's global norm to this before each update (0 turns clipping off)"""
    eval_freq: int = 2_500
    """environment steps between two greedy evaluations (0 turns them off)"""
    eval_episodes: int = 20
    """episodes per greedy evaluation; the best-evaluated model is the one kept"""
    checkpoint_freq: int = 10_000
    """environment steps between checkpoints (written at the next episode end, for an exact resume)"""
    num_threads: int = 1
    """torch CPU threads while training (one is fastest for these small matrix products)"""
    device: str = "cpu"
    """where the networks live: cpu (fastest for a small MLP stepped one observation at a time), cuda, mps, auto"""

    def check(self) -> None:
        """Raise :class:`UsageError` for settings no run can use (every float finite and in range)."""
        for name in (
            "total_steps", "buffer_size", "batch_size", "train_freq", "gradient_steps",
            "target_update_interval", "checkpoint_freq", "eval_episodes",
        ):  # fmt: skip
            check_int("--" + name.replace("_", "-"), getattr(self, name), 1)
        check_int("--learning-starts", self.learning_starts, 0)
        check_int("--eval-freq", self.eval_freq, 0)
        check_seed(self.seed)
        check_number("--learning-rate", self.learning_rate, 0, None, low_open=True)
        check_number("--final-learning-rate-fraction", self.final_learning_rate_fraction, 0, 1)
        check_number("--gamma", self.gamma, 0, 1)
        check_number("--tau", self.tau, 0, 1, low_open=True)
        check_number("--epsilon-start", self.epsilon_start, 0, 1)
        check_number("--epsilon-end", self.epsilon_end, 0, 1)
        check_number("--exploration-fraction", self.exploration_fraction, 0, 1)
        check_number("--max-grad-norm", self.max_grad_norm, 0)
        if not self.hidden_sizes or min(self.hidden_sizes) <= 0:
            raise UsageError(f"--hidden-sizes must be positive widths, got {self.hidden_sizes}")
        check_int("--num-threads", self.num_threads, 1)  # bounded by this machine's cores in check_machine
        check_device(self.device)

    def memory_bytes(self, observation_size: int, num_actions: int) -> tuple[int, int]:
        """(replay buffer, Q-network weights with their copies) in bytes for this env's sizes.

        The buffer holds, per transition, the observation and the next one (float32 each), the action
        (int64), the reward and the two end flags (float32); it is allocated whole at the start.
        """
        per_transition = 2 * observation_size * _FLOAT + _INT + 3 * _FLOAT
        widths = [observation_size, *self.hidden_sizes, num_actions]
        parameters = sum(a * b + b for a, b in itertools.pairwise(widths))
        return self.buffer_size * per_transition, WEIGHT_COPIES * parameters * _FLOAT

    def check_machine(self, observation_size: int, num_actions: int) -> None:
        """Refuse what this machine cannot hold: more threads than cores, more memory than it has.

        torch (OpenMP) crashes past a few thousand threads (``--num-threads 100000`` segfaults), and
        more threads than cores only slow a small MLP down. The buffer and networks are measured before
        they are allocated.
        """
        cores = os.cpu_count() or 1
        check_int("--num-threads", self.num_threads, 1, cores)
        buffer, weights = self.memory_bytes(observation_size, num_actions)
        total = machine_memory()
        if total is not None and buffer + weights > total:
            raise UsageError(
                f"--buffer-size {self.buffer_size} and --hidden-sizes {' '.join(map(str, self.hidden_sizes))} "
                f"would need {human_bytes(buffer + weights)} of memory (replay buffer {human_bytes(buffer)}, "
                f"Q-networks with target, gradients and Adam's moments {human_bytes(weights)}); this machine "
                f"has {human_bytes(total)}"
            )
