"""Tabular Q-learning (Watkins, 1989): the recap of reinforcement learning before deep Q-learning.

The agent keeps a table ``Q[s, a]``: its estimate of the return ("retour", the discounted sum of
rewards) when it takes action ``a`` in state ``s`` and acts well afterwards. The Bellman optimality
equation says the right table satisfies::

    Q*(s, a) = E[ r + γ max_a' Q*(s', a') ]

Q-learning turns it into an update, after every step ``(s, a, r, s')``::

    TD target ("cible TD")     y = r + γ max_a' Q[s', a']      (y = r when s' ends the episode)
    TD error                   δ = y − Q[s, a]
    update                     Q[s, a] ← Q[s, a] + α δ

It learns the greedy policy's values while *behaving* ε-greedily (off-policy): with probability ε a
random action (exploration), otherwise the best action so far (exploitation). DQN
(:mod:`drlab.rl.dqn`) is this same update with a neural network in place of the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drlab.rl.config import QLearningConfig
from drlab.rl.envs import make_tabular_env
from drlab.rl.schedules import linear_schedule


@dataclass
class QLearningResult:
    """What :func:`train_q_learning` returns."""

    q_table: NDArray[np.float64]
    """the learned Q[s, a], shape (states, actions)"""
    episode_returns: NDArray[np.float64]
    """the return of each training episode (ε-greedy behaviour)"""
    eval_mean_return: float
    """mean return of the greedy policy over the evaluation episodes"""
    eval_success_rate: float
    """fraction of evaluation episodes with a positive return (FrozenLake: the goal was reached)"""
    desc: list[str] | None
    """the map, for grid worlds such as FrozenLake (rows of letters S, F, H, G), else None"""


def greedy_action(q_values: NDArray[np.float64], rng: np.random.Generator) -> int:
    """``argmax_a Q[s, a]``, breaking ties at random (at first every Q-value is 0, and always picking
    action 0 would make the agent walk into the same wall forever)."""
    best = np.flatnonzero(q_values == q_values.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def q_learning_update(
    q_table: NDArray[np.float64],
    state: int,
    action: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """One Q-learning step on ``(s, a, r, s')``, in place; returns the TD error δ."""
    # the Bellman update, written out
    future = 0.0 if terminated else gamma * q_table[next_state].max()  # no future after the end
    td_target = reward + future
    td_error = td_target - q_table[state, action]
    q_table[state, action] += alpha * td_error
    return float(td_error)


def train_q_learning(config: QLearningConfig) -> QLearningResult:
    """Learn a Q-table on ``config.env`` with ε-greedy Q-learning, then evaluate its greedy policy."""
    env, num_states, num_actions = make_tabular_env(config.env, slippery=config.slippery)
    rng = np.random.default_rng(config.seed)  # the ε coin and the tie-breaks
    env.action_space.seed(config.seed)  # the random actions
    q_table = np.zeros((num_states, num_actions))
    episode_returns = np.zeros(config.episodes)
    exploration_episodes = int(config.exploration_fraction * config.episodes)
    alpha, gamma = config.lr, config.gamma

    for episode in range(config.episodes):
        epsilon = linear_schedule(config.epsilon_start, config.epsilon_end, exploration_episodes, episode)
        state, _ = env.reset(seed=config.seed if episode == 0 else None)
        done, episode_return = False, 0.0
        while not done:
            # act ε-greedily
            if rng.random() < epsilon:
                action = int(env.action_space.sample())
            else:
                action = greedy_action(q_table[state], rng)
            next_state, reward, terminated, truncated, _ = env.step(action)

            q_learning_update(q_table, state, action, float(reward), next_state, terminated, alpha, gamma)

            state = next_state
            episode_return += float(reward)
            done = terminated or truncated  # a time limit ends the episode but not the MDP: see above
        episode_returns[episode] = episode_return

    desc = _grid_map(env.unwrapped, num_states)
    env.close()
    mean_return, success_rate = evaluate_q_table(q_table, config, config.eval_episodes)
    return QLearningResult(q_table, episode_returns, mean_return, success_rate, desc)


def _grid_map(env: Any, num_states: int) -> list[str] | None:
    """FrozenLake's map as rows of letters, when each cell is one state (not Taxi's, whose map is not)."""
    desc = getattr(env, "desc", None)
    if desc is None or desc.ndim != 2 or desc.shape[0] * desc.shape[1] != num_states:
        return None
    return [bytes(row).decode() for row in desc]


def evaluate_q_table(
    q_table: NDArray[np.float64], config: QLearningConfig, episodes: int, seed: int | None = None
) -> tuple[float, float]:
    """Play the greedy policy ``argmax_a Q[s, a]`` (no exploration); mean return and success rate."""
    env, _, _ = make_tabular_env(config.env, slippery=config.slippery)
    start = config.seed + 1_000_000 if seed is None else seed  # start states unlike training's
    returns = np.zeros(episodes)
    for episode in range(episodes):
        state, _ = env.reset(seed=start + episode)
        done = False
        while not done:
            state, reward, terminated, truncated, _ = env.step(int(np.argmax(q_table[state])))
            returns[episode] += float(reward)
            done = terminated or truncated
    env.close()
    return float(returns.mean()), float((returns > 0).mean())


def describe(result: QLearningResult, config: QLearningConfig) -> list[str]:
    """Lines that show the learned table and, on a grid map, the greedy policy as arrows."""
    lines = [
        f"Q-learning on {config.env}: {config.episodes:,} episodes, α={config.lr}, γ={config.gamma}",
        f"greedy policy over {config.eval_episodes:,} episodes: mean return {result.eval_mean_return:.3f}, "
        f"success rate {result.eval_success_rate:.1%}",
    ]
    if result.desc is not None:
        from drlab.rl.plots import policy_grid

        lines.append("greedy policy (H hole, G goal):")
        lines += ["  " + line for line in policy_grid(result.q_table, result.desc)]
    rows_shown = result.q_table if len(result.q_table) <= 16 else result.q_table[:8]
    lines.append(
        f"Q-table ({result.q_table.shape[0]} states × {result.q_table.shape[1]} actions)"
        + ("" if len(result.q_table) <= 16 else ", first 8 states")
        + ":"
    )
    lines += [f"  s={s:>3}  " + "  ".join(f"{v:7.3f}" for v in row) for s, row in enumerate(rows_shown)]
    return lines
