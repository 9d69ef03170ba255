"""Proximal policy optimisation (PPO, Schulman et al. 2017), clipped surrogate objective, top to bottom.

A2C (:mod:`drlab.rl.a2c`) takes one gradient step per rollout: its data, collected at a cost, serve
once. Taking many steps on the same rollout would move π_θ far from the policy π_old that collected it,
and the policy gradient estimated with π_old's samples would no longer hold. PPO takes several epochs of
mini-batch steps, but removes the incentive to move far: with the probability ratio
``r_t(θ) = π_θ(a_t|s_t) / π_old(a_t|s_t)`` and the advantage ``A_t``, it maximises ::

    L^CLIP(θ) = E_t[ min( r_t A_t , clip(r_t, 1 − ε, 1 + ε) A_t ) ]

When an action turned out better than expected (A > 0), raising its probability pays only until
r = 1 + ε; when worse (A < 0), lowering it pays only until r = 1 − ε. Beyond, the objective is flat: the
gradient of that sample is zero (the tests check it). The value network learns the GAE returns; an
entropy bonus keeps the policy exploring.

**The 13 core details** of "The 37 Implementation Details of PPO" (Huang et al., ICLR blog track 2022),
each named in a comment where it is done:

1. vectorised environments — :func:`drlab.rl.rollout.collect_rollout`, :mod:`drlab.rl.vecenv`
2. orthogonal initialisation, constant biases — :func:`drlab.rl.policies.mlp`
3. Adam's ε = 1e-5 — :meth:`drlab.rl.rollout.PolicyGradientState.create`
4. learning-rate annealing — :func:`train`
5. GAE (with bootstrapping on truncation) — :func:`drlab.rl.rollout.gae`
6. mini-batch updates — :func:`ppo_update`
7. advantage normalisation — :func:`ppo_update`
8. the clipped surrogate objective — :func:`clipped_surrogate_loss`
9. value-loss clipping — :func:`value_loss`
10. overall loss with an entropy bonus — :func:`ppo_update`
11. global gradient clipping — :func:`ppo_update`
12. debug variables: approx_kl, clip fraction, explained variance — :func:`ppo_update`, ``updates.csv``
13. separate policy and value networks — :class:`drlab.rl.policies.ActorCritic`

Continuous actions (Pendulum): a Gaussian policy with a state-independent log σ
(:class:`~drlab.rl.policies.ActorCritic`), actions clipped to the space for the environment only,
observations normalised and rewards scaled by running statistics that the checkpoint saves
(:mod:`drlab.rl.rollout`).

Read in this order: the two losses, one update (:func:`ppo_update`), then :func:`train`, the loop. The
hyperparameters are :class:`PPOConfig` (defaults: the rl-zoo's CartPole-v1 settings; ``PPOConfig.for_env``
gives LunarLander's, Acrobot's, Pendulum's). This file writes no file: :func:`drlab.rl.runs.train_run`
gives a run its folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from drlab.common.device import resolve_device
from drlab.rl.config import PPOConfig
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

__all__ = ["PPOConfig", "clipped_surrogate_loss", "ppo_update", "train", "value_loss"]


# --- The two losses ----------------------------------------------------------------------------------------
def clipped_surrogate_loss(ratio: torch.Tensor, advantages: torch.Tensor, clip_range: float) -> torch.Tensor:
    """Core detail 8: −E[min(r A, clip(r, 1 − ε, 1 + ε) A)], the clipped objective to *minimise*."""
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range) * advantages
    return -torch.min(unclipped, clipped).mean()


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip_range: float | None
) -> torch.Tensor:
    """The critic's squared error to the returns; core detail 9: with ``clip_range``, its change from the
    rollout's estimate is clipped to ±ε too, and the larger of the two errors is taken (as OpenAI's code).

    Mean squared error as SB3 writes it (no ½: the zoo's vf_coef were tuned with this scale).
    """
    unclipped = (values - returns) ** 2
    if clip_range is None:
        return unclipped.mean()
    clipped_values = old_values + (values - old_values).clamp(-clip_range, clip_range)
    return torch.max(unclipped, (clipped_values - returns) ** 2).mean()


# --- One update: n_epochs passes over the rollout in shuffled mini-batches ---------------------------------
def ppo_update(
    state: PolicyGradientState,
    rollout: Rollout,
    advantages: np.ndarray,
    returns: np.ndarray,
    config: PPOConfig,
    clip_range: float,
    device: torch.device,
) -> dict[str, float]:
    """Take ``n_epochs`` × (rollout size / batch_size) gradient steps; return the update's figures."""
    agent, optimizer = state.agent, state.optimizer

    observations, actions = flat(rollout.observations, device), flat(rollout.actions, device)
    # the per-sample numbers in one tensor: shuffling it is one gather instead of four
    columns = (rollout.log_probs, rollout.values, advantages, returns)
    numbers = torch.stack([flat(column, device) for column in columns], 1)
    for _ in range(config.n_epochs):
        order = torch.from_numpy(state.batch_rng.permutation(len(observations))).to(device)
        shuffled = observations[order], actions[order], numbers[order]
        # core detail 6: mini-batches, a new random split of the rollout at every epoch
        batches = zip(*(t.split(config.batch_size) for t in shuffled), strict=True)
        for batch_obs, batch_actions, batch_numbers in batches:
            old_log_probs, old_values, batch_advantages, batch_returns = batch_numbers.unbind(1)
            # 1. forward: the new policy's log π_θ(a|s) (and entropy, if it is rewarded), and V(s)
            if config.ent_coef > 0:
                log_probs, entropy = agent.log_prob_entropy(batch_obs, batch_actions)
            else:  # (the entropy is measured once after the update instead: see below)
                log_probs = agent.log_prob(batch_obs, batch_actions)
            ratio = (log_probs - old_log_probs).exp()
            if config.normalize_advantage and len(batch_advantages) > 1:  # core detail 7, per mini-batch
                batch_advantages = (batch_advantages - batch_advantages.mean()) / (
                    batch_advantages.std() + 1e-8
                )
            # 2. loss: core detail 10, the clipped objective + the value loss − the entropy bonus
            policy_loss = clipped_surrogate_loss(ratio, batch_advantages, clip_range)
            value_clip = clip_range if config.clip_value_loss else None
            critic_loss = value_loss(agent.value(batch_obs), old_values, batch_returns, value_clip)
            loss = policy_loss + config.vf_coef * critic_loss
            if config.ent_coef > 0:  # (a zero bonus would still cost its forward and backward passes)
                loss = loss - config.ent_coef * entropy.mean()
            # 3. gradients, clipped to a global norm (core detail 11); 4. update
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm, foreach=True)
            optimizer.step()
    # core detail 12, the debug figures, of the whole update: how far the policy moved from π_old
    # (KL(π_old ‖ π_θ) ≈ E[(r − 1) − log r], Schulman's estimator), the share of clipped ratios, the
    # entropy, and how much of the returns the critic explained before the update
    with torch.no_grad():
        log_probs, entropy = agent.log_prob_entropy(observations, actions)
        log_ratio = log_probs - numbers[:, 0]
        ratio = log_ratio.exp()
        approx_kl = ((ratio - 1.0) - log_ratio).mean().item()
        clip_fraction = ((ratio - 1.0).abs() > clip_range).float().mean().item()
    return {
        "policy_loss": policy_loss.item(),  # of the last mini-batch, as cleanrl logs them
        "value_loss": critic_loss.item(),
        "entropy": entropy.mean().item(),
        "approx_kl": approx_kl,
        "clip_fraction": clip_fraction,
        "explained_variance": explained_variance(rollout.values.ravel(), returns.ravel()),
    }


# --- The training loop --------------------------------------------------------------------------------------
def train(
    config: PPOConfig,
    *,
    resume_from: dict[str, Any] | None = None,
    on_checkpoint: Callable[[PolicyGradientState], None] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> PolicyGradientResult:
    """Train a PPO agent as ``config`` says; return the networks, the records and the final figures.

    ``on_checkpoint(state)`` is called every ``checkpoint_freq`` steps between updates, and at the end;
    ``resume_from`` (what ``state.state_dict()`` returned there) continues exactly where it was taken.
    """
    from tqdm.auto import tqdm

    config.check()
    device = resolve_device(config.device)
    with torch_threads(config.num_threads):
        state = PolicyGradientState.create(config, device)
        if resume_from is not None:
            resume_state(state, resume_from, "PPO")
            if log:
                log(f"resuming at step {state.step:,}")
        books = Books(start_step=state.step)
        bar = tqdm(
            total=config.total_steps, initial=state.step, disable=not progress, unit="step", leave=False
        )
        while state.step < config.total_steps:
            steps_before = state.step
            # core detail 4: the learning rate (and, as the zoo does for CartPole, ε) fall linearly to 0
            remaining = 1.0 - state.step / config.total_steps
            lr = config.lr * remaining if config.anneal_lr else config.lr
            set_learning_rate(state.optimizer, lr)
            clip_range = config.clip_range * remaining if config.anneal_clip_range else config.clip_range

            # --- collect: n_steps steps of every copy with the current policy π_old ---
            rollout = collect_rollout(state, config.n_steps, device)

            # --- advantages by GAE(λ); the critic's targets are advantages + values ---
            advantages = gae(
                rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.ended,
                config.gamma, config.gae_lambda,
            )  # fmt: skip
            returns = advantages + rollout.values

            # --- update: n_epochs passes of mini-batch steps on the clipped objective ---
            figures = ppo_update(state, rollout, advantages, returns, config, clip_range, device)
            state.updates.append(UpdateRecord(step=state.step, lr=lr, **figures))

            # --- evaluate greedily (keep the best model) and checkpoint, every so many steps ---
            after_update(state, config, books, (steps_before, state.step), device, on_checkpoint, log)
            bar.update(state.step - bar.n)
        bar.close()
        return finish(config, state, device, books, on_checkpoint)
