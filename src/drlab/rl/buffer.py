"""The replay buffer ("mémoire de rejeu"): the transitions DQN learns from, sampled at random.

Learning from consecutive steps would feed the network strongly correlated examples; storing the last
``capacity`` transitions ``(s, a, r, s', terminated)`` and sampling mini-batches uniformly from them
breaks that correlation and reuses each experience many times.

The buffer is a ring of preallocated NumPy arrays: adding a transition writes one row and moves the
cursor; once full, the oldest row is overwritten. Sampling draws row indices with the buffer's own
``numpy.random.Generator`` and gathers the rows with fancy indexing — no Python loop per transition.

**Terminated is not truncated.** An episode *terminates* when the MDP ends (the pole fell): there is
no future, the TD target is just ``r``. It is *truncated* when a time limit cuts it (CartPole stops at
500 steps): the state ``s'`` still has a future, so the target must bootstrap, ``r + γ max Q(s', ·)``.
The buffer stores both flags separately, and only ``terminated`` enters the TD target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Transitions:
    """A batch of transitions (NumPy arrays whose first axes are the batch, e.g. ``(B,)`` or ``(K, B)``)."""

    observations: NDArray[np.float32]
    """s: the observations the actions were taken in, shape (..., *obs_shape)"""
    actions: NDArray[np.int64]
    """a: the actions taken"""
    rewards: NDArray[np.float32]
    """r: the rewards received"""
    next_observations: NDArray[np.float32]
    """s': the observations reached (the true last observation when the episode ended)"""
    terminated: NDArray[np.float32]
    """1.0 where s' ends the MDP (no bootstrap), else 0.0"""
    truncated: NDArray[np.float32]
    """1.0 where a time limit cut the episode at s' (kept for inspection; the TD target ignores it)"""


class ReplayBuffer:
    """A fixed-size ring of transitions with uniform sampling.

    Args:
        capacity: how many transitions to keep; the oldest is overwritten once full.
        observation_shape: the shape of one observation (``(4,)`` for CartPole).
        seed: seeds the generator that draws the sampled indices.
    """

    def __init__(self, capacity: int, observation_shape: tuple[int, ...], seed: int = 0) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.observations = np.zeros((capacity, *observation_shape), dtype=np.float32)
        self.next_observations = np.zeros((capacity, *observation_shape), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.truncated = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # the row the next transition goes to
        self.size = 0  # how many rows hold a transition
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        observation: NDArray[Any],
        action: int,
        reward: float,
        next_observation: NDArray[Any],
        terminated: bool,
        truncated: bool,
    ) -> None:
        """Store one transition, overwriting the oldest when the buffer is full."""
        row = self.position
        self.observations[row] = observation
        self.actions[row] = action
        self.rewards[row] = reward
        self.next_observations[row] = next_observation
        self.terminated[row] = terminated
        self.truncated[row] = truncated
        self.position = (row + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample_indices(self, *shape: int) -> NDArray[np.int64]:
        """Row indices drawn uniformly (with replacement) among the stored transitions."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.rng.integers(0, self.size, size=shape)

    def gather(self, indices: NDArray[np.int64]) -> Transitions:
        """The transitions at ``indices`` (any shape), as arrays with that shape in front."""
        return Transitions(
            observations=self.observations[indices],
            actions=self.actions[indices],
            rewards=self.rewards[indices],
            next_observations=self.next_observations[indices],
            terminated=self.terminated[indices],
            truncated=self.truncated[indices],
        )

    def sample(self, batch_size: int, num_batches: int | None = None) -> Transitions:
        """One batch ``(batch_size, ...)``, or ``num_batches`` at once ``(num_batches, batch_size, ...)``.

        Drawing every index of a training phase in one call (and gathering them in one fancy-indexing
        pass per array) is what makes 128 gradient steps cheap to feed.
        """
        shape = (batch_size,) if num_batches is None else (num_batches, batch_size)
        return self.gather(self.sample_indices(*shape))

    def state_dict(self) -> dict[str, Any]:
        """The stored rows, the cursor and the sampling generator's state (for checkpoints)."""
        return {
            "observations": self.observations[: self.size].copy(),
            "next_observations": self.next_observations[: self.size].copy(),
            "actions": self.actions[: self.size].copy(),
            "rewards": self.rewards[: self.size].copy(),
            "terminated": self.terminated[: self.size].copy(),
            "truncated": self.truncated[: self.size].copy(),
            "position": self.position,
            "size": self.size,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (into a buffer of the same capacity and shape)."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"saved buffer holds {size} transitions, more than the capacity {self.capacity}")
        for name in ("observations", "next_observations", "actions", "rewards", "terminated", "truncated"):
            getattr(self, name)[:size] = np.asarray(state[name])
        self.size = size
        self.position = int(state["position"])
        self.rng.bit_generator.state = state["rng"]
