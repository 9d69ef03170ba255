"""TP1's checkpoint: what it holds, checked whole before a run resumes from it.

``checkpoint.pt`` is :meth:`~drlab.train.trainer.TrainState.state_dict` plus ``info``, the identity of
the run it belongs to. Its checksum proves the file is whole, not that its content is drlab's: before a
``--resume`` rewrites anything, :func:`check_resume` checks that it belongs to this run and
:func:`check_state` that every field has its type and shape — a malformed checkpoint is one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drlab.common.config import upgrade_saved
from drlab.common.errors import UsageError
from drlab.common.schema import (
    Const,
    IntIn,
    Like,
    ListOf,
    MapOf,
    OneOf,
    check_structure,
    module_state,
    optimizer_state,
)
from drlab.common.seeding import rng_states_spec
from drlab.train.config import RENAMED_FIELDS, RETIRED_FIELDS, ResolvedTrainConfig

#: the version of the training state's layout (``TrainState.state_dict``)
CHECKPOINT_FORMAT = "drlab.train/3"
#: the layout of drlab ≤ 0.1: the same plus an ``ema`` entry (``None`` unless trained with ``--ema``) and,
#: under ``best``, the early stopping's count (``--patience``, gone too)
EARLIER_FORMAT = "drlab.train/2"
#: the identity of the run a checkpoint belongs to, saved beside the training state
CHECKPOINT_INFO = {
    "model": str, "dataset": str, "image_shape": ListOf(int, 3), "num_classes": int, "epochs": int,
    "recipe": MapOf(str, object),
}  # fmt: skip


def check_state(
    state: Any,
    where: str,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    row: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Raise a one-line :class:`UsageError` unless ``state`` is a training state for this ``model``,
    ``optimizer`` and ``scheduler`` (``row``: the history's fields and their types; ``extra``: the specs
    of fields a caller added): every field present, of its type and shape, nothing else."""
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise UsageError(
            f"{where}: not a checkpoint of this drlab version's trainer (format {found!r}, expected "
            f"{CHECKPOINT_FORMAT!r})"
        )
    if (state.get("scheduler") is None) != (scheduler is None):
        raise UsageError(f"{where}: the checkpoint and this run disagree on the learning-rate schedule")
    epoch = state.get("epoch") if isinstance(state.get("epoch"), int) else None
    weights = module_state(model)
    spec = {
        "format": Const(CHECKPOINT_FORMAT),
        "epoch": IntIn(0),
        "model": weights,
        "optimizer": optimizer_state(optimizer),
        "scheduler": Like(scheduler.state_dict()) if scheduler is not None else None,
        "history": ListOf(row, epoch),  # one row per epoch done
        "best": {
            "epoch": IntIn(0, epoch),
            "val_accuracy": float,
            "val_loss": float,
            "model": OneOf((None, weights)),
        },
        "rng": rng_states_spec(),
        **(extra or {}),
    }
    check_structure(state, spec, where)
    numbers = [record["epoch"] for record in state["history"]]
    if numbers != list(range(1, len(numbers) + 1)):
        raise UsageError(f"{where}: its history's epochs are {numbers[:5]}…, not 1, 2, 3…")


def upgrade_checkpoint(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """``checkpoint`` in today's layout: one of drlab ≤ 0.1 (:data:`EARLIER_FORMAT`) loses its empty
    ``ema`` entry and its early-stopping count, and its recipe takes today's names; one trained with an
    option drlab no longer has (``--ema``, ``--shift``…) is refused in one line naming it. Today's
    checkpoints pass unchanged."""
    if checkpoint.get("format") != EARLIER_FORMAT:
        return checkpoint
    upgraded = {**checkpoint, "format": CHECKPOINT_FORMAT}
    ema = upgraded.pop("ema", None)
    best = upgraded.get("best")
    if isinstance(best, dict):
        retired = ("epochs_without_improvement", "stopped_early")
        upgraded["best"] = {key: value for key, value in best.items() if key not in retired}
    info = upgraded.get("info")
    if isinstance(info, dict) and isinstance(info.get("recipe"), dict):
        recipe = upgrade_saved(
            info["recipe"], f"{path}: info", renamed=RENAMED_FIELDS, retired=RETIRED_FIELDS, resuming=True
        )
        upgraded["info"] = {**info, "recipe": recipe}
    if ema is not None:  # a recipe without its "ema" entry, yet an average in the checkpoint
        raise UsageError(f"{path}: this run was trained with --ema, an option this drlab no longer has")
    return upgraded


def check_resume(
    checkpoint: dict[str, Any], info: dict[str, Any], config: ResolvedTrainConfig, path: Path
) -> int:
    """Raise a one-line :class:`UsageError` unless ``checkpoint`` can continue the run ``info`` describes
    up to ``config.epochs``; return the epochs it has done. (Its training state is checked when it is
    loaded, by :func:`check_state`.)"""
    check_structure(checkpoint.get("epoch"), IntIn(0), f"{path}: epoch")
    check_structure(checkpoint.get("info"), CHECKPOINT_INFO, f"{path}: info")
    saved, done = checkpoint["info"], checkpoint["epoch"]
    if done > config.epochs:
        # --epochs is the total: continuing a 2-epoch run "up to 1 epoch" cannot be honest, and
        # rewriting config.json with epochs 1 beside 2-epoch weights would make the run lie
        raise UsageError(
            f"--resume: the run in {path.parent} has already trained {done} epochs; --epochs is the total, "
            f"so it must be ≥ {done} (got {config.epochs}); to re-measure it: drlab evaluate {path.parent}"
        )
    for key, option in (("model", "--model"), ("dataset", "--dataset"), ("image_shape", "image shape")):
        if saved.get(key) != info[key]:
            raise UsageError(
                f"{path}: this checkpoint is for {option} {saved.get(key)}, not {info[key]}; "
                "it cannot continue this run"
            )
    if saved.get("recipe") != info["recipe"]:
        differing = sorted(k for k in info["recipe"] if saved["recipe"].get(k) != info["recipe"][k])
        raise UsageError(f"{path}: this checkpoint was trained with other settings ({', '.join(differing)})")
    if config.scheduler != "none" and saved.get("epochs") != config.epochs:
        raise UsageError(
            f"--resume: the {config.scheduler} learning-rate schedule of this run was planned for "
            f"{saved.get('epochs')} epochs; resume with --epochs {saved.get('epochs')} "
            "(or train with --scheduler none to extend runs freely)"
        )
    return int(done)
