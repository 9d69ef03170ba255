"""Weight averaging: an exponential moving average (EMA, "moyenne mobile exponentielle") of the weights.

After every optimizer step, ``θ_ema ← decay · θ_ema + (1 − decay) · θ``. The average of the last few
hundred steps sits nearer the bottom of the valley than the last step, whose noise depends on the last
mini-batches: evaluating (and keeping) the averaged weights usually gains a little accuracy for free, and
most when the learning rate stays large to the end. This is what ``torch.optim.swa_utils.AveragedModel``
with ``get_ema_multi_avg_fn`` does; the few lines here also average the batch-norm statistics (buffers)
and ramp the decay up during the first steps, ``min(decay, (1 + t) / (10 + t))``, so that the average
does not remember the random initial weights for long.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    """A copy of ``model`` whose floating-point weights and buffers follow ``model``'s as an EMA."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards ``model``'s current weights (call after ``optimizer.step()``)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averaged, current = [], []
        for ema_value, value in zip(
            self.module.state_dict().values(), model.state_dict().values(), strict=True
        ):
            if ema_value.dtype.is_floating_point:
                averaged.append(ema_value)
                current.append(value.detach())
            else:  # integer buffers (batch norm's num_batches_tracked) are copied, not averaged
                ema_value.copy_(value)
        # θ_ema ← θ_ema + (1 − decay)(θ − θ_ema), for every tensor in one fused call
        torch._foreach_lerp_(averaged, current, 1.0 - decay)

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights and the step count (for checkpoints)."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
