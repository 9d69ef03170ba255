"""Named training recipes for TP1: ``drlab train --recipe fast|accurate|gpu``.

A recipe is a set of option values chosen, on the *validation* split only, for a time budget; every
option typed on the command line still wins over the recipe's value (``--recipe accurate --epochs 5``),
and the resolved config — recipe values included — is saved in the run folder like any other.

What the recipes take from the CIFAR-10 speedruns (airbench) and what they leave (the measurements:
docs/benchmarks.md, "TP1: the named recipes" and "how the recipes were chosen"):

* taken — the whole dataset on the device (:class:`drlab.data.Batches`, already), random horizontal
  flips computed on whole batches (:mod:`drlab.train.augment`), test-time flips, batch norm, a one-cycle
  learning-rate schedule, bf16 autocast where the hardware computes it natively (``--precision auto``:
  on a CPU with AVX512-BF16 or AMX a ``cnn-bn`` step runs 1.9-2.1x faster than in float32, measured),
  airbench's conv → pool → BatchNorm → ReLU groups with a second convolution each
  (:mod:`drlab.models.groups`: ``cnn-fast`` and ``cnn-deep``), label smoothing (``fast``, ``gpu``); on a
  GPU larger batches, channels-last and ``torch.compile`` (unmeasured here);
  random one-pixel translations for the long ``accurate`` run only (below);
* measured and left, because the short runs did not gain from them — translations in ``fast`` and weight
  averaging (EMA);
* left — airbench's whitening first layer and Lookahead.

No torch here: ``drlab train --help`` must answer at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from drlab.train.config import TrainConfig

#: the options each recipe sets; every other option keeps its default
RECIPES: dict[str, dict[str, Any]] = {
    # the most accuracy in under a minute on 2 CPU cores: six epochs of cnn-fast (drlab.models.groups:
    # half cnn-bn's channels, twice its convolutions, about half its time per image) in bfloat16 where
    # the CPU computes it natively (AVX512-BF16 or AMX; float32 elsewhere, and then the minute is not
    # reached), batches of 512 with a one-cycle schedule (batch norm tolerates its large peak learning
    # rate), no dropout (a short run under-fits rather than over-fits), label smoothing 0.1, test-time
    # flips (one more forward pass, at evaluation only). Chosen on validation, seeds 0 / 1 / 2 (best
    # epoch): cnn-fast 6 epochs 0.9317 / 0.9278 / 0.9313 with label smoothing, 0.9278 / 0.925 / 0.9313
    # without; 5 epochs with it 0.9258 (seed 0); cnn-bn 4 epochs (the previous recipe) 0.9273 (seed 0)
    "fast": {
        "model": "cnn-fast",
        "epochs": 6,
        "batch_size": 512,
        "optimizer": "adam",
        "lr": 6e-3,
        "scheduler": "one-cycle",
        "dropout": 0.0,
        "label_smoothing": 0.1,
        "flip": True,
        "tta": True,
        "precision": "auto",
    },
    # the most accuracy in about ten minutes on 2 CPU cores: cnn-deep (cnn-bn's channels, six
    # convolutions instead of three, drlab.models.groups) for 20 epochs, flips and one-pixel shifts against
    # over-fitting, test-time flips. Chosen on validation (best epoch, seeds 0/1/2): with shifts 0.9468 /
    # 0.9443 / 0.9473, without 0.9443 / 0.9443 / 0.9422; cnn-bn 30 epochs (the previous recipe) peaked at
    # 0.9397-0.9470. Test, measured once per seed after the choice: 0.9405 / 0.9400 / 0.9416 (without
    # shifts 0.9350 / 0.9371 / 0.9382)
    "accurate": {
        "model": "cnn-deep",
        "epochs": 20,
        "batch_size": 128,
        "optimizer": "adamw",
        "lr": 3e-3,
        "weight_decay": 5e-4,
        "scheduler": "one-cycle",
        "dropout": 0.3,
        "flip": True,
        "shift": 1,
        "tta": True,
        "precision": "auto",
    },
    # a speedrun for one GPU: large batches (far fewer kernel launches per epoch), bf16 autocast,
    # channels-last, torch.compile; a peak learning rate scaled up with the batch; label smoothing as in
    # airbench (not measured here: no GPU was lent when this recipe was written)
    "gpu": {
        "model": "cnn-bn",
        "device": "cuda",
        "epochs": 16,
        "batch_size": 1024,
        "optimizer": "adamw",
        "lr": 1e-2,
        "weight_decay": 5e-4,
        "scheduler": "one-cycle",
        "dropout": 0.3,
        "label_smoothing": 0.1,
        "flip": True,
        "tta": True,
        "precision": "bf16",
        "channels_last": True,
        "compile": True,
    },
}

_FIELDS = {field.name for field in dataclasses.fields(TrainConfig)}
assert all(set(values) <= _FIELDS for values in RECIPES.values()), "a recipe names an unknown option"


def apply_recipe(config: TrainConfig, given: Iterable[str] | None = None) -> TrainConfig:
    """``config`` with its recipe's values in every option that was not given explicitly.

    ``given`` names the options the user typed (``None``: none but ``recipe``, the in-process use:
    ``apply_recipe(TrainConfig(recipe="fast"))``). Without a recipe, ``config`` is returned unchanged.
    """
    if config.recipe is None:
        return config
    if config.recipe not in RECIPES:
        from drlab.common.errors import UsageError

        raise UsageError(f"unknown recipe {config.recipe!r} (choose from {', '.join(RECIPES)})")
    typed = set(given) if given is not None else set()
    return dataclasses.replace(
        config, **{name: value for name, value in RECIPES[config.recipe].items() if name not in typed}
    )


def recipe_config(name: str, **overrides: Any) -> TrainConfig:
    """The config of recipe ``name`` with ``overrides`` on top (what ``drlab train --recipe NAME ...`` builds)."""
    return apply_recipe(TrainConfig(recipe=name, **overrides), given=overrides)  # type: ignore[arg-type]
