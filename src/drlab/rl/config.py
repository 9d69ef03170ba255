"""The typed configs of the RL wing, one docstring per field; the CLI options are generated from them.

They live apart from :mod:`drlab.rl.dqn`, :mod:`drlab.rl.qlearning`, :mod:`drlab.rl.reinforce`, :mod:`drlab.rl.a2c`
and :mod:`drlab.rl.ppo` only so that ``drlab --help``
never imports torch or gymnasium; read them as the first page of those files.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from drlab.common.config import check_int, check_number, check_seed
from drlab.common.device import check_device
from drlab.common.errors import UsageError

#: where networks live unless --device says otherwise: the same default as TP1's ``drlab train``
DEFAULT_DEVICE = "auto"

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
    lr: float = 0.1
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
        check_number("--lr", self.lr, 0, 1, low_open=True)
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
    lr: float = 2.3e-3
    """Adam's step size ("pas d'apprentissage")"""
    final_lr_fraction: float = 0.0
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
    device: str = DEFAULT_DEVICE
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; the CPU is fastest for these small MLPs"""

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
        check_number("--lr", self.lr, 0, None, low_open=True)
        check_number("--final-lr-fraction", self.final_lr_fraction, 0, 1)
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


# --- The policy-gradient methods: REINFORCE, A2C, PPO ------------------------------------------------------
C = TypeVar("C", bound="PolicyGradientConfig")


@dataclass
class PolicyGradientConfig:
    """What REINFORCE, A2C and PPO share: the environment, the networks, the optimisation, the run's rhythm.

    Each algorithm's defaults are its tuned CartPole-v1 settings; :meth:`for_env` gives another
    environment's tuned settings (``SETTINGS``), with your own values on top.
    """

    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {}
    """per environment: the settings that differ from the defaults (rl-baselines3-zoo's where it has them)"""

    env: str = "CartPole-v1"
    """gymnasium id: vector observations, Discrete or 1-D Box actions (CartPole-v1, Acrobot-v1, LunarLander-v3, Pendulum-v1)"""
    seed: int = 0
    """seeds torch (network init, sampled actions), the environments and the mini-batch order"""
    num_envs: int = 8
    """copies of the environment stepped together (one forward pass chooses all their actions)"""
    gamma: float = 0.99
    """γ, the discount factor of future rewards"""
    lr: float = 1e-3
    """the optimizer's step size ("pas d'apprentissage")"""
    anneal_lr: bool = False
    """the learning rate falls linearly from lr to 0 over the run (--no-anneal-lr keeps it constant)"""
    ent_coef: float = 0.0
    """weight of the entropy bonus in the loss (a larger one keeps the policy exploring longer)"""
    max_grad_norm: float = 0.5
    """clip the gradient's global norm to this before each update (0 turns clipping off)"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """widths of the hidden layers of the policy and of the value network (tanh between them)"""
    normalize_observations: bool = False
    """divide observations by their running standard deviation (after removing the running mean)"""
    normalize_rewards: bool = False
    """divide rewards by the running standard deviation of the discounted return"""
    log_std_init: float = 0.0
    """continuous actions: the Gaussian policy's initial log σ (the same in every state, then learned)"""
    eval_freq: int = 10_000
    """environment steps between two greedy evaluations (0 turns them off); the best-evaluated model is kept"""
    eval_episodes: int = 10
    """episodes per greedy evaluation"""
    checkpoint_freq: int = 20_000
    """environment steps between checkpoints (taken at the end of an update, for an exact resume)"""
    vectorization: Literal["sync", "async"] = "sync"
    """sync: the copies in this process (fastest for cheap environments); async: one process per copy"""
    num_threads: int = 1
    """torch CPU threads while training (one is fastest for these small matrix products)"""
    device: str = DEFAULT_DEVICE
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; the CPU is fastest for these small MLPs"""

    @classmethod
    def for_env(cls: type[C], env: str = "CartPole-v1", **overrides: Any) -> C:
        """The settings tuned for ``env`` (the class defaults where it has none), with ``overrides`` on top."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise UsageError(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")
        return cls(**{**cls.SETTINGS.get(env, {}), "env": env, **overrides})

    def check(self) -> None:
        """Raise :class:`UsageError` for settings no run can use (every float finite and in range)."""
        check_seed(self.seed)
        check_int("--num-envs", self.num_envs, 1, 4096)
        check_int("--eval-freq", self.eval_freq, 0)
        check_int("--eval-episodes", self.eval_episodes, 1, 100_000)
        check_int("--checkpoint-freq", self.checkpoint_freq, 1)
        check_number("--gamma", self.gamma, 0, 1)
        check_number("--lr", self.lr, 0, None, low_open=True)
        check_number("--ent-coef", self.ent_coef, 0)
        check_number("--max-grad-norm", self.max_grad_norm, 0)
        check_number("--log-std-init", self.log_std_init, -20, 2)
        if not self.hidden_sizes or min(self.hidden_sizes) <= 0 or max(self.hidden_sizes) > 65_536:
            raise UsageError(f"--hidden-sizes must be widths in [1, 65536], got {self.hidden_sizes}")
        check_int("--num-threads", self.num_threads, 1, os.cpu_count() or 1)


@dataclass
class ReinforceConfig(PolicyGradientConfig):
    """REINFORCE (Williams, 1992): Monte-Carlo policy gradient on whole episodes, with or without a baseline.

    Counted in *episodes*, as the lesson counts them: each update uses ``num_envs`` complete episodes.
    """

    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {
        "Acrobot-v1": {"episodes": 1_000, "normalize_observations": True},
        "LunarLander-v3": {"episodes": 5_000, "num_envs": 8, "gamma": 0.99, "lr": 1e-3, "ent_coef": 0.01},
        "Pendulum-v1": {"episodes": 5_000, "num_envs": 8, "gamma": 0.9, "normalize_observations": True},
    }

    episodes: int = 1_000
    """training episodes (all copies together); --resume continues up to this number"""
    baseline: bool = True
    """subtract a learned value V(s) from the return (less variance, same expected gradient); --no-baseline for the plain version"""
    normalize_advantage: bool = True
    """standardise the returns (or advantages) of each batch: mean 0, standard deviation 1"""
    vf_coef: float = 0.5
    """weight of the baseline's squared error in the loss"""
    num_envs: int = 1
    """episodes per update, played side by side (one copy of the environment each)"""
    eval_freq: int = 25
    """training episodes between two greedy evaluations (0 turns them off); the best-evaluated model is kept"""
    eval_episodes: int = 20
    checkpoint_freq: int = 100
    """training episodes between checkpoints"""

    def check(self) -> None:
        super().check()
        check_int("--episodes", self.episodes, 1, 100_000_000)
        check_number("--vf-coef", self.vf_coef, 0)


@dataclass
class A2CConfig(PolicyGradientConfig):
    """Advantage actor-critic (A2C, Mnih et al. 2016, synchronous): n-step rollouts, GAE(λ), one update each.

    The defaults are Stable-Baselines3's A2C (RMSprop, 5 steps, λ = 1: the n-step return) with the zoo's
    CartPole-v1 settings.
    """

    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {
        "LunarLander-v3": {
            "total_steps": 1_000_000, "gamma": 0.995, "lr": 8.3e-4, "anneal_lr": True, "ent_coef": 1e-5,
        },
        "Acrobot-v1": {"num_envs": 16, "normalize_observations": True, "normalize_rewards": True},
        "Pendulum-v1": {
            "total_steps": 1_000_000, "n_steps": 8, "gae_lambda": 0.9, "vf_coef": 0.4, "gamma": 0.9,
            "anneal_lr": True, "log_std_init": -2.0, "normalize_observations": True, "normalize_rewards": True,
        },
    }  # fmt: skip

    total_steps: int = 500_000
    """environment steps to train for (all copies together); --resume continues up to this number"""
    n_steps: int = 5
    """steps per copy in each rollout: one update every num_envs × n_steps environment steps"""
    gae_lambda: float = 1.0
    """λ of GAE(λ): 1 gives the n-step return's advantage, 0 the one-step TD error"""
    vf_coef: float = 0.5
    """weight of the value loss in the total loss"""
    lr: float = 7e-4
    """the optimizer's step size ("pas d'apprentissage")"""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """RMSprop (α = 0.99, ε = 1e-5), as the A2C paper and SB3; or Adam (ε = 1e-5)"""
    normalize_advantage: bool = False
    """standardise the advantages of each rollout (mean 0, standard deviation 1)"""
    eval_freq: int = 25_000

    def check(self) -> None:
        super().check()
        check_int("--total-steps", self.total_steps, 1)
        check_int("--n-steps", self.n_steps, 1, 1_000_000)
        check_number("--gae-lambda", self.gae_lambda, 0, 1)
        check_number("--vf-coef", self.vf_coef, 0)


@dataclass
class PPOConfig(PolicyGradientConfig):
    """Proximal policy optimisation (PPO, Schulman et al. 2017), clipped surrogate objective.

    The defaults are rl-baselines3-zoo's tuned CartPole-v1 settings; ``SETTINGS`` holds the zoo's
    LunarLander and Acrobot settings (tuned without value clipping, so without it here: a critic whose
    change is clipped to ±0.2 per update learns returns of hundreds slowly), and Pendulum's (the zoo's use
    gSDE, which drlab does not have).
    """

    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {
        "LunarLander-v3": {
            "total_steps": 1_000_000, "num_envs": 16, "n_steps": 1024, "batch_size": 64, "n_epochs": 4,
            "gamma": 0.999, "gae_lambda": 0.98, "ent_coef": 0.01, "lr": 3e-4, "anneal_lr": False,
            "clip_range": 0.2, "anneal_clip_range": False, "clip_value_loss": False, "eval_freq": 50_000,
            "checkpoint_freq": 100_000,
        },
        "Acrobot-v1": {
            "total_steps": 500_000, "num_envs": 16, "n_steps": 256, "batch_size": 64, "n_epochs": 4,
            "gamma": 0.99, "gae_lambda": 0.94, "lr": 3e-4, "anneal_lr": False, "anneal_clip_range": False,
            "clip_value_loss": False, "normalize_observations": True, "normalize_rewards": True,
            "eval_freq": 25_000, "checkpoint_freq": 50_000,
        },
        "Pendulum-v1": {
            "total_steps": 300_000, "num_envs": 4, "n_steps": 1024, "batch_size": 64, "n_epochs": 10,
            "gamma": 0.9, "gae_lambda": 0.95, "lr": 1e-3, "anneal_lr": True, "anneal_clip_range": False,
            "normalize_observations": True, "normalize_rewards": True, "eval_freq": 20_000,
        },
    }  # fmt: skip

    total_steps: int = 100_000
    """environment steps to train for (all copies together); --resume continues up to this number"""
    n_steps: int = 32
    """steps per copy in each rollout: a rollout is num_envs × n_steps transitions"""
    batch_size: int = 256
    """transitions per mini-batch (a divisor of num_envs × n_steps)"""
    n_epochs: int = 20
    """passes over each rollout, in shuffled mini-batches"""
    gamma: float = 0.98
    """γ, the discount factor of future rewards"""
    gae_lambda: float = 0.8
    """λ of GAE(λ): the trade-off between bias (0: one-step TD) and variance (1: Monte-Carlo)"""
    clip_range: float = 0.2
    """ε of the clipped objective: the probability ratio π_new/π_old is clipped to [1 − ε, 1 + ε]"""
    anneal_clip_range: bool = True
    """ε falls linearly to 0 over the run, as the learning rate does (--no-anneal-clip-range keeps it)"""
    clip_value_loss: bool = True
    """clip the value's change to ±ε around its rollout estimate, as PPO's reference code does"""
    vf_coef: float = 0.5
    """weight of the value loss in the total loss"""
    normalize_advantage: bool = True
    """standardise the advantages of each mini-batch (mean 0, standard deviation 1)"""
    anneal_lr: bool = True
    """the learning rate falls linearly from lr to 0 over the run (--no-anneal-lr keeps it constant)"""

    def check(self) -> None:
        super().check()
        check_int("--total-steps", self.total_steps, 1)
        check_int("--n-steps", self.n_steps, 1, 1_000_000)
        check_int("--n-epochs", self.n_epochs, 1, 10_000)
        check_int("--batch-size", self.batch_size, 1)
        check_number("--gae-lambda", self.gae_lambda, 0, 1)
        check_number("--clip-range", self.clip_range, 0, None, low_open=True)
        check_number("--vf-coef", self.vf_coef, 0)
        rollout = self.num_envs * self.n_steps
        if rollout % self.batch_size:
            raise UsageError(
                f"--batch-size {self.batch_size} must divide a rollout's num_envs × n_steps = "
                f"{self.num_envs} × {self.n_steps} = {rollout} transitions"
            )
