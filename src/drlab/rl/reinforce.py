"""REINFORCE (Williams, 1992): the Monte-Carlo policy gradient, with and without a baseline, top to bottom.

DQN learns values and acts greedily on them. A **policy-gradient** method learns the policy π_θ(a|s)
itself, a network whose output is a distribution over actions, and climbs the expected return
J(θ) = E_τ~π_θ[Σ_t γ^t r_t] along its gradient. The policy-gradient theorem writes that gradient as an
expectation over the episodes the policy plays, which the agent can estimate by playing ::

    ∇θ J = E_τ[ Σ_t ∇θ log π_θ(a_t|s_t) · G_t ]         G_t = Σ_{k≥t} γ^{k−t} r_k  (the return-to-go)

"Make the actions that were followed by a high return more likely." Only the rewards *after* an action
can be its consequence, hence the return-to-go G_t rather than the whole episode's return; the tests
check the estimate against the analytic gradient of a bandit.

**The baseline.** Any b(s_t) may be subtracted from G_t without changing the gradient's expectation
(E[∇ log π · b(s)] = 0), but a good one removes much of its variance: the learned value V_φ(s_t), trained
by least squares on the returns, turns G_t into the advantage G_t − V_φ(s_t) — "better or worse than
usual from here". ``--no-baseline`` trains without it, for the lesson's comparison.

The returns are Monte-Carlo: each update waits for ``num_envs`` whole episodes (played side by side,
one copy of the environment each), so REINFORCE counts its budget in **episodes**.

**Time limits.** CartPole stops every episode at 500 steps, balanced or not. Without a baseline the
return stops there: plain REINFORCE has no estimate of what would have followed. With one, the
return-to-go of a cut episode is completed with γ^{T−t} V_φ(s_T) (Pardo et al., 2018): otherwise the last
steps of a perfect episode would look worse than usual, and the policy would learn to avoid them.

Read in this order: the returns-to-go, the loss, playing a batch of episodes, the update, the loop. The
hyperparameters are :class:`ReinforceConfig`; the networks are :class:`drlab.rl.policies.ActorCritic`
(the critic serves as the baseline), the training state is shared with A2C and PPO.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from drlab.common.device import resolve_device
from drlab.rl.config import ReinforceConfig
from drlab.rl.records import EpisodeRecord, UpdateRecord
from drlab.rl.rollout import (
    PolicyGradientResult,
    PolicyGradientState,
    after_update,
    explained_variance,
    finish,
)
from drlab.rl.training import Books, resume_state, set_learning_rate, torch_threads

__all__ = ["ReinforceConfig", "policy_gradient_loss", "returns_to_go", "train"]


# --- The returns-to-go and the loss ---------------------------------------------------------------------------
def returns_to_go(
    rewards: Sequence[float] | NDArray[Any], gamma: float, bootstrap: float = 0.0
) -> NDArray[np.float32]:
    """G_t = r_t + γ G_{t+1} for one episode's rewards, computed backward; G after the last step is
    ``bootstrap`` (0 at a termination; V(s_final) when a time limit cut the episode, with a baseline)."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    following = bootstrap
    for t in reversed(range(len(rewards))):
        following = float(rewards[t]) + gamma * following
        returns[t] = following
    return returns


def policy_gradient_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """−E[log π_θ(a|s) · A]: its gradient is minus the policy-gradient estimate (A held constant)."""
    return -(log_probs * advantages.detach()).mean()


# --- Playing a batch of whole episodes -------------------------------------------------------------------------
@dataclass
class Episodes:
    """The transitions of a batch of complete episodes, concatenated (episode after episode)."""

    observations: torch.Tensor
    """(T, observation size): what the networks saw"""
    actions: torch.Tensor
    """(T,) or (T, action size): the actions sampled"""
    returns: torch.Tensor
    """(T,): the return-to-go of each step"""


def play_episodes(state: PolicyGradientState, config: ReinforceConfig, device: torch.device) -> Episodes:
    """One episode on each copy of the environment, side by side, with actions sampled from π_θ.

    A copy whose episode has ended keeps stepping with the others (a vector environment steps them all)
    until the last one ends; those extra steps are neither kept nor counted.
    """
    agent, envs, num_envs = state.agent, state.envs, state.envs.num_envs
    if state.updates:  # a fresh episode on every copy (the very first ones started from reset(seed=...))
        state.observations = np.asarray(envs.reset()[0], dtype=np.float32)
    space, running = envs.single_action_space, np.ones(num_envs, dtype=bool)
    observations: list[list[torch.Tensor]] = [[] for _ in range(num_envs)]
    actions: list[list[torch.Tensor]] = [[] for _ in range(num_envs)]
    rewards: list[list[float]] = [[] for _ in range(num_envs)]
    bootstraps = np.zeros(num_envs)  # V(s_final) of the episodes a time limit cut (with a baseline)
    while running.any():
        raw = torch.from_numpy(state.observations).to(device)
        if agent.obs_rms is not None:
            agent.obs_rms.update(raw[torch.from_numpy(running)])
        with torch.inference_mode():
            seen = agent.normalize(raw)
            action, _ = agent.sample(seen)
        env_actions = action.cpu().numpy()
        if state.continuous:  # clipped for the environment only; the log-probability is the sample's
            env_actions = np.clip(env_actions, space.low, space.high)
        next_observations, reward, terminated, truncated, info = envs.step(env_actions)
        for i in np.flatnonzero(running):
            observations[i].append(seen[i])
            actions[i].append(action[i])
            rewards[i].append(float(reward[i]))
            state.step += 1
            if terminated[i] or truncated[i]:
                running[i] = False
                state.episodes.append(EpisodeRecord(state.step, sum(rewards[i]), len(rewards[i])))
            if truncated[i] and not terminated[i] and config.baseline:
                final = torch.as_tensor(np.asarray(info["final_obs"][i], dtype=np.float32), device=device)
                with torch.inference_mode():
                    bootstraps[i] = agent.value(agent.normalize(final[None])).item()
        state.observations = np.asarray(next_observations, dtype=np.float32)
    return Episodes(
        observations=torch.cat([torch.stack(o) for o in observations]),
        actions=torch.cat([torch.stack(a) for a in actions]),
        returns=torch.from_numpy(
            np.concatenate(
                [returns_to_go(r, config.gamma, b) for r, b in zip(rewards, bootstraps, strict=True)]
            )
        ).to(device),
    )


# --- One update on a batch of episodes --------------------------------------------------------------------------
def reinforce_update(
    state: PolicyGradientState, episodes: Episodes, config: ReinforceConfig
) -> dict[str, float]:
    """One gradient step of the policy (and of the baseline); return the update's figures."""
    agent, optimizer = state.agent, state.optimizer
    # 1. forward: log π_θ(a_t|s_t) of the actions taken, the entropy, and the baseline V_φ(s_t)
    log_probs, entropies = agent.log_prob_entropy(episodes.observations, episodes.actions)
    entropy = entropies.mean()
    values = agent.value(episodes.observations) if config.baseline else torch.zeros_like(episodes.returns)
    # 2. loss: the advantage is G_t − V(s_t) (G_t alone without a baseline), standardised if asked
    advantages = episodes.returns - values.detach()
    if config.normalize_advantage and len(advantages) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = policy_gradient_loss(log_probs, advantages)
    value_loss = ((values - episodes.returns) ** 2).mean() if config.baseline else torch.zeros(())
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    # 3. gradients (clipped to a global norm); 4. update
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.max_grad_norm > 0:
        nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm, foreach=True)
    optimizer.step()
    returns = episodes.returns.cpu().numpy()
    return {
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": entropy.item(),
        "approx_kl": 0.0,
        "clip_fraction": 0.0,
        "explained_variance": explained_variance(values.detach().cpu().numpy(), returns)
        if config.baseline
        else 0.0,
    }


# --- The training loop ------------------------------------------------------------------------------------------
def train(
    config: ReinforceConfig,
    *,
    resume_from: dict[str, Any] | None = None,
    on_checkpoint: Callable[[PolicyGradientState], None] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> PolicyGradientResult:
    """Train a REINFORCE agent for ``config.episodes`` episodes; return the networks, records and figures.

    ``on_checkpoint`` is called every ``checkpoint_freq`` episodes and at the end; ``resume_from`` as in
    :func:`drlab.rl.ppo.train`.
    """
    from tqdm.auto import tqdm

    config.check()
    device = resolve_device(config.device)
    with torch_threads(config.num_threads):
        state = PolicyGradientState.create(config, device)
        if resume_from is not None:
            resume_state(state, resume_from, "REINFORCE")
            if log:
                log(f"resuming at episode {len(state.episodes):,}")
        books = Books(start_step=state.step)
        bar = tqdm(total=config.episodes, initial=len(state.episodes), disable=not progress, unit="episode")
        while len(state.episodes) < config.episodes:
            episodes_before = len(state.episodes)
            lr = config.lr * (1.0 - episodes_before / config.episodes) if config.anneal_lr else config.lr
            set_learning_rate(state.optimizer, lr)
            # --- play num_envs whole episodes with the current policy ---
            episodes = play_episodes(state, config, device)
            # --- one step along the policy gradient (and the baseline's regression) ---
            figures = reinforce_update(state, episodes, config)
            state.updates.append(UpdateRecord(step=state.step, lr=lr, **figures))
            after_update(
                state, config, books, (episodes_before, len(state.episodes)), device, on_checkpoint, log
            )
            bar.update(len(state.episodes) - bar.n)
        bar.close()
        return finish(config, state, device, books, on_checkpoint)
