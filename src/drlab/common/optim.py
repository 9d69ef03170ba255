"""The optimizer of every drlab training — TP1's classifiers and the RL agents — built in one place.

``optimizer.step()`` is the lecture's update, θ ← θ − lr · (the optimizer's direction): plain SGD with
momentum, Adam, AdamW (Adam with decoupled weight decay) or RMSprop (A2C's). Each is PyTorch's own,
with its *fused* kernel where this PyTorch has one (one kernel for all the parameters instead of a few per
tensor: the same numbers, fewer passes over memory), else the ``foreach`` one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop"]


def make_optimizer(
    name: OptimizerName,
    parameters: Iterable[Any],
    lr: float,
    *,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """PyTorch's optimizer ``name`` over ``parameters``, with step size ``lr``.

    ``momentum`` is SGD's (the others ignore it); ``eps`` is Adam's, AdamW's and RMSprop's ε (PyTorch's
    default 1e-8; PPO and A2C use 1e-5); RMSprop smooths with α = 0.99 (A2C's paper, SB3).
    """
    import torch

    settings: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
    builders: dict[str, tuple[Any, dict[str, Any]]] = {
        "sgd": (torch.optim.SGD, {"momentum": momentum}),
        "adam": (torch.optim.Adam, {"eps": eps}),
        "adamw": (torch.optim.AdamW, {"eps": eps}),
        "rmsprop": (torch.optim.RMSprop, {"eps": eps, "alpha": 0.99}),
    }
    if name not in builders:
        from drlab.common.errors import UsageError

        raise UsageError(f"unknown optimizer {name!r} (choose from {', '.join(builders)})")
    optimizer_class, extra = builders[name]
    params = list(parameters)
    try:
        optimizer: torch.optim.Optimizer = optimizer_class(params, **settings, **extra, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this optimizer, device or version
        optimizer = optimizer_class(params, **settings, **extra, foreach=True)
    return optimizer
