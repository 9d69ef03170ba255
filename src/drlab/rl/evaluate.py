"""Greedy evaluation: play the policy "take the action of highest Q-value", no exploration, and average.

The episodes are played side by side, one environment each: every step, one forward pass of the
Q-network on the observations of all episodes still running chooses all their actions at once.
Episode ``i`` starts from ``reset(seed=seed + i)``, so an evaluation is a fixed, reproducible set of
start states.

Seeds: during training the model is *selected* on start states ``train seed + 10_000 + i``; the
default ``drlab rl evaluate`` seed, :data:`HELD_OUT_SEED`, gives start states never used for that
choice, so its score is an honest re-evaluation of the kept model.

This module knows any ``nn.Module`` that maps observations to Q-values, not DQN itself: :mod:`drlab.rl.dqn`
imports it, never the other way round. Reading a run's model back is :func:`drlab.rl.runs.load_run_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from drlab.common.errors import UsageError
from drlab.rl.envs import make_dqn_env

HELD_OUT_SEED = 100_000
"""first reset seed of ``drlab rl evaluate`` (start states the model was not selected on)"""
SELECTION_SEED_OFFSET = 10_000
"""training evaluations start from reset(seed=train_seed + SELECTION_SEED_OFFSET + i)"""


@dataclass(frozen=True)
class Evaluation:
    """The result of a greedy evaluation."""

    returns: NDArray[np.float64]
    """the return of each episode"""
    lengths: NDArray[np.int64]
    """the number of steps of each episode"""

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std())


def evaluate_greedy(
    q_network: torch.nn.Module,
    env_id: str,
    episodes: int = 10,
    seed: int = HELD_OUT_SEED,
    device: torch.device | str = "cpu",
    max_steps: int = 100_000,
) -> Evaluation:
    """Play ``episodes`` greedy episodes of ``env_id`` in lockstep and return their returns and lengths."""
    if episodes <= 0:
        raise UsageError(f"the number of evaluation episodes must be positive, got {episodes}")
    envs = [make_dqn_env(env_id)[0] for _ in range(episodes)]
    observations = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]).astype(np.float32)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    running = list(range(episodes))  # the episodes not finished yet
    was_training = q_network.training
    q_network.eval()
    with torch.inference_mode():
        for _ in range(max_steps):
            if not running:
                break
            q_values = q_network(torch.from_numpy(observations[running]).to(device))
            actions = q_values.argmax(dim=1).tolist()  # one device→host copy for all episodes
            still_running = []
            for i, action in zip(running, actions, strict=True):
                observation, reward, terminated, truncated, _ = envs[i].step(action)
                observations[i] = observation
                returns[i] += float(reward)
                lengths[i] += 1
                if not (terminated or truncated):
                    still_running.append(i)
            running = still_running
    q_network.train(was_training)
    for env in envs:
        env.close()
    return Evaluation(returns=returns, lengths=lengths)
