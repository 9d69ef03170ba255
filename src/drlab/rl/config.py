"""The typed configs of the RL wing, one docstring per field; the CLI options are generated from them.

They live apart from :mod:`drlab.rl.dqn` and :mod:`drlab.rl.qlearning` only so that ``drlab --help``
never imports torch or gymnasium; read them as the first page of those files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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
