"""REINFORCE, A2C and PPO against oracles: GAE against its textbook definitions, the clipped objective's
gradient, a bandit's analytic policy gradient, the distributions against torch.distributions, running
statistics against NumPy, truncation bootstrapping, exact resume, determinism, the run folder and CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from drlab.cli import main
from drlab.common.errors import UsageError
from drlab.common.io import load_checkpoint
from drlab.rl import a2c, ppo, reinforce, vecenv
from drlab.rl.config import A2CConfig, PPOConfig, ReinforceConfig
from drlab.rl.policies import ActorCritic, RunningMeanStd
from drlab.rl.ppo import clipped_surrogate_loss
from drlab.rl.reinforce import policy_gradient_loss, returns_to_go
from drlab.rl.rollout import PolicyGradientState, RewardScaler, collect_rollout, explained_variance, gae
from drlab.rl.runs import load_run_model, train_run

# Small enough to train in a second or two: the tests exercise the real loops.
TINY_PPO = PPOConfig(
    total_steps=1_024, num_envs=4, n_steps=64, batch_size=64, n_epochs=2, hidden_sizes=(16, 16),
    eval_freq=512, eval_episodes=2, checkpoint_freq=256, device="cpu",
)  # fmt: skip
TINY_A2C = A2CConfig(
    total_steps=800, num_envs=4, n_steps=5, hidden_sizes=(16, 16), eval_freq=400, eval_episodes=2,
    checkpoint_freq=200, device="cpu",
)  # fmt: skip
TINY_REINFORCE = ReinforceConfig(
    episodes=12,
    num_envs=2,
    hidden_sizes=(16, 16),
    eval_freq=6,
    eval_episodes=2,
    checkpoint_freq=4,
    device="cpu",
)


# --- GAE against its definitions ---------------------------------------------------------------------------
def _random_rollout(seed: int, steps: int = 30, envs: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    terminated = (rng.random((steps, envs)) < 0.1).astype(np.float32)
    truncated = ((rng.random((steps, envs)) < 0.1) & (terminated == 0)).astype(np.float32)
    values = rng.normal(size=(steps, envs)).astype(np.float32)
    # V of the next state: the next row within an episode, V(final observation) on truncation, anything on
    # termination (it must not count), V of where the rollout stopped after the last row
    next_values = np.concatenate([values[1:], rng.normal(size=(1, envs))]).astype(np.float32)
    final_values = rng.normal(size=(steps, envs)).astype(np.float32)
    next_values = np.where(truncated == 1, final_values, next_values)
    next_values = np.where(terminated == 1, 1e6, next_values).astype(np.float32)  # poison: must be cut
    return {
        "rewards": rng.normal(size=(steps, envs)).astype(np.float32),
        "values": values,
        "next_values": next_values,
        "terminated": terminated,
        "ended": np.maximum(terminated, truncated),
    }


def _gae(r: dict[str, np.ndarray], gamma: float, lam: float) -> np.ndarray:
    return gae(r["rewards"], r["values"], r["next_values"], r["terminated"], r["ended"], gamma, lam)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_is_the_discounted_sum_of_td_errors(lam: float) -> None:
    """A_t = Σ_l (γλ)^l δ_{t+l} over the rest of the episode (summed forward, not the recursion)."""
    r, gamma = _random_rollout(0), 0.9
    deltas = r["rewards"] + gamma * np.where(r["terminated"] == 1, 0.0, r["next_values"]) - r["values"]
    expected = np.zeros_like(deltas)
    steps, envs = deltas.shape
    for e in range(envs):
        for t in range(steps):
            total, weight = 0.0, 1.0
            for k in range(t, steps):
                total += weight * deltas[k, e]
                if r["ended"][k, e]:
                    break
                weight *= gamma * lam
            expected[t, e] = total
    np.testing.assert_allclose(_gae(r, gamma, lam), expected, rtol=1e-5, atol=1e-5)


def test_gae_lambda_one_gives_monte_carlo_returns_bootstrapped_where_cut() -> None:
    """λ = 1: advantages + values = Σ γ^k r_{t+k} to the episode's end, + γ^n V(s_final) if a time limit or
    the rollout's end cut it (never after a termination)."""
    r, gamma = _random_rollout(1), 0.97
    returns = _gae(r, gamma, 1.0) + r["values"]
    steps, envs = r["rewards"].shape
    for e in range(envs):
        for t in range(steps):
            total, discount, k = 0.0, 1.0, t
            while True:
                total += discount * r["rewards"][k, e]
                discount *= gamma
                if r["terminated"][k, e]:
                    break
                if r["ended"][k, e] or k == steps - 1:  # truncated, or the rollout stops: bootstrap
                    total += discount * r["next_values"][k, e]
                    break
                k += 1
            assert returns[t, e] == pytest.approx(total, rel=1e-4, abs=1e-4)


def test_gae_lambda_zero_gives_the_one_step_td_error() -> None:
    r, gamma = _random_rollout(2), 0.99
    td = r["rewards"] + gamma * (1 - r["terminated"]) * np.where(r["terminated"] == 1, 0.0, r["next_values"])
    np.testing.assert_allclose(_gae(r, gamma, 0.0), td - r["values"], rtol=1e-5, atol=1e-5)


def test_returns_to_go_is_gae_without_values() -> None:
    rewards = np.array([1.0, 0.0, 2.0, -1.0])
    np.testing.assert_allclose(returns_to_go(rewards, 0.5), [1.375, 0.75, 1.5, -1.0])  # by hand
    # a time limit cut it: the return after the last step is the bootstrap value, here 4
    np.testing.assert_allclose(returns_to_go([1.0, 1.0], 0.5, bootstrap=4.0), [2.5, 3.0])
    zeros = np.zeros((4, 1), dtype=np.float32)
    ended = np.array([[0], [0], [0], [1]], dtype=np.float32)
    via_gae = gae(rewards[:, None].astype(np.float32), zeros, zeros, ended, ended, 0.5, 1.0)[:, 0]
    np.testing.assert_allclose(returns_to_go(rewards, 0.5), via_gae)


# --- PPO's clipped objective -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ratio", "advantage", "flat"),
    [
        (1.3, 1.0, True),  # better than expected, already 30% more likely: no further push
        (1.1, 1.0, False),
        (0.7, 1.0, False),  # better than expected but less likely: the gradient pushes it back up
        (0.7, -1.0, True),  # worse than expected, already 30% less likely: no further push
        (0.9, -1.0, False),
        (1.3, -1.0, False),  # worse but more likely: pushed back down
    ],
)
def test_clipped_objective_gradient_is_zero_only_beyond_the_clip_on_the_advantage_side(
    ratio: float, advantage: float, flat: bool
) -> None:
    r = torch.tensor([ratio], requires_grad=True)
    clipped_surrogate_loss(r, torch.tensor([advantage]), clip_range=0.2).backward()
    assert r.grad is not None
    if flat:
        assert r.grad.item() == 0.0
    else:
        assert r.grad.item() == pytest.approx(-advantage)  # d(−r A)/dr


# --- The policy gradient of a bandit against its analytic value -----------------------------------------
def test_reinforce_estimates_the_analytic_gradient_of_a_bandit() -> None:
    """Three arms with rewards r, softmax policy π = softmax(θ): ∇J = π ⊙ (r − J). The REINFORCE loss's
    gradient, averaged over sampled pulls, must match it; with a baseline, too, with less variance."""
    theta = torch.tensor([0.2, -0.4, 0.5])
    rewards = torch.tensor([1.0, 3.0, -0.5])
    pi = theta.softmax(0)
    analytic = pi * (rewards - (pi * rewards).sum())

    def estimates(baseline: float, batches: int = 400, batch: int = 250) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        out = []
        for _ in range(batches):
            logits = theta.clone().requires_grad_(True)
            arms = torch.multinomial(pi, batch, replacement=True, generator=generator)
            log_probs = logits.log_softmax(0)[arms]
            policy_gradient_loss(log_probs, rewards[arms] - baseline).backward()
            assert logits.grad is not None
            out.append(-logits.grad)  # the loss is minus the objective
        return torch.stack(out)

    plain, with_baseline = estimates(0.0), estimates(float((pi * rewards).sum()))
    for sampled in (plain, with_baseline):
        standard_error = sampled.std(0) / len(sampled) ** 0.5
        assert torch.all((sampled.mean(0) - analytic).abs() < 4 * standard_error + 1e-4), (
            sampled.mean(0),
            analytic,
        )
    assert (
        with_baseline.var(0).sum() < 0.75 * plain.var(0).sum()
    ).item()  # the baseline removes variance (≈ 45% here)


# --- The distributions, written out, against torch.distributions -------------------------------------------
def test_categorical_and_gaussian_match_torch_distributions() -> None:
    torch.manual_seed(0)
    discrete = ActorCritic(3, 4, continuous=False, hidden_sizes=(8,))
    observations = torch.randn(6, 3)
    actions = torch.randint(0, 4, (6,))
    reference = torch.distributions.Categorical(logits=discrete.actor(observations))
    log_probs, entropy = discrete.log_prob_entropy(observations, actions)
    torch.testing.assert_close(log_probs, reference.log_prob(actions))
    torch.testing.assert_close(entropy, reference.entropy())

    continuous = ActorCritic(3, 2, continuous=True, hidden_sizes=(8,), log_std_init=-0.5)
    actions_c = torch.randn(6, 2)
    assert continuous.log_std is not None
    normal = torch.distributions.Normal(continuous.actor(observations), continuous.log_std.exp())
    log_probs_c, entropy_c = continuous.log_prob_entropy(observations, actions_c)
    torch.testing.assert_close(log_probs_c, normal.log_prob(actions_c).sum(-1))
    torch.testing.assert_close(entropy_c, normal.entropy().sum(-1))


def test_sampled_actions_follow_the_policy() -> None:
    torch.manual_seed(0)
    agent = ActorCritic(2, 3, continuous=False, hidden_sizes=(4,))
    with torch.no_grad():
        agent.actor[-1].bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    observations = torch.zeros(20_000, 2)
    actions, log_probs = agent.sample(observations)
    expected = agent.actor(observations[:1]).softmax(-1)[0]
    frequencies = torch.bincount(actions, minlength=3) / len(actions)
    assert torch.allclose(frequencies, expected, atol=0.015), (frequencies, expected)
    torch.testing.assert_close(log_probs, agent.log_prob(observations, actions))


def test_running_mean_std_matches_numpy_and_reward_scaling_its_formula() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)) for n in (5, 1, 17)]
    rms = RunningMeanStd((2,))
    for batch in batches:
        rms.update(torch.from_numpy(batch))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean.numpy(), everything.mean(0), rtol=1e-4)
    np.testing.assert_allclose(rms.var.numpy(), everything.var(0), rtol=1e-3)

    # reward scaling: ret ← γ ret + r (reset at episode ends); r / √Var(every ret so far), the variance
    # pooled in one formula with the prior (mean 0, variance 1, weight 1e-4) rather than updated step by step
    scaler = RewardScaler(num_envs=1, gamma=0.5)
    returns, seen = 0.0, []
    for reward, end in [(1.0, False), (2.0, True), (4.0, False), (-3.0, False)]:
        returns = 0.5 * returns + reward
        seen.append(returns)
        weight, values = 1e-4, np.array(seen)
        mean = values.sum() / (weight + len(values))
        variance = (weight * (1.0 + mean**2) + ((values - mean) ** 2).sum()) / (weight + len(values))
        expected = np.clip(reward / np.sqrt(variance + 1e-8), -10, 10)
        assert scaler(np.array([reward]), np.array([end]))[0] == pytest.approx(expected, rel=1e-4)
        returns = 0.0 if end else returns


# --- The rollout: truncation bootstraps from the true last observation --------------------------------------
def test_rollout_bootstraps_truncation_with_the_final_observation(monkeypatch: pytest.MonkeyPatch) -> None:
    real_make = vecenv.make_env
    monkeypatch.setattr(vecenv, "make_env", lambda env_id: real_make(env_id, max_episode_steps=5))
    state = PolicyGradientState.create(dataclasses.replace(TINY_PPO, num_envs=2), torch.device("cpu"))
    observations_seen: list[np.ndarray] = []
    real_step = state.envs.step

    def spy(actions: Any) -> Any:
        out = real_step(actions)
        observations_seen.append(out[4].get("final_obs"))
        return out

    monkeypatch.setattr(state.envs, "step", spy)
    rollout = collect_rollout(state, 12, torch.device("cpu"))
    cut = (rollout.ended == 1) & (rollout.terminated == 0)
    assert cut.sum() >= 2  # CartPole survives 5 steps: every 5th step is a truncation
    for t, e in zip(*np.nonzero(cut), strict=True):
        final = torch.from_numpy(np.asarray(observations_seen[t][e], dtype=np.float32))[None]
        with torch.no_grad():
            assert rollout.next_values[t, e] == pytest.approx(state.agent.value(final).item(), abs=1e-6)
    inside = rollout.ended[:-1] == 0  # within an episode, the next value is the next row's
    np.testing.assert_array_equal(rollout.next_values[:-1][inside], rollout.values[1:][inside])
    state.envs.close()


def test_a_lunarlander_episode_is_rebuilt_from_its_start_and_actions() -> None:
    pytest.importorskip("Box2D")
    envs = vecenv.make_vector_env("LunarLander-v3", 2)
    envs.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(40):
        envs.step(rng.integers(0, 4, size=2))
    snapshots = vecenv.snapshot_envs(envs)
    actions = rng.integers(0, 4, size=(25, 2))
    expected = [envs.step(a)[0] for a in actions]
    again = vecenv.make_vector_env("LunarLander-v3", 2)
    vecenv.restore_envs(again, snapshots)
    for a, observation in zip(actions, expected, strict=True):
        np.testing.assert_array_equal(again.step(a)[0], observation)  # the Box2D world, exactly


# --- Determinism and exact resume ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "config"), [(ppo, TINY_PPO), (a2c, TINY_A2C), (reinforce, TINY_REINFORCE)]
)
def test_same_seed_same_run(module: Any, config: Any) -> None:
    first, second = module.train(config), module.train(config)
    other = module.train(dataclasses.replace(config, seed=1))
    assert first.episodes == second.episodes and first.updates == second.updates
    for x, y in zip(first.agent.parameters(), second.agent.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert [e.episode_return for e in first.episodes] != [e.episode_return for e in other.episodes]


class CtrlCAfter(gym.Wrapper[Any, Any, Any, Any]):
    """A test aid: a Ctrl-C during the environment's ``at``-th step (counted over every copy)."""

    calls = 0

    def __init__(self, env: gym.Env[Any, Any], at: int) -> None:
        super().__init__(env)
        self.at = at

    def step(self, action: Any) -> Any:
        CtrlCAfter.calls += 1
        if CtrlCAfter.calls == self.at:
            raise KeyboardInterrupt
        return self.env.step(action)


@pytest.mark.parametrize(
    ("config", "at"),
    [
        (TINY_PPO, 700),
        (dataclasses.replace(TINY_PPO, normalize_observations=True, normalize_rewards=True), 700),
        (
            dataclasses.replace(
                TINY_PPO, env="Pendulum-v1", normalize_observations=True, normalize_rewards=True
            ),
            700,
        ),
        (TINY_REINFORCE, 200),
    ],
    ids=["ppo", "ppo-normalised", "ppo-pendulum", "reinforce"],
)
def test_interrupted_then_resumed_equals_uninterrupted(
    config: Any, at: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = train_run(config, tmp_path / "whole")
    real_make = vecenv.make_env
    CtrlCAfter.calls = 0
    with monkeypatch.context() as patch:
        patch.setattr(vecenv, "make_env", lambda env_id, **kw: CtrlCAfter(real_make(env_id, **kw), at))
        with pytest.raises(KeyboardInterrupt):
            train_run(config, tmp_path / "cut")
    saved = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert 0 < saved["step"] < whole.metrics.steps
    resumed = train_run(config, tmp_path / "cut", resume=True)
    assert resumed.episodes == whole.episodes and resumed.evaluations == whole.evaluations
    assert resumed.updates == whole.updates
    for x, y in zip(resumed.agent.state_dict().values(), whole.agent.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    for name in ("returns.csv", "updates.csv"):
        assert (tmp_path / "cut" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_a_checkpoint_of_another_config_is_refused(tmp_path: Path) -> None:
    train_run(TINY_PPO, tmp_path / "run")
    with pytest.raises(UsageError, match="--n-epochs 2, not 3"):
        train_run(dataclasses.replace(TINY_PPO, n_epochs=3, total_steps=2_048), tmp_path / "run", resume=True)
    with pytest.raises(UsageError, match="already trained 1,024 steps"):
        train_run(dataclasses.replace(TINY_PPO, total_steps=512), tmp_path / "run", resume=True)
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    wider = dataclasses.replace(TINY_PPO, hidden_sizes=(32, 32))
    with pytest.raises(UsageError, match="does not fit"):
        ppo.train(wider, resume_from=checkpoint)


# --- The run folder and the commands --------------------------------------------------------------------
def test_run_folder_holds_what_the_result_says(tmp_path: Path) -> None:
    result = train_run(TINY_A2C, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == dataclasses.asdict(result.metrics)
    for key in ("eval_mean_return", "steps", "steps_per_second", "first_step_reaching_threshold"):
        assert key in metrics
    with open(tmp_path / "updates.csv") as handle:
        updates = list(csv.DictReader(handle))
    assert (
        len(updates) == len(result.updates) == TINY_A2C.total_steps // (TINY_A2C.num_envs * TINY_A2C.n_steps)
    )
    kept, config = load_run_model(tmp_path, "best")
    assert config == TINY_A2C
    for name, tensor in kept.state_dict().items():
        torch.testing.assert_close(tensor, result.best_state[name], rtol=0, atol=0)


def test_settings_per_environment_and_what_is_typed_wins() -> None:
    lunar = PPOConfig.for_env("LunarLander-v3", seed=3, n_epochs=2)
    assert (lunar.num_envs, lunar.n_steps, lunar.gamma, lunar.n_epochs, lunar.seed) == (16, 1024, 0.999, 2, 3)
    assert PPOConfig.for_env("MountainCar-v0") == PPOConfig(env="MountainCar-v0")  # no settings: the defaults
    with pytest.raises(UsageError, match="no setting"):
        PPOConfig.for_env("CartPole-v1", learning_rate=1.0)


def test_ppo_command_evaluate_and_gif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pygame")
    run = tmp_path / "ppo"
    argv = ["rl", "ppo", "--total-steps", "512", "--num-envs", "2", "--n-steps", "64", "--batch-size", "64",
            "--n-epochs", "1", "--eval-freq", "256", "--eval-episodes", "2", "--device", "cpu", "--quiet",
            "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PPO on CartPole-v1" in out and "updates.csv" in out
    config = json.loads((run / "config.json").read_text())
    assert config["algorithm"] == "ppo" and config["config"]["gae_lambda"] == 0.8  # the CartPole settings
    gif = tmp_path / "ppo.gif"
    assert main(["rl", "evaluate", str(run), "--episodes", "2", "--gif", str(gif)]) == 0
    assert "wrote" in capsys.readouterr().out
    from PIL import Image

    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 5 and image.size == (300, 200)
    # a file drlab did not write is never replaced
    thesis = tmp_path / "thesis.gif"
    thesis.write_bytes(b"mine")
    assert main(["rl", "evaluate", str(run), "--gif", str(thesis)]) == 2
    assert "did not write" in capsys.readouterr().err and thesis.read_bytes() == b"mine"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rl", "ppo", "--batch-size", "100"], "must divide"),
        (["rl", "ppo", "--env", "FrozenLake-v1"], "vector observations"),
        (["rl", "a2c", "--env", "CartPol-v1"], "CartPol"),
        (["rl", "reinforce", "--episodes", "0"], "--episodes"),
        (["rl", "ppo", "--clip-range", "nan"], "--clip-range"),
        (["rl", "a2c", "--gae-lambda", "1.5"], "--gae-lambda"),
        (["rl", "ppo", "--device", "cuda:7"], "cuda"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "run").exists()  # nothing touched


def test_async_vector_environments_give_the_same_run_as_sync() -> None:
    """One process per copy (``--vectorization async``) steps the same episodes: the same numbers."""
    config = dataclasses.replace(TINY_A2C, total_steps=200, eval_freq=0)
    sync, parallel = a2c.train(config), a2c.train(dataclasses.replace(config, vectorization="async"))
    assert sync.episodes == parallel.episodes and sync.updates == parallel.updates


def test_explained_variance_against_its_definition() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=50).astype(np.float32)
    predicted = target + 0.3 * rng.normal(size=50).astype(np.float32)
    expected = 1 - np.var(target.astype(np.float64) - predicted) / np.var(target.astype(np.float64))
    assert explained_variance(predicted, target) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(explained_variance(predicted, np.ones(5)))
