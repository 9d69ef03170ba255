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

``forward(raw observations)`` is the *greedy* policy, what evaluation plays: the logits (their argmax is
the most likely action) or the Gaussian's mean. Training calls :meth:`ActorCritic.distribution` and
:meth:`ActorCritic.value` on observations already normalised by :meth:`ActorCritic.normalize`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

# Distributions check their arguments on every call by default: a measurable cost at one call per
# environment step, and the networks' outputs are valid by construction.
Distribution.set_default_validate_args(False)


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

    def normalize(self, raw_observations: torch.Tensor) -> torch.Tensor:
        """The observations as the networks see them: normalised by the running statistics, if kept."""
        return raw_observations if self.obs_rms is None else self.obs_rms.normalize(raw_observations)

    def distribution(self, observations: torch.Tensor) -> Distribution:
        """π_θ(·|s) for a batch of (normalised) observations: Categorical, or Normal with one σ per dimension."""
        out = self.actor(observations)
        if self.log_std is None:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def log_prob(self, distribution: Distribution, actions: torch.Tensor) -> torch.Tensor:
        """log π_θ(a|s), summed over the action's dimensions when continuous (they are independent)."""
        log_prob = distribution.log_prob(actions)
        return log_prob.sum(-1) if self.continuous else log_prob

    def entropy(self, distribution: Distribution) -> torch.Tensor:
        """H[π_θ(·|s)] per observation (summed over dimensions when continuous)."""
        entropy = distribution.entropy()
        return entropy.sum(-1) if self.continuous else entropy

    def value(self, observations: torch.Tensor) -> torch.Tensor:
        """V_φ(s) for a batch of (normalised) observations, shape ``(B,)``."""
        return self.critic(observations).squeeze(-1)

    def forward(self, raw_observations: torch.Tensor) -> torch.Tensor:
        """The greedy policy, for evaluation: logits (play their argmax) or the Gaussian's mean."""
        return self.actor(self.normalize(raw_observations))
