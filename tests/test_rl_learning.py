"""Learning tests (slow): the algorithms must actually learn, measured against a threshold."""

from __future__ import annotations

import pytest
import torch

from drlab.rl.config import A2CConfig, DQNConfig, PPOConfig, QLearningConfig, ReinforceConfig
from drlab.rl.dqn import train_dqn
from drlab.rl.qlearning import train_q_learning


@pytest.mark.slow
def test_q_learning_solves_deterministic_frozenlake() -> None:
    result = train_q_learning(QLearningConfig(slippery=False, episodes=300, eval_episodes=50, seed=0))
    assert result.eval_success_rate == 1.0  # the greedy policy reaches the goal every time
    # the value of the start state is the discounted reward of the 6-step shortest path: γ^5
    assert result.q_table[0].max() == pytest.approx(0.99**5, abs=0.05)


@pytest.mark.slow
def test_q_learning_beats_random_on_slippery_frozenlake() -> None:
    result = train_q_learning(QLearningConfig(episodes=3_000, eval_episodes=300, seed=0))
    assert result.eval_success_rate > 0.5  # a random policy succeeds about 1.5% of the time


@pytest.mark.slow
def test_dqn_learns_cartpole_on_a_small_budget() -> None:
    threads = torch.get_num_threads()
    config = DQNConfig(total_steps=5_000, eval_freq=1_000, eval_episodes=5, seed=0)
    result = train_dqn(config)
    assert torch.get_num_threads() == threads  # restored after training
    best = max(e.mean_return for e in result.evaluations)
    assert best >= 150, result.evaluations  # a random policy scores about 22
    assert result.metrics.eval_mean_return >= 100, result.metrics  # the kept model, on held-out starts


@pytest.mark.slow
def test_ppo_learns_cartpole_on_a_small_budget() -> None:
    from drlab.rl import ppo

    # constant learning rate and clip range: the first 20k steps of a longer run (annealed over 20k steps,
    # the zoo's settings learn more slowly: 210 at best, measured)
    config = PPOConfig(
        total_steps=20_000,
        anneal_lr=False,
        anneal_clip_range=False,
        eval_freq=5_000,
        eval_episodes=5,
        device="cpu",
    )
    result = ppo.train(config)
    assert max(e.mean_return for e in result.evaluations) >= 475, result.evaluations  # random: about 22
    assert result.metrics.eval_mean_return >= 300, result.metrics  # the kept model, on held-out starts


@pytest.mark.slow
def test_a2c_learns_cartpole_on_a_small_budget() -> None:
    from drlab.rl import a2c

    result = a2c.train(A2CConfig(total_steps=40_000, eval_freq=5_000, eval_episodes=5, device="cpu"))
    assert max(e.mean_return for e in result.evaluations) >= 400, result.evaluations
    assert result.metrics.eval_mean_return >= 300, result.metrics


@pytest.mark.slow
def test_reinforce_with_a_baseline_learns_cartpole_on_a_small_budget() -> None:
    from drlab.rl import reinforce

    result = reinforce.train(ReinforceConfig(episodes=300, eval_freq=25, eval_episodes=5, device="cpu"))
    assert max(e.mean_return for e in result.evaluations) >= 300, result.evaluations
    assert result.metrics.eval_mean_return >= 200, result.metrics
