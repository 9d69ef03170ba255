"""Making gymnasium environments, with one-line errors for the ones drlab cannot learn.

Q-learning needs a discrete set of states and of actions (a table ``Q[s, a]``); DQN needs vector
observations and discrete actions (one output per action). Anything else is a :class:`UsageError`,
caught before any training starts.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from drlab.common.errors import UsageError

if TYPE_CHECKING:
    import gymnasium as gym


#: the step limit of an environment registered without one (CliffWalking-v1, Blackjack-v1): without it a
#: greedy policy that walks in circles never ends its episode, in training or in evaluation
DEFAULT_MAX_EPISODE_STEPS = 200


def make_env(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gym.make(env_id)``, without the passive env checker (a per-step cost that training can skip),
    and with a step limit (gymnasium's ``TimeLimit``): the registered one, or
    :data:`DEFAULT_MAX_EPISODE_STEPS` where the environment has none.

    An unknown id or an environment whose extra dependencies are missing is a one-line :class:`UsageError`.
    """
    import gymnasium as gym

    if ":" in env_id:  # gymnasium reads "module:Name-v0" as "import module first": code from anywhere
        raise UsageError(
            f"--env {env_id!r}: drlab takes the id of a registered environment (Name-vN), not the "
            "'module:Name-vN' form, which would import a module"
        )
    try:
        if gym.spec(env_id).max_episode_steps is None:
            kwargs.setdefault("max_episode_steps", DEFAULT_MAX_EPISODE_STEPS)
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    except gym.error.Error as exc:
        hint = ""
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
        if close and "did you mean" not in str(exc).lower():
            hint = f" (did you mean {', '.join(close)}?)"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot make environment {env_id!r}: {message}{hint}") from exc
    except TypeError as exc:  # an option the environment does not take (e.g. is_slippery on CartPole)
        raise UsageError(f"cannot make environment {env_id!r}: {exc}") from exc


def describe_space(space: Any) -> str:
    """A short name for a space: ``Discrete(4)``, ``Box(4,)``."""
    shape = getattr(space, "shape", None)
    n = getattr(space, "n", None)
    if n is not None:
        return f"{type(space).__name__}({n})"
    return f"{type(space).__name__}{tuple(shape) if shape is not None else ''}"


def check_discrete_actions(env: gym.Env[Any, Any], env_id: str, command: str) -> int:
    """The number of actions, or a :class:`UsageError` if the action space is not ``Discrete``."""
    from gymnasium.spaces import Discrete

    if not isinstance(env.action_space, Discrete):
        raise UsageError(
            f"{command} needs a discrete action space (one Q-value per action); "
            f"{env_id} has {describe_space(env.action_space)}"
        )
    return int(env.action_space.n)


def make_tabular_env(env_id: str, *, slippery: bool = True) -> tuple[gym.Env[Any, Any], int, int]:
    """An environment for Q-learning, with its numbers of states and actions.

    ``slippery`` only concerns FrozenLake (``is_slippery``): False makes every move deterministic.
    """
    from gymnasium.spaces import Discrete

    kwargs: dict[str, Any] = {"is_slippery": slippery} if env_id.startswith("FrozenLake") else {}
    env = make_env(env_id, **kwargs)
    num_actions = check_discrete_actions(env, env_id, "Q-learning")
    if not isinstance(env.observation_space, Discrete):
        env.close()
        raise UsageError(
            f"tabular Q-learning needs a discrete state space (a table Q[s, a]); {env_id} has "
            f"{describe_space(env.observation_space)} (try `drlab rl dqn --env {env_id}`)"
        )
    return env, int(env.observation_space.n), num_actions


def make_dqn_env(env_id: str) -> tuple[gym.Env[Any, Any], int, int]:
    """One environment DQN can learn (vector observations, discrete actions), its observation size and
    action count. (One environment, not a gymnasium ``VectorEnv`` of several: "vector" is the observation.)"""
    from gymnasium.spaces import Box

    env = make_env(env_id)
    num_actions = check_discrete_actions(env, env_id, "DQN")
    space = env.observation_space
    if not isinstance(space, Box) or len(space.shape) != 1:
        env.close()
        raise UsageError(
            f"drlab's DQN needs vector observations (a 1-D Box); {env_id} has {describe_space(space)}"
            + (" (try `drlab rl qlearning`)" if not isinstance(space, Box) else "")
        )
    return env, int(space.shape[0]), num_actions
