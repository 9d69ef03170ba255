"""Several copies of an environment stepped together (gymnasium's vector API), and how a checkpoint saves them.

The policy-gradient algorithms act in ``num_envs`` copies of the environment at once: one forward pass
of the policy chooses the actions of all of them (core detail 1 of "The 37 Implementation Details of
PPO": vectorised environments). :func:`make_vector_env` builds a ``gymnasium.vector.SyncVectorEnv`` (all
copies in this process: fastest for cheap environments such as CartPole) or an ``AsyncVectorEnv`` (one
process per copy: worth it only when one step costs much more than a process round trip), with

- ``RecordEpisodeStatistics`` on every copy: the return and length of each finished episode;
- the *same-step* autoreset: when an episode ends, ``step`` returns the first observation of the next
  one, and the true last observation in ``info["final_obs"]`` — what bootstrapping on truncation needs.

**Saving environments mid-episode.** A rollout stops every ``n_steps`` steps, wherever the episodes are,
and some environments' states cannot be saved (LunarLander's Box2D world is a C++ object). But every
environment here is deterministic given its random generator and the actions taken, so
:class:`Replayable` records how the current episode began (its seed, or its generator's state) and the
actions taken since; a resumed run resets each copy the same way and replays those actions, which puts
it exactly where the interrupted run was (the tests check it against an uninterrupted run).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import NDArray

from drlab.common.errors import UsageError
from drlab.rl.envs import describe_space, make_env

VectorEnv = gym.vector.SyncVectorEnv | gym.vector.AsyncVectorEnv
"""the two vector environments of gymnasium (both have ``call`` and ``set_attr``)"""


def check_policy_env(observations: Any, actions: Any, env_id: str) -> tuple[int, int, bool]:
    """``(observation size, action size, continuous)`` for spaces a policy-gradient method can learn.

    Vector observations (a 1-D ``Box``) and either discrete actions (``Discrete``: one logit each) or
    continuous ones (a 1-D ``Box``: one Gaussian per dimension); anything else is a :class:`UsageError`.
    """
    from gymnasium.spaces import Box, Discrete

    if not isinstance(observations, Box) or len(observations.shape) != 1:
        raise UsageError(
            f"drlab's policy-gradient methods need vector observations (a 1-D Box); {env_id} has "
            f"{describe_space(observations)}"
        )
    if isinstance(actions, Discrete):
        return int(observations.shape[0]), int(actions.n), False
    if isinstance(actions, Box) and len(actions.shape) == 1:
        return int(observations.shape[0]), int(actions.shape[0]), True
    raise UsageError(
        f"drlab's policy-gradient methods need Discrete or 1-D Box actions; {env_id} has {describe_space(actions)}"
    )


def describe_policy_env(env_id: str) -> tuple[int, int, bool]:
    """:func:`check_policy_env` of a freshly made ``env_id`` (closed again): for checks before a run."""
    env = make_env(env_id)
    try:
        return check_policy_env(env.observation_space, env.action_space, env_id)
    finally:
        env.close()


class Replayable(gym.Wrapper[Any, Any, Any, Any]):
    """Records how the current episode began and the actions taken since, to rebuild it (see the module)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.start: dict[str, Any] = {}
        self.actions: list[NDArray[Any]] = []
        self.pending_snapshot: dict[str, Any] | None = None  # set by restore_envs, used by replay_pending

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            self.start = {"seed": seed}
        else:  # reset draws the start state from the generator: remember the generator's state before
            self.start = {"rng": self.unwrapped.np_random.bit_generator.state}
        self.actions = []
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        self.actions.append(np.array(action, copy=True))
        return self.env.step(action)

    def snapshot(self) -> dict[str, Any]:
        # the actions as one tensor: what a weights_only checkpoint may hold
        actions = torch.from_numpy(np.stack(self.actions)) if self.actions else torch.zeros(0)
        return {"start": self.start, "actions": actions}

    def replay_pending(self) -> NDArray[Any]:
        """Reset as the pending snapshot's episode began and replay its actions; return the observation."""
        snapshot, self.pending_snapshot = self.pending_snapshot, None
        if snapshot is None:
            raise RuntimeError("replay_pending without a snapshot")
        start = snapshot["start"]
        if "seed" in start:
            observation, _ = self.reset(seed=int(start["seed"]))
        else:
            self.unwrapped.np_random.bit_generator.state = start["rng"]
            observation, _ = self.reset()
        actions = np.asarray(snapshot["actions"], dtype=self.action_space.dtype)
        for action in actions:
            observation, _, terminated, truncated, _ = self.step(action)
            if terminated or truncated:
                raise UsageError("an episode of the checkpoint ended during its replay: another environment?")
        return np.asarray(observation)


def make_vector_env(env_id: str, num_envs: int, *, asynchronous: bool = False) -> VectorEnv:
    """``num_envs`` copies of ``env_id``, each with episode statistics and replayable (see the module)."""
    make_env(env_id).close()  # an unknown id, a missing dependency: one line here, not in a subprocess

    def one_copy() -> gym.Env[Any, Any]:
        return Replayable(gym.wrappers.RecordEpisodeStatistics(make_env(env_id)))

    vector_class = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
    return vector_class([one_copy] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def snapshot_envs(envs: VectorEnv) -> list[dict[str, Any]]:
    """Each copy's episode start and actions so far, for a checkpoint."""
    return list(envs.call("snapshot"))


def restore_envs(envs: VectorEnv, snapshots: list[dict[str, Any]]) -> NDArray[Any]:
    """Rebuild each copy's episode from :func:`snapshot_envs`; return their current observations."""
    if len(snapshots) != envs.num_envs:
        raise UsageError(f"the checkpoint holds {len(snapshots)} environments, this run has {envs.num_envs}")
    envs.set_attr("pending_snapshot", list(snapshots))  # one per copy
    return np.stack([np.asarray(o) for o in envs.call("replay_pending")])


def episode_statistics(info: dict[str, Any]) -> list[tuple[int, float, int]]:
    """``(copy index, return, length)`` of each episode that ended this step (from RecordEpisodeStatistics)."""
    if "final_info" not in info:
        return []
    final = info["final_info"]
    if "episode" not in final:
        return []
    ended = np.flatnonzero(final["_episode"])
    return [(int(i), float(final["episode"]["r"][i]), int(final["episode"]["l"][i])) for i in ended]
