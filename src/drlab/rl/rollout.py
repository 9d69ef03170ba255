"""What REINFORCE, A2C and PPO share: the training state, the rollout, GAE(λ), reward scaling, the books.

**The rollout.** Every ``n_steps`` steps of ``num_envs`` copies of the environment, the policy's
transitions are stored as arrays shaped ``(n_steps, num_envs, ...)``: the observations (as the networks
saw them), the actions sampled from π_θ, their log-probabilities, the values V(s), the rewards, and the
two ways an episode ends, kept apart:

- **terminated**: the MDP ended (the pole fell, the lander crashed): the state after has no value;
- **truncated**: a time limit cut the episode (CartPole stops at 500 steps): the state reached still has
  a future, so the return *bootstraps* on it, ``r + γ V(s_final)``, with the true last observation
  (gymnasium's ``info["final_obs"]``), not the first observation of the next episode.

``next_values[t]`` is V of the state after step t: ``values[t + 1]`` within an episode, V(final
observation) on truncation, V of the observation where the rollout stopped at its last step.

**GAE(λ)** (Schulman et al., 2016), computed backward (:func:`gae`)::

    δ_t = r_t + γ (1 − terminated_t) V(s_{t+1}) − V(s_t)          the one-step TD error
    A_t = δ_t + γ λ (1 − ended_t) A_{t+1}                          ended = terminated or truncated

λ = 0 gives the one-step TD error, λ = 1 the Monte-Carlo return minus V (bootstrapped where the
rollout or a time limit cut the episode); the tests check both against their textbook definitions.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from drlab.common.optim import make_optimizer
from drlab.common.seeding import capture_rng_states, restore_rng_states, seed_everything
from drlab.rl.config import PolicyGradientConfig
from drlab.rl.evaluate import final_metrics
from drlab.rl.policies import ActorCritic, RunningMeanStd
from drlab.rl.records import EpisodeRecord, EvaluationRecord, RunMetrics, UpdateRecord
from drlab.rl.training import NO_EVALUATION, Books, copy_weights, crossed, evaluate_and_keep
from drlab.rl.vecenv import check_policy_env, episode_statistics, make_vector_env, restore_envs, snapshot_envs

Array = NDArray[np.float32]


# --- GAE(λ): advantages computed backward through the rollout ----------------------------------------
def gae(
    rewards: Array,
    values: Array,
    next_values: Array,
    terminated: Array,
    ended: Array,
    gamma: float,
    gae_lambda: float,
) -> Array:
    """Core detail 5 of PPO: the GAE(λ) advantages of a rollout (arrays shaped ``(T, N)``); see the module's docstring.

    The returns the critic learns are ``advantages + values``.
    """
    advantages = np.zeros_like(rewards)
    following = np.zeros_like(rewards[0])  # A_{t+1}: 0 after the rollout's last step
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        following = delta + gamma * gae_lambda * (1.0 - ended[t]) * following
        advantages[t] = following
    return advantages


def flat(array: NDArray[Any], device: torch.device) -> torch.Tensor:
    """A rollout's array ``(n_steps, num_envs, ...)`` as one batch ``(n_steps · num_envs, ...)`` on ``device``."""
    return torch.from_numpy(array.reshape(-1, *array.shape[2:])).to(device)


def explained_variance(predicted: NDArray[Any], target: NDArray[Any]) -> float:
    """1 − Var(target − predicted) / Var(target): how much of the returns the critic explains (nan if flat).

    Written with sums rather than ``np.var``, whose overhead is measurable at A2C's one update per 40 steps.
    """

    def variance(x: NDArray[Any]) -> float:
        centred = x - x.sum() / x.size
        return float((centred * centred).sum()) / x.size

    target = np.asarray(target, dtype=np.float64).ravel()
    spread = variance(target)
    return float("nan") if spread == 0 else 1.0 - variance(target - np.asarray(predicted).ravel()) / spread


# --- Reward scaling -----------------------------------------------------------------------------------
class RewardScaler:
    """Divide each reward by the running standard deviation of the discounted return (as SB3's VecNormalize).

    Rewards of very different scales (Acrobot's −1 per step, Pendulum's −16 to 0) then reach the critic at
    a similar scale. The return's *mean* is not removed: that would change which actions are good.
    """

    def __init__(self, num_envs: int, gamma: float) -> None:
        self.gamma = gamma
        self.returns = np.zeros(num_envs)  # the discounted return so far of each copy's episode
        self.rms = RunningMeanStd(())

    def __call__(self, rewards: NDArray[Any], ended: NDArray[np.bool_]) -> Array:
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(torch.from_numpy(self.returns))
        scaled = np.clip(rewards / np.sqrt(self.rms.var.item() + 1e-8), -10.0, 10.0)
        self.returns[ended] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"returns": torch.from_numpy(self.returns.copy()), "rms": self.rms.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns = state["returns"].numpy().astype(np.float64)
        self.rms.load_state_dict(state["rms"])


# --- The training state: what a checkpoint saves and a resume restores --------------------------------
@dataclass
class PolicyGradientState:
    """Everything training changes, in one place; ``state_dict`` / ``load_state_dict`` as in PyTorch.

    Checkpoints are taken between updates, with the episodes in flight: the environments are saved as
    their episodes' starts and actions (:mod:`drlab.rl.vecenv`), the rest as tensors and plain data.
    """

    agent: ActorCritic
    """the policy and value networks (with the observations' running statistics)"""
    optimizer: torch.optim.Optimizer
    """the optimizer, with its moment estimates"""
    envs: Any
    """the copies of the environment (a gymnasium VectorEnv)"""
    observations: Array
    """the copies' current observations, as the environment gave them"""
    reward_scaler: RewardScaler | None
    """the running statistics of the discounted return, when rewards are scaled"""
    batch_rng: np.random.Generator
    """the order of the mini-batches"""
    best_state: dict[str, torch.Tensor]
    """the weights of the best-evaluated agent so far (the kept model)"""
    continuous: bool
    """whether actions are continuous (a Box) rather than discrete"""
    best_eval: float = NO_EVALUATION
    """its evaluation's mean return (−∞ before the first evaluation)"""
    step: int = 0
    """environment steps taken so far, over all copies"""
    episodes: list[EpisodeRecord] = field(default_factory=list)
    """the training episodes so far"""
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    """the greedy evaluations so far"""
    updates: list[UpdateRecord] = field(default_factory=list)
    """the updates so far, with their debug figures"""

    @classmethod
    def create(
        cls,
        config: PolicyGradientConfig,
        device: torch.device,
        optimizer_kind: Literal["adam", "rmsprop"] = "adam",
    ) -> PolicyGradientState:
        """A fresh start. Seeding: one call, then generators derived from the same seed."""
        seed_everything(config.seed)
        envs = make_vector_env(config.env, config.num_envs, asynchronous=config.vectorization == "async")
        observation_size, action_size, continuous = check_policy_env(
            envs.single_observation_space, envs.single_action_space, config.env
        )
        agent = ActorCritic.for_config(config, observation_size, action_size, continuous).to(device)
        observations, _ = envs.reset(seed=config.seed)  # copy i starts from reset(seed=seed + i)
        return cls(
            agent=agent,
            # ε = 1e-5 rather than PyTorch's 1e-8, as in PPO's and A2C's reference code (core detail 3)
            optimizer=make_optimizer(optimizer_kind, agent.parameters(), config.lr, eps=1e-5),
            envs=envs,
            observations=np.asarray(observations, dtype=np.float32),
            reward_scaler=RewardScaler(config.num_envs, config.gamma) if config.normalize_rewards else None,
            batch_rng=np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0]),
            best_state=copy_weights(agent),
            continuous=continuous,
        )

    def state_dict(self) -> dict[str, Any]:
        """The state as tensors and plain data, so that a checkpoint loads with ``weights_only=True``."""
        return {
            "step": self.step,
            "agent": self.agent.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "envs": snapshot_envs(self.envs),
            "observations": torch.from_numpy(self.observations.copy()),
            "reward_scaler": None if self.reward_scaler is None else self.reward_scaler.state_dict(),
            "rng": capture_rng_states(),
            "batch_rng": self.batch_rng.bit_generator.state,
            "best_state": self.best_state,
            "best_eval": self.best_eval,
            "episodes": [dataclasses.asdict(record) for record in self.episodes],
            "evaluations": [dataclasses.asdict(record) for record in self.evaluations],
            "updates": [dataclasses.asdict(record) for record in self.updates],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (into a state created from the same config)."""
        self.agent.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["reward_scaler"] is None) != (self.reward_scaler is None):
            raise ValueError("reward scaling differs between the checkpoint and the config")
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.observations = restore_envs(self.envs, state["envs"]).astype(np.float32)
        if not np.array_equal(self.observations, state["observations"].numpy()):
            raise ValueError("the environments replayed to other observations than the checkpoint's")
        restore_rng_states(state["rng"])
        self.batch_rng.bit_generator.state = state["batch_rng"]
        self.best_state = dict(state["best_state"])
        self.best_eval = float(state["best_eval"])
        self.step = int(state["step"])
        self.episodes = [EpisodeRecord(**record) for record in state["episodes"]]
        self.evaluations = [EvaluationRecord(**record) for record in state["evaluations"]]
        self.updates = [UpdateRecord(**record) for record in state["updates"]]


# --- The rollout: n_steps steps of every copy, with the policy as it is ---------------------------------
@dataclass
class Rollout:
    """The transitions of one rollout, arrays shaped ``(n_steps, num_envs, ...)`` (see the module)."""

    observations: Array
    actions: NDArray[Any]
    log_probs: Array
    values: Array
    rewards: Array
    next_values: Array
    terminated: Array
    ended: Array


@torch.inference_mode()  # acting needs no gradient: the update recomputes what it differentiates
def collect_rollout(state: PolicyGradientState, n_steps: int, device: torch.device) -> Rollout:
    """Step every copy ``n_steps`` times with actions sampled from π_θ; record the episodes that end.

    Core detail 1 of PPO: one forward pass chooses the actions of all ``num_envs`` copies at once.
    """
    agent, envs, num_envs = state.agent, state.envs, state.envs.num_envs
    observation_size = state.observations.shape[1]
    action_shape = envs.single_action_space.shape if state.continuous else ()
    observations = np.zeros((n_steps, num_envs, observation_size), dtype=np.float32)
    actions = np.zeros((n_steps, num_envs, *action_shape), dtype=np.float32 if state.continuous else np.int64)
    log_probs, values, rewards, terminated, ended, truncation_values = (
        np.zeros((n_steps, num_envs), dtype=np.float32) for _ in range(6)
    )
    truncated_at = np.zeros((n_steps, num_envs), dtype=bool)
    space = envs.single_action_space
    for t in range(n_steps):
        raw = torch.from_numpy(state.observations).to(device)
        if agent.obs_rms is not None:
            agent.obs_rms.update(raw)  # the running statistics follow every observation seen
        seen = agent.normalize(raw)
        action, log_prob = agent.sample(seen)
        log_probs[t], values[t] = log_prob.cpu().numpy(), agent.value(seen).cpu().numpy()
        observations[t], actions[t] = seen.cpu().numpy(), action.cpu().numpy()
        # continuous actions are clipped to the space's bounds for the environment only: the log-probability
        # stays that of the action sampled (clipping after sampling, as SB3 and cleanrl do)
        env_actions = np.clip(actions[t], space.low, space.high) if state.continuous else actions[t]
        next_observations, reward, done, cut, info = envs.step(env_actions)
        terminated[t], ended[t] = done, done | cut
        reward = np.asarray(reward, dtype=np.float64)
        rewards[t] = reward if state.reward_scaler is None else state.reward_scaler(reward, done | cut)
        if cut.any():  # bootstrap on truncation from the true last observation, not the next episode's first
            final = np.stack([info["final_obs"][i] for i in np.flatnonzero(cut)]).astype(np.float32)
            final_values = agent.value(agent.normalize(torch.from_numpy(final).to(device)))
            truncation_values[t, cut] = final_values.cpu().numpy()
            truncated_at[t] = cut
        state.step += num_envs
        for _, episode_return, length in episode_statistics(info):
            state.episodes.append(EpisodeRecord(state.step, episode_return, length))
        state.observations = np.asarray(next_observations, dtype=np.float32)
    # V of where the rollout stopped: the bootstrap of its last step
    last_values = agent.value(agent.normalize(torch.from_numpy(state.observations).to(device)))
    next_values = np.concatenate([values[1:], last_values.cpu().numpy()[None]])
    next_values = np.where(truncated_at, truncation_values, next_values).astype(np.float32)
    return Rollout(observations, actions, log_probs, values, rewards, next_values, terminated, ended)


# --- Between updates: evaluate, checkpoint; at the end: the final figures ------------------------------
@dataclass
class PolicyGradientResult:
    """What REINFORCE, A2C and PPO return; :func:`drlab.rl.runs.train_run` writes it as a run folder."""

    agent: ActorCritic
    """the networks at the end of training"""
    best_state: dict[str, torch.Tensor]
    """the weights of the kept model (the best-evaluated agent; the final one without evaluations)"""
    episodes: list[EpisodeRecord]
    """every training episode of the run"""
    evaluations: list[EvaluationRecord]
    """every greedy evaluation of the run"""
    updates: list[UpdateRecord]
    """every update of the run, with its losses and debug figures"""
    metrics: RunMetrics
    """the final figures"""


def after_update(
    state: PolicyGradientState,
    config: PolicyGradientConfig,
    books: Books,
    progress: tuple[int, int],
    device: torch.device,
    on_checkpoint: Callable[[PolicyGradientState], None] | None,
    log: Callable[[str], None] | None,
) -> None:
    """Every ``eval_freq`` a greedy evaluation (the best model is kept), every ``checkpoint_freq`` a
    checkpoint: whenever the update that just ended crossed a multiple of either. ``progress`` is the
    count (steps; REINFORCE: episodes) before and after the update."""
    before, after = progress
    if crossed(before, after, config.eval_freq):
        with books.evaluating():
            evaluation = evaluate_and_keep(
                state, state.agent, config.env, config.eval_episodes, config.seed, device
            )
        if log:
            last = state.updates[-1]
            recent = [e.episode_return for e in state.episodes[-20:]]
            log(
                f"step {state.step:>8,}  return {np.mean(recent) if recent else float('nan'):7.1f}  "
                f"eval {evaluation.mean:7.1f} ± {evaluation.std:5.1f}  best {state.best_eval:7.1f}  "
                f"entropy {last.entropy:.3f}  kl {last.approx_kl:.4f}  clip {last.clip_fraction:.3f}  "
                f"expl.var {last.explained_variance:.2f}"
            )
    if on_checkpoint is not None and crossed(before, after, config.checkpoint_freq):
        with books.checkpointing():
            on_checkpoint(state)


def finish(
    config: PolicyGradientConfig,
    state: PolicyGradientState,
    device: torch.device,
    books: Books,
    on_checkpoint: Callable[[PolicyGradientState], None] | None,
) -> PolicyGradientResult:
    """The last checkpoint, then the kept model (the final one if nothing was evaluated) measured on
    held-out start states, and every figure of ``metrics.json``."""
    if on_checkpoint is not None:  # the end, as it is: a later resume with a larger budget continues it
        with books.checkpointing():
            on_checkpoint(state)
    timing = books.timing()
    state.envs.close()
    kept = None
    if state.evaluations:
        kept = copy.deepcopy(state.agent)
        kept.load_state_dict(state.best_state)
    else:
        state.best_state = copy_weights(state.agent)
    metrics = final_metrics(
        config.env, kept, state.agent, state.evaluations, eval_episodes=config.eval_episodes,
        steps=state.step, start_step=books.start_step, episodes=len(state.episodes), timing=timing,
        device=device,
    )  # fmt: skip
    return PolicyGradientResult(
        state.agent, state.best_state, state.episodes, state.evaluations, state.updates, metrics
    )
