"""The RL wing's pieces against hand computations: replay buffer, ε schedule, Bellman and TD targets,
target updates, the batched training phase against the textbook loop, determinism and exact resume,
the run folder, and the wing's imports (no cycle)."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from drlab.common.errors import UsageError
from drlab.common.io import load_checkpoint
from drlab.rl import dqn
from drlab.rl.buffer import ReplayBuffer, Transitions
from drlab.rl.config import DQNConfig
from drlab.rl.dqn import DQNState, QNetwork, td_loss, td_target, train_dqn, train_phase, update_target
from drlab.rl.envs import make_dqn_env, make_tabular_env
from drlab.rl.evaluate import evaluate_greedy
from drlab.rl.qlearning import greedy_action, q_learning_update
from drlab.rl.runs import load_run_model, train_run
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
def textbook_phase(
    q_network: QNetwork,
    target_network: QNetwork,
    optimizer: torch.optim.Optimizer,
    batches: Transitions,
    gamma: float,
    loss: str,
    max_grad_norm: float,
) -> torch.Tensor:
    """The oracle: one batch at a time, its TD targets computed just before its gradient step."""
    losses = []
    for k in range(len(batches.observations)):
        observations = torch.from_numpy(batches.observations[k])
        actions = torch.from_numpy(batches.actions[k])
        with torch.no_grad():
            next_q = target_network(torch.from_numpy(batches.next_observations[k]))
            targets = (
                torch.from_numpy(batches.rewards[k])
                + gamma * (1.0 - torch.from_numpy(batches.terminated[k])) * next_q.max(dim=1).values
            )
        q_taken = q_network(observations)[torch.arange(len(actions)), actions]
        loss_value = td_loss(q_taken, targets, loss)
        optimizer.zero_grad()
        loss_value.backward()
        nn.utils.clip_grad_norm_(q_network.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss_value.detach())
    return torch.stack(losses)


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
    for phase in (train_phase, textbook_phase):
        torch.manual_seed(0)
        q_network, target_network = QNetwork(4, 2, (32, 32)), QNetwork(4, 2, (32, 32))
        target_network.load_state_dict(q_network.state_dict())
        # perturb the online network so that online ≠ target, as after a few updates
        train_phase(
            q_network, target_network, torch.optim.Adam(q_network.parameters(), 1e-2), batches, gamma=0.9
        )
        optimizer = torch.optim.Adam(q_network.parameters(), lr=1e-2)
        losses = phase(
            q_network, target_network, optimizer, batches, gamma=0.99, loss=loss, max_grad_norm=1.0
        )
        networks.append((q_network, losses))
    (batched_net, batched_losses), (loop_net, loop_losses) = networks
    assert not torch.equal(batched_losses[0], batched_losses[-1])  # the phase did learn something
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
        make_dqn_env("CartPol-v1")
    with pytest.raises(UsageError, match="discrete action space"):
        make_dqn_env("Pendulum-v1")
    with pytest.raises(UsageError, match="discrete state space"):
        make_tabular_env("CartPole-v1")
    with pytest.raises(UsageError, match="vector observations"):
        make_dqn_env("FrozenLake-v1")


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
def test_same_seed_same_run() -> None:
    a = train_dqn(TINY)
    b = train_dqn(TINY)
    c = train_dqn(dataclasses.replace(TINY, seed=1))
    assert a.episodes == b.episodes and a.evaluations == b.evaluations
    for x, y in zip(a.q_network.parameters(), b.q_network.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert [e.episode_return for e in a.episodes] != [e.episode_return for e in c.episodes]


def test_run_directory_and_checkpoint_are_safe_to_load(tmp_path: Path) -> None:
    result = train_run(TINY, tmp_path)
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
    m = result.metrics
    assert m.steps == TINY.total_steps and m.steps_per_second > 0 and m.kept_model == "best"
    assert m.best_selection_eval_mean_return == max(e.mean_return for e in result.evaluations)
    # the files say what the result says: metrics.json is the record, returns.csv the records in time order
    assert json.loads((tmp_path / "metrics.json").read_text()) == dataclasses.asdict(m)
    with open(tmp_path / "returns.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "kind", "return", "std", "length"]
    assert [int(r["step"]) for r in rows] == sorted(int(r["step"]) for r in rows)
    assert [float(r["return"]) for r in rows if r["kind"] == "episode"] == [
        e.episode_return for e in result.episodes
    ]
    assert [float(r["return"]) for r in rows if r["kind"] == "eval"] == [
        e.mean_return for e in result.evaluations
    ]
    # the kept model reads back as the best-evaluated weights, the final one as the last
    kept, config = load_run_model(tmp_path, "best")
    final, _ = load_run_model(tmp_path, "final")
    assert config == TINY
    for name, tensor in kept.state_dict().items():
        torch.testing.assert_close(tensor, result.best_state[name], rtol=0, atol=0)
    for name, tensor in final.state_dict().items():
        torch.testing.assert_close(tensor, result.q_network.state_dict()[name], rtol=0, atol=0)


class CtrlCAt(gym.Wrapper[Any, Any, Any, Any]):
    """A test aid: a Ctrl-C that arrives during the environment's ``at``-th step."""

    def __init__(self, env: gym.Env[Any, Any], at: int) -> None:
        super().__init__(env)
        self.at, self.steps = at, 0

    def step(self, action: Any) -> Any:
        self.steps += 1
        if self.steps == self.at:
            raise KeyboardInterrupt
        return self.env.step(action)


def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = train_run(TINY, tmp_path / "whole")
    with monkeypatch.context() as patch:
        patch.setattr(dqn, "make_dqn_env", lambda env_id: _interrupted(make_dqn_env(env_id), at=1_101))
        with pytest.raises(KeyboardInterrupt):
            train_run(TINY, tmp_path / "cut")
    step = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"]
    assert 800 <= step <= 1_100  # the last checkpoint, taken at an episode end
    assert (tmp_path / "cut" / "model.safetensors").is_file()  # the kept model so far, already usable
    resumed = train_run(TINY, tmp_path / "cut", resume=True)
    assert resumed.episodes == whole.episodes and resumed.evaluations == whole.evaluations
    assert resumed.metrics.steps_this_session == TINY.total_steps - step
    for x, y in zip(resumed.q_network.parameters(), whole.q_network.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert (tmp_path / "cut" / "returns.csv").read_text() == (tmp_path / "whole" / "returns.csv").read_text()


def _interrupted(made: tuple[gym.Env[Any, Any], int, int], at: int) -> tuple[gym.Env[Any, Any], int, int]:
    env, observation_size, num_actions = made
    return CtrlCAt(env, at), observation_size, num_actions


def test_dqn_state_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    config = dataclasses.replace(TINY, total_steps=700)
    states: list[dict[str, Any]] = []
    train_dqn(config, on_checkpoint=lambda state: states.append(state.state_dict()))
    saved = states[-1]  # the end of training
    fresh = DQNState.create(config, torch.device("cpu"))
    fresh.load_state_dict(saved)
    again = fresh.state_dict()
    assert again["step"] == 700 and again["episodes"] == saved["episodes"]
    for name in ("q_network", "target_network", "best_state"):
        for key, tensor in saved[name].items():
            torch.testing.assert_close(again[name][key], tensor, rtol=0, atol=0)
    assert again["explore_rng"] == saved["explore_rng"] and again["env_rng"] == saved["env_rng"]
    assert again["optimizer"]["state"][0]["step"] == saved["optimizer"]["state"][0]["step"]
    np.testing.assert_array_equal(again["buffer"]["rewards"], saved["buffer"]["rewards"])


def test_a_checkpoint_that_does_not_fit_is_a_usage_error() -> None:
    state = DQNState.create(TINY, torch.device("cpu")).state_dict()
    del state["evaluations"]
    with pytest.raises(UsageError, match="its content has no evaluations"):
        train_dqn(TINY, resume_from=state)
    wider = DQNState.create(dataclasses.replace(TINY, hidden_sizes=(64, 64)), torch.device("cpu"))
    with pytest.raises(UsageError, match=r"q_network.layers.0.weight should have shape \(32, 4\)"):
        train_dqn(TINY, resume_from=wider.state_dict())


# --- the learning-rate schedule and the books of time ---------------------------------------------------
def test_learning_rate_decays_linearly_to_its_final_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    config = dataclasses.replace(TINY, final_lr_fraction=0.25, eval_freq=0)
    seen: list[float] = []
    real_phase = dqn.train_phase

    def spy(
        q_network: QNetwork, target: QNetwork, optimizer: torch.optim.Optimizer, *a: Any, **k: Any
    ) -> Any:
        seen.append(optimizer.param_groups[0]["lr"])
        return real_phase(q_network, target, optimizer, *a, **k)

    monkeypatch.setattr(dqn, "train_phase", spy)
    train_dqn(config)
    phase_ends = [
        s
        for s in range(1, config.total_steps + 1)
        if s % config.train_freq == 0 and s > config.learning_starts
    ]
    # lr(t) = lr₀ (1 − (1 − f) t / T): from lr₀ at t = 0 to f·lr₀ at t = T
    expected = [config.lr * (1 - 0.75 * t / config.total_steps) for t in phase_ends]
    assert seen == pytest.approx(expected, rel=1e-12)


def test_checkpoint_time_is_not_booked_as_evaluation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # a clock of the test's own: an evaluation takes 1 s, a checkpoint 100 s, everything else no time
    now = [0.0]
    monkeypatch.setattr(dqn, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    real_evaluate = dqn.evaluate_greedy

    def one_second_evaluation(*args: Any, **kwargs: Any) -> Any:
        now[0] += 1.0
        return real_evaluate(*args, **kwargs)

    def hundred_second_checkpoint(state: DQNState) -> None:
        now[0] += 100.0
        checkpoints.append(state.step)

    checkpoints: list[int] = []
    monkeypatch.setattr(dqn, "evaluate_greedy", one_second_evaluation)
    m = train_dqn(TINY, on_checkpoint=hundred_second_checkpoint).metrics
    assert len(checkpoints) >= 3  # every ~400 steps at an episode end, and at the end
    assert m.checkpoint_seconds == 100.0 * len(checkpoints)
    assert m.eval_seconds == 1.0 * TINY.total_steps // TINY.eval_freq  # the loop's three evaluations
    assert m.seconds == m.eval_seconds + m.checkpoint_seconds
    assert m.train_seconds == pytest.approx(0.0, abs=1e-6)


# --- the wing's imports flow one way ----------------------------------------------------------------------
def test_the_rl_wing_has_no_import_cycle() -> None:
    """Every ``import drlab.rl.x`` in src/drlab/rl, at module or function level, in a graph without cycle."""
    package = Path(dqn.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            imports |= {n.split(".")[2] for n in names if n.startswith("drlab.rl.") and n.count(".") == 2}
        graph[path.stem] = imports - {path.stem}
    assert "dqn" in graph["runs"] and "evaluate" in graph["dqn"]  # the parser sees imports
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, f"import cycle: {' → '.join([*visiting, module])}"
        if module in done or module not in graph:
            return
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
