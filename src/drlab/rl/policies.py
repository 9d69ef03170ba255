"""The networks of the policy-gradient algorithms (REINFORCE, A2C, PPO): a policy π_θ(a|s) and a value V_φ(s).

One class serves the three algorithms, since they learn the same two functions and differ only in the
loss: :class:`ActorCritic` holds

- the **actor**, an MLP from an observation to the parameters of a distribution over actions: the
  *logits* of a categorical distribution (discrete actions: CartPole, Acrobot, LunarLander), or the
  *mean* of a Gaussian whose log standard deviation is one learned number per action dimension, not a
  function of the state (continuous actions: Pendulum), as in PPO's paper and cleanrl;
- the **critic**, a separate MLP from an observation to one number, V(s) (REINFORCE's baseline, A2C's and
  PPO's critic). Separate, not a shared trunk: the 13th core detail of "The 37 Implementation Details of
  PPO" (Huang et al., 2022) — a shared trunk lets the value loss's scale disturb the policy;
- optionally, the running mean and variance of the observations (:class:`RunningMeanStd`), as buffers:
  they are saved with the weights, so that a saved model normalises its inputs exactly as in training.

Every linear layer starts from an orthogonal matrix with gain √2 and zero biases, the policy's last layer
with gain 0.01 (every action about equally likely at first) and the value's with gain 1 (core detail 2).

The two distributions are written out rather than taken from ``torch.distributions``: a categorical
distribution is a log-softmax over the logits; a Gaussian's log-density is
``−(a − μ)² / (2σ²) − log σ − ½ log 2π``. That is the math of the course, and fewer small operations on
the path that runs once per environment step and once per gradient step (the tests check both against
``torch.distributions``).

``forward(raw observations)`` is the *greedy* policy, what evaluation plays: the logits (their argmax is
the most likely action) or the Gaussian's mean. Training calls :meth:`ActorCritic.sample`,
:meth:`ActorCritic.log_prob_entropy` and :meth:`ActorCritic.value` on observations already normalised by
:meth:`ActorCritic.normalize`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from drlab.rl.config import PolicyGradientConfig


def mlp(
    input_size: int, hidden_sizes: Sequence[int], output_size: int, *, output_gain: float
) -> nn.Sequential:
    """An MLP with tanh between layers, every layer initialised orthogonally (core detail 2).

    Hidden layers get gain √2, the last one ``output_gain``; every bias starts at 0.
    """
    layers: list[nn.Module] = []
    width = input_size
    for hidden in hidden_sizes:
        layers += [_orthogonal(nn.Linear(width, hidden), math.sqrt(2)), nn.Tanh()]
        width = hidden
    layers.append(_orthogonal(nn.Linear(width, output_size), output_gain))
    return nn.Sequential(*layers)


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class RunningMeanStd(nn.Module):
    """The running mean and variance of a stream of batches (Chan et al.'s parallel update), as buffers.

    Observation normalisation divides each observation by the running standard deviation after removing
    the running mean; reward scaling divides each reward by the running standard deviation of the
    discounted return (see :class:`drlab.rl.rollout.RewardScaler`). Float64, so that a long run's
    millions of updates do not drift.
    """

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))  # as SB3: no division by 0

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Merge the moments of ``batch`` (shape ``(B, *shape)``) into the running ones."""
        batch = batch.to(torch.float64)
        batch_mean, batch_var, batch_count = batch.mean(0), batch.var(0, unbiased=False), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        self.var.copy_(
            (self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total)
            / total
        )
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        """``(x − mean) / √(var + 1e-8)``, clipped to ±``clip``, in ``x``'s dtype."""
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-clip, clip).to(x.dtype)


class ActorCritic(nn.Module):
    """π_θ(a|s) (the actor) and V_φ(s) (the critic), two separate MLPs; see the module's docstring."""

    def __init__(
        self,
        observation_size: int,
        action_size: int,
        *,
        continuous: bool,
        hidden_sizes: Sequence[int] = (64, 64),
        normalize_observations: bool = False,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.continuous = continuous
        # discrete: one logit per action; continuous: the mean of each action dimension
        self.actor = mlp(observation_size, hidden_sizes, action_size, output_gain=0.01)
        self.critic = mlp(observation_size, hidden_sizes, 1, output_gain=1.0)
        # continuous: log σ, one learned number per action dimension, the same in every state
        self.log_std = nn.Parameter(torch.full((action_size,), log_std_init)) if continuous else None
        self.obs_rms = RunningMeanStd((observation_size,)) if normalize_observations else None

    @classmethod
    def for_config(
        cls, config: PolicyGradientConfig, observation_size: int, action_size: int, continuous: bool
    ) -> ActorCritic:
        """The actor-critic ``config`` trains (its hidden sizes, observation normalisation, initial log σ)."""
        return cls(
            observation_size,
            action_size,
            continuous=continuous,
            hidden_sizes=config.hidden_sizes,
            normalize_observations=config.normalize_observations,
            log_std_init=config.log_std_init,
        )

    def normalize(self, raw_observations: torch.Tensor) -> torch.Tensor:
        """The observations as the networks see them: normalised by the running statistics, if kept."""
        return raw_observations if self.obs_rms is None else self.obs_rms.normalize(raw_observations)

    def value(self, observations: torch.Tensor) -> torch.Tensor:
        """V_φ(s) for a batch of (normalised) observations, shape ``(B,)``."""
        return self.critic(observations).squeeze(-1)

    def sample(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions drawn from π_θ(·|s) for a batch of (normalised) observations, and their log π_θ(a|s)."""
        out = self.actor(observations)
        if self.log_std is None:
            # Categorical, by the Gumbel-max trick: argmax_a (log π(a|s) + g_a), with g_a = −log(E_a) and
            # E_a ~ Exp(1) independent, is a draw from π(·|s) (one cheap kernel; torch.multinomial costs
            # more than the whole forward pass for a handful of observations)
            log_probs = out.log_softmax(-1)
            actions = (log_probs - torch.empty_like(log_probs).exponential_().log()).argmax(-1)
            return actions, log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        actions = out + self.log_std.exp() * torch.randn_like(out)  # Gaussian: μ + σ ε, ε ~ N(0, 1)
        return actions, self._gaussian_log_prob(out, actions)

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π_θ(a|s) of the given actions (summed over the dimensions of a continuous action)."""
        out = self.actor(observations)
        if self.log_std is None:
            return out.log_softmax(-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        return self._gaussian_log_prob(out, actions)

    def log_prob_entropy(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log π_θ(a|s) of the given actions and the entropy H[π_θ(·|s)], per observation."""
        out = self.actor(observations)
        if self.log_std is None:
            log_probs = out.log_softmax(-1)
            entropy = -(log_probs.exp() * log_probs).sum(-1)  # H = −Σ_a π(a|s) log π(a|s)
            return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy
        # a Gaussian's entropy, ½ log(2πe σ²) per dimension, does not depend on the state here
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(len(out))
        return self._gaussian_log_prob(out, actions), entropy

    def _gaussian_log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        # log N(a; μ, σ²) = −(a − μ)² / (2σ²) − log σ − ½ log(2π), summed over the independent dimensions
        assert self.log_std is not None
        z = (actions - mean) * torch.exp(-self.log_std)
        return (-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def forward(self, raw_observations: torch.Tensor) -> torch.Tensor:
        """The greedy policy, for evaluation: logits (play their argmax) or the Gaussian's mean."""
        return self.actor(self.normalize(raw_observations))
