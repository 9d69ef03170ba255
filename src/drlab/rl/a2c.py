"""Advantage actor-critic (A2C: the synchronous A3C of Mnih et al. 2016), top to bottom in one file.

REINFORCE (:mod:`drlab.rl.reinforce`) waits for the end of each episode to know its return, and that
Monte-Carlo return is noisy. An **actor-critic** learns a critic V_φ(s) and uses it to *bootstrap*:
after n steps of ``num_envs`` copies of the environment, the return of each step is completed with the
critic's estimate of what follows, and the actor is pushed along the **advantage** ::

    ∇θ J ≈ E_t[ ∇θ log π_θ(a_t|s_t) · A_t ]          A_t = GAE(λ) of the rollout
    loss = −E_t[log π_θ(a_t|s_t) A_t] + c_v E_t[(V_φ(s_t) − R_t)²] − c_e E_t[H(π_θ(·|s_t))]

With λ = 1 (the default, SB3's), ``A_t`` is the n-step return minus V(s_t); with λ = 0 the one-step TD
error; in between, GAE's exponentially weighted mix (:func:`drlab.rl.rollout.gae`). Each rollout serves
for one gradient step, then is thrown away: A2C is on-policy. PPO (:mod:`drlab.rl.ppo`) reuses it.

The rollout, GAE, the networks and the training state are shared with PPO (:mod:`drlab.rl.rollout`,
:mod:`drlab.rl.policies`); this file holds what is A2C's own: its loss, its update, its loop. The
hyperparameters are :class:`A2CConfig` (defaults: SB3's A2C — RMSprop, 5 steps — with the zoo's
CartPole-v1 settings; ``A2CConfig.for_env`` gives the zoo's LunarLander, Acrobot, Pendulum settings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from drlab.common.device import resolve_device
from drlab.rl.config import A2CConfig
from drlab.rl.records import UpdateRecord
from drlab.rl.rollout import (
    PolicyGradientResult,
    PolicyGradientState,
    Rollout,
    after_update,
    collect_rollout,
    explained_variance,
    finish,
    flat,
    gae,
)
from drlab.rl.training import Books, resume_state, set_learning_rate, torch_threads

__all__ = ["A2CConfig", "a2c_loss", "a2c_update", "train"]


def a2c_loss(
    log_probs: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    config: A2CConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total loss, policy loss, value loss): −E[log π A] + c_v E[(V − R)²] − c_e E[H]."""
    policy_loss = -(log_probs * advantages).mean()  # the advantages are constants: no gradient into V here
    value_loss = ((values - returns) ** 2).mean()
    loss = policy_loss + config.vf_coef * value_loss
    if config.ent_coef > 0:  # (a zero bonus would still cost its backward pass)
        loss = loss - config.ent_coef * entropy.mean()
    return loss, policy_loss, value_loss


def a2c_update(
    state: PolicyGradientState,
    rollout: Rollout,
    advantages: np.ndarray,
    returns: np.ndarray,
    config: A2CConfig,
    device: torch.device,
) -> dict[str, float]:
    """One gradient step on the whole rollout; return the update's figures."""
    agent, optimizer = state.agent, state.optimizer

    observations, actions = flat(rollout.observations, device), flat(rollout.actions, device)
    all_advantages, all_returns = flat(advantages, device), flat(returns, device)
    if config.normalize_advantage and len(all_advantages) > 1:
        all_advantages = (all_advantages - all_advantages.mean()) / (all_advantages.std() + 1e-8)
    # 1. forward: log π_θ(a|s) of the actions taken, the entropy, V_φ(s)
    log_probs, entropy = agent.log_prob_entropy(observations, actions)
    # 2. loss
    loss, policy_loss, value_loss = a2c_loss(
        log_probs, all_advantages, agent.value(observations), all_returns, entropy, config
    )
    # 3. gradients (clipped to a global norm); 4. update
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.max_grad_norm > 0:
        nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm, foreach=True)
    optimizer.step()
    return {
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": entropy.mean().item(),
        "approx_kl": 0.0,
        "clip_fraction": 0.0,
        "explained_variance": explained_variance(rollout.values.ravel(), returns.ravel()),
    }


def train(
    config: A2CConfig,
    *,
    resume_from: dict[str, Any] | None = None,
    on_checkpoint: Callable[[PolicyGradientState], None] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> PolicyGradientResult:
    """Train an A2C agent as ``config`` says; return the networks, the records and the final figures.

    ``on_checkpoint`` and ``resume_from`` as in :func:`drlab.rl.ppo.train`.
    """
    from tqdm.auto import tqdm

    config.check()
    device = resolve_device(config.device)
    with torch_threads(config.num_threads):
        state = PolicyGradientState.create(config, device, optimizer_kind=config.optimizer)
        if resume_from is not None:
            resume_state(state, resume_from, "A2C")
            if log:
                log(f"resuming at step {state.step:,}")
        books = Books(start_step=state.step)
        bar = tqdm(
            total=config.total_steps, initial=state.step, disable=not progress, unit="step", leave=False
        )
        while state.step < config.total_steps:
            steps_before = state.step
            lr = config.lr * (1.0 - state.step / config.total_steps) if config.anneal_lr else config.lr
            set_learning_rate(state.optimizer, lr)
            # --- collect n_steps steps of every copy; advantages by GAE(λ) (λ = 1: n-step returns) ---
            rollout = collect_rollout(state, config.n_steps, device)
            advantages = gae(
                rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.ended,
                config.gamma, config.gae_lambda,
            )  # fmt: skip
            returns = advantages + rollout.values
            # --- one gradient step on the whole rollout ---
            figures = a2c_update(state, rollout, advantages, returns, config, device)
            state.updates.append(UpdateRecord(step=state.step, lr=lr, **figures))
            after_update(state, config, books, (steps_before, state.step), device, on_checkpoint, log)
            if state.step - bar.n >= 1_000:  # the bar itself costs time at one update per 40 steps
                bar.update(state.step - bar.n)
        bar.close()
        return finish(config, state, device, books, on_checkpoint)
