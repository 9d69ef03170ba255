"""Deep Q-learning (DQN, Mnih et al. 2015), top to bottom in one file.

Tabular Q-learning (:mod:`drlab.rl.qlearning`) keeps one number per (state, action). When the state is
a vector of reals (CartPole: cart position and velocity, pole angle and angular velocity) a table is
impossible, so a neural network ``Q_θ(s, ·)`` outputs one Q-value per action, and the Bellman update
becomes a regression toward the TD target ("cible TD")::

    y = r + γ (1 − terminated) max_a' Q_θ⁻(s', a')        loss = Huber(Q_θ(s, a) − y)

Two ideas make this stable enough to learn:

1. **Experience replay** (:class:`~drlab.rl.buffer.ReplayBuffer`): train on random mini-batches of
   past transitions rather than on the last few, correlated, steps.
2. **A target network** ``θ⁻``: a copy of the Q-network that changes only now and then, so the target
   ``y`` does not move with every gradient step.

The loop: act ε-greedily, store the transition; every ``train_freq`` steps, take ``gradient_steps``
gradient steps — each one the four steps of the course (forward, loss, gradients, update); now and
then copy the Q-network into the target network and evaluate the greedy policy. The model with the
best evaluation is kept: DQN on CartPole is known to *collapse* late in training (SB3's does), and the
best evaluated model is what one deploys.

The hyperparameters are :class:`~drlab.rl.config.DQNConfig` (defaults: the rl-zoo's CartPole settings).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drlab.common.config import to_dict
from drlab.common.device import resolve_device
from drlab.common.errors import UsageError
from drlab.common.io import (
    load_checkpoint,
    save_checkpoint,
    save_weights,
    write_csv_atomic,
    write_json_atomic,
)
from drlab.common.seeding import seed_everything
from drlab.rl.buffer import ReplayBuffer, Transitions
from drlab.rl.config import DQNConfig
from drlab.rl.envs import make_vector_env
from drlab.rl.evaluate import HELD_OUT_SEED, SELECTION_SEED_OFFSET, evaluate_greedy
from drlab.rl.schedules import linear_schedule

CHECKPOINT_NAME = "checkpoint.pt"
RETURNS_FIELDS = ("step", "kind", "return", "std", "length")


# --- The Q-network: a plain MLP, observation in, one Q-value per action out -----------------------------
class QNetwork(nn.Module):
    """``Q_θ(s, ·)``: an MLP from an observation to the Q-value of every action."""

    def __init__(
        self, observation_size: int, num_actions: int, hidden_sizes: Sequence[int] = (256, 256)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = observation_size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, num_actions))  # no activation: Q-values are any real number
        self.layers = nn.Sequential(*layers)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.layers(observations)


# --- The TD target and the loss --------------------------------------------------------------------------
def td_target(
    rewards: torch.Tensor, next_q_values: torch.Tensor, terminated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``y = r + γ (1 − terminated) max_a' Q⁻(s', a')``.

    ``next_q_values`` holds ``Q⁻(s', ·)`` on its last axis. Only *termination* cuts the bootstrap: a
    transition cut by a time limit (truncated) still has a future worth ``max_a' Q⁻(s', a')``.
    """
    return rewards + gamma * (1.0 - terminated) * next_q_values.max(dim=-1).values


def td_loss(q_taken: torch.Tensor, targets: torch.Tensor, kind: str = "huber") -> torch.Tensor:
    """The regression loss between ``Q_θ(s, a)`` and the TD target (Huber = smooth L1, δ = 1)."""
    if kind == "huber":
        return F.smooth_l1_loss(q_taken, targets)
    if kind == "mse":
        return F.mse_loss(q_taken, targets)
    raise ValueError(f"unknown loss {kind!r} (huber or mse)")


def train_phase(
    q_network: QNetwork,
    target_network: QNetwork,
    optimizer: torch.optim.Optimizer,
    batches: Transitions,
    *,
    gamma: float,
    loss: str = "huber",
    max_grad_norm: float = 10.0,
    device: torch.device | str = "cpu",
    batched_targets: bool = True,
) -> torch.Tensor:
    """Take one gradient step per batch in ``batches`` (arrays shaped ``(K, B, ...)``); return the K losses.

    The target network does not change during a training phase (it is updated between phases, see
    :func:`train_dqn`), so the TD targets of all K batches can be computed by ONE forward pass of the
    target network on K·B next observations — the same numbers as K separate passes, for a fraction of
    the Python overhead. ``batched_targets=False`` computes them one batch at a time, the textbook way
    (the tests check that both give the same network).
    """
    observations = torch.from_numpy(batches.observations).to(device)
    actions = torch.from_numpy(batches.actions).to(device).unsqueeze(-1)  # (K, B, 1) for gather
    rewards = torch.from_numpy(batches.rewards).to(device)
    next_observations = torch.from_numpy(batches.next_observations).to(device)
    terminated = torch.from_numpy(batches.terminated).to(device)
    num_steps = observations.shape[0]

    if batched_targets:
        with torch.no_grad():  # the target is a constant: no gradient flows into θ⁻
            all_targets = td_target(rewards, target_network(next_observations), terminated, gamma)

    parameters = list(q_network.parameters())
    losses = torch.zeros(num_steps, device=device)  # kept on the device: no host sync per step
    for k in range(num_steps):
        if batched_targets:
            targets = all_targets[k]
        else:
            with torch.no_grad():
                targets = td_target(rewards[k], target_network(next_observations[k]), terminated[k], gamma)
        # 1. forward: Q_θ(s, a) for the actions that were taken
        q_taken = q_network(observations[k]).gather(1, actions[k]).squeeze(1)
        # 2. loss: how far Q_θ(s, a) is from the TD target
        loss_value = td_loss(q_taken, targets, loss)
        # 3. gradients ("rétropropagation")
        optimizer.zero_grad(set_to_none=True)
        loss_value.backward()
        if max_grad_norm > 0:  # a rare huge TD error must not throw the network far away
            nn.utils.clip_grad_norm_(parameters, max_grad_norm, foreach=True)
        # 4. update ("descente de gradient", with Adam)
        optimizer.step()
        losses[k] = loss_value.detach()
    return losses


def update_target(target_network: QNetwork, q_network: QNetwork, tau: float) -> None:
    """θ⁻ ← τ θ + (1 − τ) θ⁻: a copy when τ = 1 (hard update), a slow average below (Polyak)."""
    with torch.no_grad():
        for target, online in zip(target_network.parameters(), q_network.parameters(), strict=True):
            if tau >= 1.0:
                target.copy_(online)
            else:
                target.lerp_(online, tau)


def make_optimizer(q_network: QNetwork, learning_rate: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam; the fused kernel (one call updates every parameter) where this PyTorch has it."""
    try:
        return torch.optim.Adam(q_network.parameters(), lr=learning_rate, fused=True)
    except (RuntimeError, TypeError):  # no fused Adam for this device or version
        return torch.optim.Adam(q_network.parameters(), lr=learning_rate, foreach=True)


# --- What a run returns ----------------------------------------------------------------------------------
@dataclass
class DQNResult:
    """What :func:`train_dqn` returns (the run directory, when given, holds the same on disk)."""

    q_network: QNetwork
    """the Q-network at the end of training"""
    best_state: dict[str, torch.Tensor]
    """the weights of the best-evaluated Q-network (the kept model; the final one without evaluations)"""
    rows: list[dict[str, Any]]
    """episode returns and evaluation means over steps (the rows of returns.csv)"""
    metrics: dict[str, Any] = field(default_factory=dict)
    """the content of metrics.json"""

    @property
    def episode_returns(self) -> list[float]:
        return [float(row["return"]) for row in self.rows if row["kind"] == "episode"]

    @property
    def evaluations(self) -> list[tuple[int, float]]:
        return [(int(row["step"]), float(row["return"])) for row in self.rows if row["kind"] == "eval"]


# --- The training loop -----------------------------------------------------------------------------------
def train_dqn(
    config: DQNConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    interrupt_at: int | None = None,
    log: Callable[[str], None] | None = None,
) -> DQNResult:
    """Train a DQN agent as ``config`` says; write config, curves, metrics, models, checkpoint to ``run_dir``.

    ``resume`` continues from ``run_dir/checkpoint.pt`` exactly where it was written (checkpoints are
    taken at episode ends, so the environment, the buffer and every generator pick up where they were).
    ``interrupt_at`` stops the loop after that many environment steps, as Ctrl-C would (for tests).
    """
    check_config(config)
    device = resolve_device(config.device)
    run = Path(run_dir) if run_dir is not None else None
    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.num_threads)  # small matrices: extra threads cost more than they give
    try:
        return _train(config, device, run, resume, progress, interrupt_at, log)
    finally:
        torch.set_num_threads(threads_before)


def _train(
    config: DQNConfig,
    device: torch.device,
    run: Path | None,
    resume: bool,
    progress: bool,
    interrupt_at: int | None,
    log: Callable[[str], None] | None,
) -> DQNResult:
    # --- seeding: one call, then generators derived from the same seed ---
    seed_everything(config.seed)
    explore_seed, buffer_seed = np.random.SeedSequence(config.seed).spawn(2)
    explore_rng = np.random.default_rng(explore_seed)  # the ε coin
    env, observation_size, num_actions = make_vector_env(config.env)
    env.action_space.seed(config.seed)  # the random actions
    threshold = env.spec.reward_threshold if env.spec is not None else None

    q_network = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
    target_network = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
    target_network.load_state_dict(q_network.state_dict())
    target_network.requires_grad_(False)
    optimizer = make_optimizer(q_network, config.learning_rate, device)
    buffer = ReplayBuffer(config.buffer_size, (observation_size,), seed=int(buffer_seed.generate_state(1)[0]))

    rows: list[dict[str, Any]] = []
    start_step = 0
    episode_return, episode_length = 0.0, 0
    best_eval = -float("inf")
    best_state = {k: v.detach().clone() for k, v in q_network.state_dict().items()}
    first_solved_step: int | None = None
    observation, _ = env.reset(seed=config.seed)
    needs_reset = False
    if resume:
        if run is None:
            raise UsageError("resume needs a run directory")
        state = load_checkpoint(run / CHECKPOINT_NAME, map_location=device)
        q_network.load_state_dict(state["q_network"])
        target_network.load_state_dict(state["target_network"])
        optimizer.load_state_dict(state["optimizer"])
        buffer.load_state_dict({k: _to_numpy(v) for k, v in state["buffer"].items()})
        explore_rng.bit_generator.state = state["explore_rng"]
        env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        rows = list(state["rows"])
        start_step = int(state["step"])
        best_eval = float(state["best_eval"])
        best_state = state["best_state"]
        first_solved_step = state["first_solved_step"]
        needs_reset = True  # checkpoints are taken at episode ends: the next step starts an episode
        if log:
            log(f"resuming {run} at step {start_step:,}")
    if run is not None:
        write_json_atomic(run / "config.json", {"algorithm": "dqn", "config": to_dict(config)})

    def checkpoint(run: Path, at_step: int) -> None:
        # the whole training state as it is *now* (the closure reads the current best_eval, rows, …)
        _save_checkpoint(
            run, at_step, q_network, target_network, optimizer, buffer, explore_rng, env,
            rows, best_eval, best_state, first_solved_step,
        )  # fmt: skip

    from tqdm.auto import tqdm

    bar = tqdm(total=config.total_steps, initial=start_step, disable=not progress, unit="step", leave=False)
    exploration_steps = int(config.exploration_fraction * config.total_steps)
    next_checkpoint = (start_step // config.checkpoint_freq + 1) * config.checkpoint_freq
    q_changed = True  # has the Q-network changed since the last target update?
    losses = torch.zeros(0)
    eval_seconds = 0.0
    stop = config.total_steps if interrupt_at is None else min(config.total_steps, interrupt_at)
    started = time.perf_counter()
    step = start_step
    for step in range(start_step, stop):
        if needs_reset:
            observation, _ = env.reset()
            needs_reset = False

        # --- act ε-greedily: explore with probability ε, else take argmax_a Q_θ(s, a) ---
        epsilon = linear_schedule(config.epsilon_start, config.epsilon_end, exploration_steps, step)
        if step < config.learning_starts or explore_rng.random() < epsilon:
            action = int(env.action_space.sample())
        else:
            with torch.inference_mode():
                q_values = q_network(torch.from_numpy(observation).to(device))
            action = int(q_values.argmax())
        next_observation, reward, terminated, truncated, _ = env.step(action)
        # next_observation is the true last observation even when the episode ended (gymnasium ≥ 1.0)
        buffer.add(observation, action, float(reward), next_observation, terminated, truncated)
        observation = next_observation
        episode_return += float(reward)
        episode_length += 1
        if terminated or truncated:
            rows.append(
                {
                    "step": step + 1,
                    "kind": "episode",
                    "return": episode_return,
                    "std": "",
                    "length": episode_length,
                }
            )
            episode_return, episode_length = 0.0, 0
            needs_reset = True

        # --- the target network follows the Q-network every target_update_interval steps ---
        # Counted in environment steps, as SB3 and cleanrl count them: the zoo's "10" with train_freq 256
        # re-synchronises θ⁻ before every training phase and freezes it during the phase's 128 gradient
        # steps (which is what lets train_phase compute all 128 batches' targets in one pass).
        if (step + 1) % config.target_update_interval == 0 and (q_changed or config.tau < 1.0):
            update_target(target_network, q_network, config.tau)
            q_changed = False

        # --- a training phase: gradient_steps mini-batches, sampled all at once ---
        if (step + 1) % config.train_freq == 0 and step + 1 > config.learning_starts:
            fraction_done = (step + 1) / config.total_steps
            lr_fraction = 1.0 - (1.0 - config.final_learning_rate_fraction) * fraction_done
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * lr_fraction
            batches = buffer.sample(config.batch_size, num_batches=config.gradient_steps)
            losses = train_phase(
                q_network,
                target_network,
                optimizer,
                batches,
                gamma=config.gamma,
                loss=config.loss,
                max_grad_norm=config.max_grad_norm,
                device=device,
            )
            q_changed = True

        # --- greedy evaluation on separate environments; keep the best model ---
        if config.eval_freq > 0 and (step + 1) % config.eval_freq == 0:
            eval_started = time.perf_counter()
            evaluation = evaluate_greedy(
                q_network, config.env, config.eval_episodes, config.seed + SELECTION_SEED_OFFSET, device
            )
            rows.append(
                {
                    "step": step + 1,
                    "kind": "eval",
                    "return": evaluation.mean,
                    "std": evaluation.std,
                    "length": float(evaluation.lengths.mean()),
                }
            )
            if threshold is not None and first_solved_step is None and evaluation.mean >= threshold:
                first_solved_step = step + 1
            if evaluation.mean >= best_eval:  # ties go to the later, longer-trained model
                best_eval = evaluation.mean
                best_state = {k: v.detach().clone() for k, v in q_network.state_dict().items()}
                if run is not None:
                    save_weights(best_state, run / "model.safetensors", metadata={"step": str(step + 1)})
            if log:
                log(
                    f"step {step + 1:>7,}  ε {epsilon:.3f}  loss {f'{float(losses.mean()):.4f}' if len(losses) else '-':>6}  "
                    f"eval {evaluation.mean:6.1f} ± {evaluation.std:5.1f}  best {best_eval:6.1f}"
                )
            eval_seconds += time.perf_counter() - eval_started

        # --- checkpoint at an episode end, so that a resume continues exactly ---
        if run is not None and needs_reset and step + 1 >= next_checkpoint:
            eval_started = time.perf_counter()
            checkpoint(run, step + 1)
            next_checkpoint = ((step + 1) // config.checkpoint_freq + 1) * config.checkpoint_freq
            eval_seconds += time.perf_counter() - eval_started
        if (step + 1) % 256 == 0:
            bar.update(step + 1 - bar.n)
    bar.close()
    steps_done = step + 1 - start_step if stop > start_step else 0
    seconds = time.perf_counter() - started
    env.close()
    if interrupt_at is not None and stop < config.total_steps:
        raise KeyboardInterrupt(f"interrupted at step {stop}")

    # --- the end: keep the best model (or the final one if nothing was evaluated), measure it, write all ---
    if best_eval == -float("inf"):
        best_state = {k: v.detach().clone() for k, v in q_network.state_dict().items()}
    kept = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
    kept.load_state_dict(best_state)
    held_out = evaluate_greedy(kept, config.env, max(config.eval_episodes, 10), HELD_OUT_SEED, device)
    final = evaluate_greedy(q_network, config.env, max(config.eval_episodes, 10), HELD_OUT_SEED, device)
    train_seconds = max(seconds - eval_seconds, 1e-9)
    metrics = {
        "env": config.env,
        "kept_model": "best" if best_eval > -float("inf") else "final",
        "eval_mean_return": held_out.mean,
        "eval_std_return": held_out.std,
        "eval_episodes": len(held_out.returns),
        "eval_seed": HELD_OUT_SEED,
        "final_eval_mean_return": final.mean,
        "final_eval_std_return": final.std,
        "best_selection_eval_mean_return": best_eval if best_eval > -float("inf") else None,
        "first_step_reaching_threshold": first_solved_step,
        "reward_threshold": threshold,
        "steps": step + 1 if stop > start_step else start_step,
        "steps_this_session": steps_done,
        "seconds": seconds,
        "train_seconds": train_seconds,
        "steps_per_second": steps_done / train_seconds,
        "episodes": sum(1 for row in rows if row["kind"] == "episode"),
        "device": str(device),
    }
    if run is not None:
        save_weights(best_state, run / "model.safetensors")
        save_weights(q_network.state_dict(), run / "final_model.safetensors")
        checkpoint(run, stop)
        write_csv_atomic(run / "returns.csv", rows, fieldnames=RETURNS_FIELDS)
        write_json_atomic(run / "metrics.json", metrics)
        from drlab.rl.plots import plot_learning_curve

        plot_learning_curve(
            rows, run / "learning_curve.png", title=f"DQN on {config.env}", threshold=threshold
        )
    return DQNResult(q_network=q_network, best_state=best_state, rows=rows, metrics=metrics)


def _save_checkpoint(
    run: Path,
    step: int,
    q_network: QNetwork,
    target_network: QNetwork,
    optimizer: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    explore_rng: np.random.Generator,
    env: Any,
    rows: list[dict[str, Any]],
    best_eval: float,
    best_state: dict[str, torch.Tensor],
    first_solved_step: int | None,
) -> None:
    """Everything a resume needs, as tensors and plain data (loadable with ``weights_only=True``)."""
    buffer_state = {
        k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in buffer.state_dict().items()
    }
    save_checkpoint(
        {
            "step": step,
            "q_network": q_network.state_dict(),
            "target_network": target_network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "buffer": buffer_state,
            "explore_rng": explore_rng.bit_generator.state,
            "env_rng": env.unwrapped.np_random.bit_generator.state,
            "action_space_rng": env.action_space.np_random.bit_generator.state,
            "rows": rows,
            "best_eval": best_eval,
            "best_state": best_state,
            "first_solved_step": first_solved_step,
        },
        run / CHECKPOINT_NAME,
    )


def _to_numpy(value: Any) -> Any:
    return value.numpy() if isinstance(value, torch.Tensor) else value


def check_config(config: DQNConfig) -> None:
    """Turn impossible settings into one-line errors before anything starts."""
    positive = (
        "total_steps",
        "buffer_size",
        "batch_size",
        "train_freq",
        "gradient_steps",
        "target_update_interval",
        "checkpoint_freq",
        "num_threads",
    )
    for name in positive:
        if getattr(config, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(config, name)}")
    if not 0.0 < config.tau <= 1.0:
        raise UsageError(f"--tau must be in (0, 1], got {config.tau}")
    if not 0.0 <= config.gamma <= 1.0:
        raise UsageError(f"--gamma must be in [0, 1], got {config.gamma}")
    if config.learning_rate <= 0:
        raise UsageError(f"--learning-rate must be positive, got {config.learning_rate}")
    if config.eval_freq < 0 or config.eval_episodes <= 0:
        raise UsageError("--eval-freq must be ≥ 0 and --eval-episodes positive")
    if not 0 <= config.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), got {config.seed}")
    if not config.hidden_sizes or min(config.hidden_sizes) <= 0:
        raise UsageError(f"--hidden-sizes must be positive widths, got {config.hidden_sizes}")
