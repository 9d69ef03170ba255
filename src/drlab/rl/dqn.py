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

Read in this order: the network, the TD target and loss, one training phase (the four steps), the
training state :class:`DQNState` (everything a checkpoint saves), then :func:`train_dqn`, the loop. The
hyperparameters are :class:`~drlab.rl.config.DQNConfig` (defaults: the rl-zoo's CartPole settings).
This file writes no file: :func:`drlab.rl.runs.train_run` gives a run its folder (checkpoints, curves, models).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drlab.common.device import resolve_device
from drlab.common.errors import UsageError
from drlab.common.optim import make_optimizer
from drlab.common.schema import (
    IntIn,
    Like,
    ListOf,
    TensorSpec,
    check_structure,
    module_state,
    optimizer_state,
)
from drlab.common.seeding import seed_everything
from drlab.rl.buffer import ReplayBuffer, Transitions
from drlab.rl.config import DQNConfig
from drlab.rl.envs import make_dqn_env
from drlab.rl.evaluate import SELECTION_SEED_OFFSET, evaluate_greedy, final_metrics
from drlab.rl.records import EpisodeRecord, EvaluationRecord, RunMetrics
from drlab.rl.schedules import linear_schedule
from drlab.rl.training import copy_weights, set_learning_rate, torch_threads

if TYPE_CHECKING:
    import gymnasium as gym


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
) -> torch.Tensor:
    """Take one gradient step per batch in ``batches`` (arrays shaped ``(K, B, ...)``); return the K losses.

    The target network does not change during a training phase (it is updated between phases, see
    :func:`train_dqn`), so the TD targets of all K batches can be computed by ONE forward pass of the
    target network on K·B next observations — the same numbers as K separate passes, one per step as the
    textbook writes it, for a fraction of the Python overhead (the tests check both give the same network).
    """
    observations = torch.from_numpy(batches.observations).to(device)
    actions = torch.from_numpy(batches.actions).to(device).unsqueeze(-1)  # (K, B, 1) for gather
    rewards = torch.from_numpy(batches.rewards).to(device)
    next_observations = torch.from_numpy(batches.next_observations).to(device)
    terminated = torch.from_numpy(batches.terminated).to(device)
    with torch.no_grad():  # the target is a constant: no gradient flows into θ⁻
        all_targets = td_target(rewards, target_network(next_observations), terminated, gamma)

    parameters = list(q_network.parameters())
    losses = torch.zeros(len(observations), device=device)  # kept on the device: no host sync per step
    for k in range(len(observations)):
        # 1. forward: Q_θ(s, a) for the actions that were taken
        q_taken = q_network(observations[k]).gather(1, actions[k]).squeeze(1)
        # 2. loss: how far Q_θ(s, a) is from the TD target
        loss_value = td_loss(q_taken, all_targets[k], loss)
        # 3. gradients ("rétropropagation")
        loss_value.backward()
        if max_grad_norm > 0:  # a rare huge TD error must not throw the network far away
            nn.utils.clip_grad_norm_(parameters, max_grad_norm, foreach=True)
        # 4. update ("descente de gradient", with Adam), then zero the gradients: they accumulate
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
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


# --- The training state: what a checkpoint saves and a resume restores -----------------------------------
@dataclass
class DQNState:
    """Everything training changes, in one place; ``state_dict`` / ``load_state_dict`` as in PyTorch.

    Checkpoints are taken at episode ends, where the next step starts a new episode: the environment's
    physics need not be saved, only its generators (the next start state, the random actions). Restoring
    all of this makes a resumed run take exactly the steps the uninterrupted one took.
    """

    q_network: QNetwork
    """Q_θ, the network that learns"""
    target_network: QNetwork
    """Q_θ⁻, the copy that gives the TD targets"""
    optimizer: torch.optim.Optimizer
    """Adam, with its moment estimates"""
    buffer: ReplayBuffer
    """the replay buffer, with its sampling generator"""
    env: gym.Env[Any, Any]
    """the training environment (its generator and its action space's are part of the state)"""
    explore_rng: np.random.Generator
    """the ε coin: explore or exploit"""
    best_state: dict[str, torch.Tensor]
    """the weights of the best-evaluated Q-network so far (the kept model)"""
    best_eval: float = -math.inf
    """its evaluation's mean return (−∞ before the first evaluation)"""
    step: int = 0
    """environment steps taken so far"""
    episodes: list[EpisodeRecord] = field(default_factory=list)
    """the training episodes so far"""
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    """the greedy evaluations so far"""

    @classmethod
    def create(cls, config: DQNConfig, device: torch.device) -> DQNState:
        """A fresh start. Seeding: one call, then generators derived from the same seed."""
        seed_everything(config.seed)
        explore_seed, buffer_seed = np.random.SeedSequence(config.seed).spawn(2)
        explore_rng = np.random.default_rng(explore_seed)
        env, observation_size, num_actions = make_dqn_env(config.env)
        env.action_space.seed(config.seed)  # the random actions
        q_network = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
        target_network = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
        target_network.load_state_dict(q_network.state_dict())
        target_network.requires_grad_(False)
        buffer_seed_int = int(buffer_seed.generate_state(1)[0])
        return cls(
            q_network=q_network,
            target_network=target_network,
            optimizer=make_optimizer("adam", q_network.parameters(), config.lr),  # PyTorch's ε, 1e-8
            buffer=ReplayBuffer(config.buffer_size, (observation_size,), seed=buffer_seed_int),
            env=env,
            explore_rng=explore_rng,
            best_state=copy_weights(q_network),
        )

    def state_dict(self) -> dict[str, Any]:
        """The state as tensors and plain data, so that a checkpoint loads with ``weights_only=True``."""
        buffer = {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
            for k, v in self.buffer.state_dict().items()
        }
        return {
            "step": self.step,
            "q_network": self.q_network.state_dict(),
            "target_network": self.target_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": buffer,
            "env_rng": self.env.unwrapped.np_random.bit_generator.state,
            "action_space_rng": self.env.action_space.np_random.bit_generator.state,
            "explore_rng": self.explore_rng.bit_generator.state,
            "best_state": self.best_state,
            "best_eval": self.best_eval,
            "episodes": [dataclasses.asdict(record) for record in self.episodes],
            "evaluations": [dataclasses.asdict(record) for record in self.evaluations],
        }

    def check_state_dict(self, state: Any, where: str = "the checkpoint") -> None:
        """Raise a one-line :class:`UsageError` unless ``state`` is what :meth:`state_dict` gives for this
        config: every field present, of its type and shape, nothing else. Nothing is changed."""
        network = module_state(self.q_network)
        observation = tuple(self.buffer.observations.shape[1:])
        rows = TensorSpec((None, *observation), torch.float32)
        flags = TensorSpec((None,), torch.float32)
        records = {
            cls: {f.name: int if f.type in ("int", int) else float for f in dataclasses.fields(cls)}
            for cls in (EpisodeRecord, EvaluationRecord)
        }
        spec = {
            "step": IntIn(0),
            "q_network": network,
            "target_network": network,
            "optimizer": optimizer_state(self.optimizer),
            "buffer": {
                "observations": rows,
                "next_observations": rows,
                "actions": TensorSpec((None,), torch.int64),
                "rewards": flags,
                "terminated": flags,
                "truncated": flags,
                "position": IntIn(0, self.buffer.capacity - 1),
                "size": IntIn(0, self.buffer.capacity),
                "rng": Like(self.buffer.rng.bit_generator.state),
            },
            "env_rng": Like(self.env.unwrapped.np_random.bit_generator.state),
            "action_space_rng": Like(self.env.action_space.np_random.bit_generator.state),
            "explore_rng": Like(self.explore_rng.bit_generator.state),
            "best_state": network,
            "best_eval": float,
            "episodes": ListOf(records[EpisodeRecord]),
            "evaluations": ListOf(records[EvaluationRecord]),
        }
        check_structure(state, spec, where)
        buffer = state["buffer"]
        lengths = {len(buffer[name]) for name in ("observations", "next_observations", "actions", "rewards")}
        if lengths != {buffer["size"]} or {len(buffer["terminated"]), len(buffer["truncated"])} != lengths:
            raise UsageError(
                f"{where}: its replay buffer's arrays do not all hold its size, {buffer['size']}"
            )

    def load_state_dict(self, state: dict[str, Any], where: str = "the checkpoint") -> None:
        """Restore what :meth:`state_dict` returned (into a state created from the same config), after
        :meth:`check_state_dict`: a checkpoint that does not fit is refused in one line."""
        self.check_state_dict(state, where)
        try:
            self.q_network.load_state_dict(state["q_network"])
            self.target_network.load_state_dict(state["target_network"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.buffer.load_state_dict(
                {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state["buffer"].items()}
            )
            self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]
            self.env.action_space.np_random.bit_generator.state = state["action_space_rng"]
            self.explore_rng.bit_generator.state = state["explore_rng"]
        except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
            message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"{where}: the checkpoint does not fit this DQN config ({message})") from exc
        self.best_state = dict(state["best_state"])
        self.best_eval = float(state["best_eval"])
        self.step = int(state["step"])
        self.episodes = [EpisodeRecord(**record) for record in state["episodes"]]
        self.evaluations = [EvaluationRecord(**record) for record in state["evaluations"]]


def check_checkpoint(checkpoint: dict[str, Any], config: DQNConfig, where: str) -> None:
    """Raise a one-line :class:`UsageError` unless ``checkpoint`` resumes a run of ``config``: its
    structure (:meth:`DQNState.check_state_dict`), then a trial load into a fresh state. For the callers
    that must know before they write anything (``--resume`` rewrites config.json)."""
    trial = DQNState.create(config, torch.device("cpu"))
    try:
        trial.load_state_dict(checkpoint, where)
    finally:
        trial.env.close()


# --- What a run returns ----------------------------------------------------------------------------------
@dataclass
class DQNResult:
    """What :func:`train_dqn` returns; :func:`drlab.rl.runs.train_run` writes it as a run folder."""

    q_network: QNetwork
    """the Q-network at the end of training"""
    best_state: dict[str, torch.Tensor]
    """the weights of the kept model (the best-evaluated Q-network; the final one without evaluations)"""
    episodes: list[EpisodeRecord]
    """every training episode of the run"""
    evaluations: list[EvaluationRecord]
    """every greedy evaluation of the run"""
    metrics: RunMetrics
    """the final figures"""


# --- The training loop -----------------------------------------------------------------------------------
def train_dqn(
    config: DQNConfig,
    *,
    resume_from: dict[str, Any] | None = None,
    on_checkpoint: Callable[[DQNState], None] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DQNResult:
    """Train a DQN agent as ``config`` says; return the networks, the records and the final figures.

    ``on_checkpoint(state)`` is called at an episode end every ``checkpoint_freq`` steps, and at the end;
    ``resume_from`` (what ``state.state_dict()`` returned there) continues exactly where it was taken.
    This function writes no file: :func:`drlab.rl.runs.train_run` gives it a run folder.
    """
    config.check()
    device = resolve_device(config.device)
    with torch_threads(config.num_threads):
        state = DQNState.create(config, device)
        if resume_from is not None:
            state.load_state_dict(resume_from)  # checked first: a checkpoint that does not fit is one line
            if log:
                log(f"resuming at step {state.step:,}")
        return _train(config, state, device, on_checkpoint, progress, log)


def _train(
    config: DQNConfig,
    state: DQNState,
    device: torch.device,
    on_checkpoint: Callable[[DQNState], None] | None,
    progress: bool,
    log: Callable[[str], None] | None,
) -> DQNResult:
    from tqdm.auto import tqdm

    env, q_network, target_network = state.env, state.q_network, state.target_network
    start_step, exploration_steps = state.step, int(config.exploration_fraction * config.total_steps)
    final_lr = config.lr * config.final_lr_fraction
    next_checkpoint = (start_step // config.checkpoint_freq + 1) * config.checkpoint_freq
    bar = tqdm(total=config.total_steps, initial=start_step, disable=not progress, unit="step", leave=False)
    needs_reset, q_changed, losses = True, True, torch.zeros(0)
    eval_seconds = checkpoint_seconds = 0.0
    started = time.perf_counter()
    for step in range(start_step, config.total_steps):
        if needs_reset:  # a new episode (the run's first one starts from the run's seed)
            observation, _ = env.reset(seed=config.seed if step == 0 else None)
            episode_return, episode_length, needs_reset = 0.0, 0, False

        # --- act ε-greedily: explore with probability ε, else take argmax_a Q_θ(s, a); store the transition ---
        epsilon = linear_schedule(config.epsilon_start, config.epsilon_end, exploration_steps, step)
        if step < config.learning_starts or state.explore_rng.random() < epsilon:
            action = int(env.action_space.sample())
        else:
            with torch.inference_mode():
                action = int(q_network(torch.from_numpy(observation).to(device)).argmax())
        next_observation, reward, terminated, truncated, _ = env.step(action)
        # next_observation is the true last observation even when the episode ended (gymnasium ≥ 1.0)
        state.buffer.add(observation, action, float(reward), next_observation, terminated, truncated)
        observation, state.step = next_observation, step + 1
        episode_return, episode_length = episode_return + float(reward), episode_length + 1
        if terminated or truncated:
            state.episodes.append(EpisodeRecord(step + 1, episode_return, episode_length))
            needs_reset = True

        # --- the target network follows the Q-network every target_update_interval steps ---
        # Counted in environment steps, as SB3 and cleanrl count them: the zoo's "10" with train_freq 256
        # re-synchronises θ⁻ before every training phase and freezes it during the phase's 128 gradient
        # steps (which is what lets train_phase compute all 128 batches' targets in one pass).
        if (step + 1) % config.target_update_interval == 0 and (q_changed or config.tau < 1.0):
            update_target(target_network, q_network, config.tau)
            q_changed = False

        # --- a training phase: gradient_steps mini-batches sampled at once; the learning rate decays ---
        if (step + 1) % config.train_freq == 0 and step + 1 > config.learning_starts:
            lr = linear_schedule(config.lr, final_lr, config.total_steps, step + 1)
            set_learning_rate(state.optimizer, lr)
            batches = state.buffer.sample(config.batch_size, num_batches=config.gradient_steps)
            losses = train_phase(
                q_network, target_network, state.optimizer, batches,
                gamma=config.gamma, loss=config.loss, max_grad_norm=config.max_grad_norm, device=device,
            )  # fmt: skip
            q_changed = True

        # --- greedy evaluation on separate environments; keep the best model ---
        if config.eval_freq > 0 and (step + 1) % config.eval_freq == 0:
            eval_started = time.perf_counter()
            seed = config.seed + SELECTION_SEED_OFFSET
            evaluation = evaluate_greedy(q_network, config.env, config.eval_episodes, seed, device)
            lengths = float(evaluation.lengths.mean())
            state.evaluations.append(EvaluationRecord(step + 1, evaluation.mean, evaluation.std, lengths))
            if evaluation.mean >= state.best_eval:  # ties go to the later, longer-trained model
                state.best_eval, state.best_state = evaluation.mean, copy_weights(q_network)
            if log:
                loss_text = f"{float(losses.mean()):.4f}" if len(losses) else "-"
                log(
                    f"step {step + 1:>7,}  ε {epsilon:.3f}  loss {loss_text:>6}  "
                    f"eval {evaluation.mean:6.1f} ± {evaluation.std:5.1f}  best {state.best_eval:6.1f}"
                )
            eval_seconds += time.perf_counter() - eval_started

        # --- checkpoint at an episode end, so that a resume continues exactly ---
        if on_checkpoint is not None and needs_reset and step + 1 >= next_checkpoint:
            checkpoint_started = time.perf_counter()
            on_checkpoint(state)
            next_checkpoint = ((step + 1) // config.checkpoint_freq + 1) * config.checkpoint_freq
            checkpoint_seconds += time.perf_counter() - checkpoint_started
        if (step + 1) % 256 == 0:
            bar.update(step + 1 - bar.n)
    bar.close()
    if on_checkpoint is not None:  # the end, as it is (a later resume with more steps starts a new episode)
        checkpoint_started = time.perf_counter()
        on_checkpoint(state)
        checkpoint_seconds += time.perf_counter() - checkpoint_started
    seconds = time.perf_counter() - started
    env.close()
    return _finish(config, state, device, start_step, (seconds, eval_seconds, checkpoint_seconds))


def _finish(
    config: DQNConfig,
    state: DQNState,
    device: torch.device,
    start_step: int,
    timing: tuple[float, float, float],
) -> DQNResult:
    """Keep the best model (the final one if nothing was evaluated), measure it on held-out start states,
    and compute every figure of ``metrics.json`` (:func:`drlab.rl.evaluate.final_metrics`)."""
    kept = None
    if state.evaluations:
        kept = copy.deepcopy(state.q_network)  # a network of the same shape, for the kept weights
        kept.load_state_dict(state.best_state)
    else:
        state.best_state = copy_weights(state.q_network)
    metrics = final_metrics(
        config.env, kept, state.q_network, state.evaluations, eval_episodes=config.eval_episodes,
        steps=state.step, start_step=start_step, episodes=len(state.episodes), timing=timing, device=device,
    )  # fmt: skip
    return DQNResult(state.q_network, state.best_state, state.episodes, state.evaluations, metrics)
