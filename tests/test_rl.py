"""The RL wing's pieces against hand computations: replay buffer, ε schedule, Bellman and TD targets,
target updates, the batched training phase against the textbook loop, determinism and exact resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from drlab.common.errors import UsageError
from drlab.common.io import load_checkpoint
from drlab.rl.buffer import ReplayBuffer
from drlab.rl.config import DQNConfig
from drlab.rl.dqn import QNetwork, td_loss, td_target, train_dqn, train_phase, update_target
from drlab.rl.envs import make_tabular_env, make_vector_env
from drlab.rl.evaluate import evaluate_greedy
from drlab.rl.qlearning import greedy_action, q_learning_update
from drlab.rl.schedules import linear_schedule

# A DQN small enough to train in about a second: tests exercise the real loop, not a mock of it.
TINY = DQNConfig(
    total_steps=1_500,
    learning_starts=200,
    train_freq=64,
    gradient_steps=8,
    batch_size=32,
    hidden_sizes=(32, 32),
    eval_freq=500,
    eval_episodes=3,
    checkpoint_freq=400,
    buffer_size=1_000,
)


# --- replay buffer ---------------------------------------------------------------------------------------
def _fill(buffer: ReplayBuffer, count: int) -> None:
    for i in range(count):  # transition i: observation (i, i), action i % 2, reward i
        buffer.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), i % 3 == 0, i % 5 == 0)


def test_buffer_wraps_around_and_overwrites_the_oldest() -> None:
    buffer = ReplayBuffer(capacity=5, observation_shape=(2,))
    _fill(buffer, 7)  # transitions 0..6: 0 and 1 are overwritten by 5 and 6
    assert len(buffer) == 5 and buffer.position == 2
    assert buffer.rewards.tolist() == [5, 6, 2, 3, 4]
    assert buffer.observations[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert buffer.next_observations[:, 0].tolist() == [6, 7, 3, 4, 5]
    assert buffer.actions.tolist() == [1, 0, 0, 1, 0]


def test_buffer_keeps_terminated_and_truncated_apart() -> None:
    buffer = ReplayBuffer(capacity=10, observation_shape=(2,))
    buffer.add(np.zeros(2), 0, 1.0, np.ones(2), terminated=False, truncated=True)  # time limit
    buffer.add(np.zeros(2), 1, 1.0, np.ones(2), terminated=True, truncated=False)  # the pole fell
    assert buffer.terminated[:2].tolist() == [0.0, 1.0]
    assert buffer.truncated[:2].tolist() == [1.0, 0.0]


def test_buffer_samples_only_stored_rows_in_the_asked_shape() -> None:
    buffer = ReplayBuffer(capacity=100, observation_shape=(2,), seed=3)
    _fill(buffer, 10)
    batch = buffer.sample(4, num_batches=6)
    assert batch.observations.shape == (6, 4, 2) and batch.actions.shape == (6, 4)
    assert batch.observations.dtype == np.float32 and batch.actions.dtype == np.int64
    assert batch.rewards.max() <= 9  # never an empty row
    # each sampled row is one coherent transition
    np.testing.assert_array_equal(batch.observations[..., 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_observations[..., 0], batch.rewards + 1)
    np.testing.assert_array_equal(batch.terminated, (batch.rewards % 3 == 0).astype(np.float32))
    # uniform over the stored rows: all ten appear in a large sample
    assert set(buffer.sample(1000).rewards.astype(int).tolist()) == set(range(10))
    with pytest.raises(ValueError):
        ReplayBuffer(capacity=3, observation_shape=(1,)).sample(2)


def test_buffer_state_dict_round_trip_continues_the_same_samples() -> None:
    buffer = ReplayBuffer(capacity=8, observation_shape=(2,), seed=1)
    _fill(buffer, 11)
    copy = ReplayBuffer(capacity=8, observation_shape=(2,), seed=99)
    copy.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(copy.sample(5, 3).rewards, buffer.sample(5, 3).rewards)
    assert copy.position == buffer.position and len(copy) == len(buffer)


# --- ε schedule ------------------------------------------------------------------------------------------
def test_linear_schedule() -> None:
    assert linear_schedule(1.0, 0.04, 8_000, 0) == 1.0
    assert linear_schedule(1.0, 0.04, 8_000, 4_000) == pytest.approx(0.52)
    assert linear_schedule(1.0, 0.04, 8_000, 8_000) == 0.04
    assert linear_schedule(1.0, 0.04, 8_000, 50_000) == 0.04
    assert linear_schedule(1.0, 0.1, 0, 0) == 0.1  # no exploration phase at all
    values = [linear_schedule(1.0, 0.04, 100, t) for t in range(120)]
    assert (np.diff(values) <= 0).all()  # never rises


# --- the Bellman update and the TD target, by hand ------------------------------------------------------
def test_q_learning_update_by_hand() -> None:
    q = np.array([[0.0, 0.0], [2.0, 5.0]])
    # s=0, a=1, r=1, s'=1 not terminal: y = 1 + 0.9 * 5 = 5.5, δ = 5.5, Q ← 0 + 0.5 * 5.5
    assert q_learning_update(q, 0, 1, 1.0, 1, False, alpha=0.5, gamma=0.9) == pytest.approx(5.5)
    assert q[0, 1] == pytest.approx(2.75)
    # the same step into a terminal state: no future, y = 1, δ = 1 − 2.75
    assert q_learning_update(q, 0, 1, 1.0, 1, True, alpha=0.5, gamma=0.9) == pytest.approx(-1.75)
    assert q[0, 1] == pytest.approx(2.75 - 0.875)


def test_greedy_action_breaks_ties_at_random() -> None:
    rng = np.random.default_rng(0)
    assert greedy_action(np.array([0.0, 3.0, 1.0]), rng) == 1
    picks = {greedy_action(np.zeros(4), rng) for _ in range(200)}
    assert picks == {0, 1, 2, 3}


def test_td_target_by_hand_and_truncation_bootstraps() -> None:
    rewards = torch.tensor([1.0, 0.5, 2.0])
    next_q = torch.tensor([[1.0, 3.0], [2.0, -1.0], [5.0, 4.0]])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    expected = torch.tensor([1.0 + 0.9 * 3.0, 0.5, 2.0 + 0.9 * 5.0])
    torch.testing.assert_close(td_target(rewards, next_q, terminated, 0.9), expected)
    # through the buffer: a truncated (time-limit) transition bootstraps, a terminated one does not
    buffer = ReplayBuffer(capacity=2, observation_shape=(1,))
    buffer.add(np.zeros(1), 0, 1.0, np.ones(1), terminated=False, truncated=True)
    buffer.add(np.zeros(1), 0, 1.0, np.ones(1), terminated=True, truncated=False)
    batch = buffer.gather(np.array([0, 1]))
    targets = td_target(
        torch.from_numpy(batch.rewards), torch.full((2, 2), 10.0), torch.from_numpy(batch.terminated), 0.99
    )
    torch.testing.assert_close(targets, torch.tensor([1.0 + 0.99 * 10.0, 1.0]))


def test_td_loss_matches_its_formula() -> None:
    q = torch.tensor([0.0, 1.0, 5.0])
    y = torch.tensor([0.5, 3.0, 5.0])
    # Huber (δ=1): ½e² where |e| < 1, |e| − ½ elsewhere → (0.125 + 1.5 + 0) / 3
    assert td_loss(q, y, "huber").item() == pytest.approx((0.125 + 1.5) / 3)
    assert td_loss(q, y, "mse").item() == pytest.approx((0.25 + 4.0) / 3)


def test_update_target_hard_and_polyak() -> None:
    torch.manual_seed(0)
    online, target = QNetwork(3, 2, (4,)), QNetwork(3, 2, (4,))
    before = [p.clone() for p in target.parameters()]
    update_target(target, online, tau=0.25)
    for t, b, o in zip(target.parameters(), before, online.parameters(), strict=True):
        torch.testing.assert_close(t, 0.75 * b + 0.25 * o)
    update_target(target, online, tau=1.0)
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(t, o, rtol=0, atol=0)


# --- the training phase: one batched target pass gives the same network as the textbook loop ---------
@pytest.mark.parametrize("loss", ["huber", "mse"])
def test_batched_targets_equal_the_step_by_step_loop(loss: str) -> None:
    buffer = ReplayBuffer(capacity=500, observation_shape=(4,), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(500):
        buffer.add(
            rng.normal(size=4), int(rng.integers(2)), 1.0, rng.normal(size=4), rng.random() < 0.1, False
        )
    batches = buffer.sample(16, num_batches=12)
    networks = []
    for batched in (True, False):
        torch.manual_seed(0)
        q_network, target_network = QNetwork(4, 2, (32, 32)), QNetwork(4, 2, (32, 32))
        target_network.load_state_dict(q_network.state_dict())
        # perturb the online network so that online ≠ target, as after a few updates
        train_phase(
            q_network, target_network, torch.optim.Adam(q_network.parameters(), 1e-2), batches, gamma=0.9
        )
        optimizer = torch.optim.Adam(q_network.parameters(), lr=1e-2)
        losses = train_phase(
            q_network,
            target_network,
            optimizer,
            batches,
            gamma=0.99,
            loss=loss,
            max_grad_norm=1.0,
            batched_targets=batched,
        )
        networks.append((q_network, losses))
    (batched_net, batched_losses), (loop_net, loop_losses) = networks
    torch.testing.assert_close(batched_losses, loop_losses, rtol=1e-5, atol=1e-6)
    for a, b in zip(batched_net.parameters(), loop_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_training_phase_lowers_the_td_loss_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    buffer = ReplayBuffer(capacity=64, observation_shape=(4,), seed=0)
    rng = np.random.default_rng(1)
    for _ in range(64):
        buffer.add(
            rng.normal(size=4), int(rng.integers(2)), float(rng.normal()), rng.normal(size=4), True, False
        )
    batch = buffer.gather(np.tile(np.arange(64), (200, 1)))  # the same 64 terminal transitions, 200 times
    q_network, target_network = QNetwork(4, 2, (32,)), QNetwork(4, 2, (32,))
    losses = train_phase(
        q_network, target_network, torch.optim.Adam(q_network.parameters(), 1e-2), batch, gamma=0.99
    )
    assert losses[-1] < 0.5 * losses[0]  # regression on fixed targets (terminal: y = r) makes progress


# --- environments and evaluation ------------------------------------------------------------------------
def test_environment_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="CartPol"):
        make_vector_env("CartPol-v1")
    with pytest.raises(UsageError, match="discrete action space"):
        make_vector_env("Pendulum-v1")
    with pytest.raises(UsageError, match="discrete state space"):
        make_tabular_env("CartPole-v1")
    with pytest.raises(UsageError, match="vector observations"):
        make_vector_env("FrozenLake-v1")


def test_greedy_evaluation_is_reproducible_and_counts_cartpole_steps() -> None:
    torch.manual_seed(0)
    q_network = QNetwork(4, 2, (8,))
    first = evaluate_greedy(q_network, "CartPole-v1", episodes=4, seed=7)
    again = evaluate_greedy(q_network, "CartPole-v1", episodes=4, seed=7)
    np.testing.assert_array_equal(first.returns, again.returns)
    np.testing.assert_array_equal(first.returns, first.lengths)  # CartPole pays 1 per step
    # lockstep play gives what one-at-a-time play gives
    alone = [evaluate_greedy(q_network, "CartPole-v1", episodes=1, seed=7 + i).returns[0] for i in range(4)]
    np.testing.assert_array_equal(first.returns, alone)


# --- the whole loop: determinism, checkpoints, exact resume ---------------------------------------------
def test_same_seed_same_run(tmp_path: Path) -> None:
    a = train_dqn(TINY)
    b = train_dqn(TINY)
    c = train_dqn(dataclasses.replace(TINY, seed=1))
    assert a.episode_returns == b.episode_returns and a.evaluations == b.evaluations
    for x, y in zip(a.q_network.parameters(), b.q_network.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert a.episode_returns != c.episode_returns


def test_run_directory_and_checkpoint_are_safe_to_load(tmp_path: Path) -> None:
    result = train_dqn(TINY, tmp_path)
    for name in (
        "config.json",
        "returns.csv",
        "metrics.json",
        "learning_curve.png",
        "model.safetensors",
        "final_model.safetensors",
        "checkpoint.pt",
    ):
        assert (tmp_path / name).is_file(), name
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")  # weights_only=True inside
    assert checkpoint["step"] == TINY.total_steps
    assert len(checkpoint["buffer"]["rewards"]) == min(TINY.buffer_size, TINY.total_steps)
    header = (tmp_path / "returns.csv").read_text().splitlines()[0]
    assert header == "step,kind,return,std,length"
    m = result.metrics
    assert m["steps"] == TINY.total_steps and m["steps_per_second"] > 0 and m["kept_model"] == "best"
    assert m["best_selection_eval_mean_return"] == max(mean for _, mean in result.evaluations)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    whole = train_dqn(TINY, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train_dqn(TINY, tmp_path / "cut", interrupt_at=1_100)
    step = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"]
    assert 800 <= step <= 1_100  # the last checkpoint, taken at an episode end
    resumed = train_dqn(TINY, tmp_path / "cut", resume=True)
    assert resumed.rows == whole.rows
    for x, y in zip(resumed.q_network.parameters(), whole.q_network.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
