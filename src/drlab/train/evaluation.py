"""Reusing a finished run: :func:`load_trained_model` (``drlab predict``) and :func:`evaluate_run`
(``drlab evaluate``).

Both start from the run folder alone — ``config.json`` (the model and the data it was trained on) and
``model.safetensors`` (its weights, no pickle inside) — and measure with the same
:func:`~drlab.train.trainer.evaluate` as training does: no optimizer, no trainer, just the model and
the batches.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from drlab.common.device import check_device, effective_precision, resolve_device
from drlab.common.errors import UsageError
from drlab.common.io import load_model_weights, read_json
from drlab.common.rundir import CONFIG_NAME, claim_run_dir, require_run_kind
from drlab.common.runfiles import write_run_files
from drlab.common.seeding import seed_everything
from drlab.models import CONVOLUTIONAL, build_model
from drlab.train.config import ResolvedTrainConfig
from drlab.train.metrics import confusion_report
from drlab.train.run import METRICS_NAME, WEIGHTS_NAME, eval_batches, load_splits, read_saved_config
from drlab.train.trainer import evaluate, prepare_model


def load_trained_model(run_dir: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model saved in ``run_dir`` (CPU, eval mode) and its dataset info (shape, classes, normalisation),
    with the run's config under ``"config"``."""
    run = Path(run_dir)
    config, dataset_info = _read_run(run)
    model = load_model_weights(
        lambda: build_model(
            config.model, tuple(dataset_info["image_shape"]), len(dataset_info["classes"]), config.dropout
        ),
        run / WEIGHTS_NAME,
        f"model {config.model}",
    )
    model.eval()
    return model, {**dataset_info, "config": config}


def _read_run(run: Path) -> tuple[ResolvedTrainConfig, dict[str, Any]]:
    """The run's config and the dataset record of its config.json, both checked; its weights must exist."""
    require_run_kind(run, "train")  # a DQN run is named as such, with the command that reads it
    if not (run / CONFIG_NAME).is_file():
        raise UsageError(
            f"{run} holds no drlab run (no {CONFIG_NAME}); train one with: drlab train --out {run}"
        )
    config = read_saved_config(run)  # every field present, typed and in range (an earlier drlab's too)
    path = run / CONFIG_NAME
    dataset_info = read_json(path).get("dataset")
    _check_dataset_record(dataset_info, path)
    if not (run / WEIGHTS_NAME).is_file():
        raise UsageError(
            f"{run} has no {WEIGHTS_NAME} yet (the run did not finish; continue it with --resume)"
        )
    return config, dataset_info


def _check_dataset_record(info: Any, path: Path) -> None:
    """The ``dataset`` part of a run's config.json: shapes, classes and normalisation a model can use."""
    shape = info.get("image_shape") if isinstance(info, dict) else None
    classes = info.get("classes") if isinstance(info, dict) else None
    mean, std = (info.get("mean"), info.get("std")) if isinstance(info, dict) else (None, None)
    ok = (
        isinstance(shape, list)
        and len(shape) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096 for n in shape)
        and isinstance(classes, list)
        and len(classes) >= 2
        and all(isinstance(name, str) for name in classes)
        and isinstance(mean, (int, float))
        and isinstance(std, (int, float))
        and math.isfinite(mean)
        and math.isfinite(std)
        and std > 0
    )
    if not ok:
        raise UsageError(
            f"{path}: damaged 'dataset' record (image_shape, classes, mean, std); retrain or restore the file"
        )


#: what ``drlab evaluate`` writes into the run folder, per split
EVALUATION_FILES = {
    "test": (METRICS_NAME, "confusion_matrix.png", "confused_pairs.png"),
    "val": ("metrics_val.json",),
    "train": ("metrics_train.json",),
}


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    *,
    device: str = "auto",
    data_dir: str | None = None,
    offline: bool = False,
    seed: int | None = None,
) -> dict[str, Any]:
    """Reload the model of ``run_dir``, measure it on ``split`` (test, val or train) and update its metrics.

    ``test`` refreshes ``metrics.json`` (and the confusion pictures); ``val`` and ``train`` write
    ``metrics_val.json`` / ``metrics_train.json``. The run folder is claimed (locked) for the whole
    measurement, and a file it would replace must be what drlab wrote there
    (:mod:`drlab.common.rundir`).
    """
    if split not in EVALUATION_FILES:
        raise UsageError(f"unknown split {split!r} (choose from test, val, train)")
    check_device(device)
    with claim_run_dir(run_dir, "train", resume=True, files=EVALUATION_FILES[split], option="") as run:
        metrics, figures = _measure(run.path, split, device, data_dir, offline, seed)
        if split == "test":
            previous = read_json(run.path / METRICS_NAME) if run.owns(METRICS_NAME) else {}
            metrics = {**(previous if isinstance(previous, dict) else {}), **metrics}
        write_run_files(run, records={EVALUATION_FILES[split][0]: metrics}, figures=figures)
    return metrics


def _measure(
    run: Path, split: str, device: str, data_dir: str | None, offline: bool, seed: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics of ``run``'s model on ``split``, and (for the test split) its confusion pictures."""
    model, info = load_trained_model(run)
    config: ResolvedTrainConfig = info["config"]
    seed_everything(config.seed if seed is None else seed)
    torch_device = resolve_device(device)
    splits = load_splits(
        config.dataset, limit=config.limit, val_fraction=config.val_fraction, seed=config.seed,
        data_dir=data_dir if data_dir is not None else config.data_dir, offline=offline,
    )  # fmt: skip
    dataset = splits.dataset
    if list(dataset.image_shape) != list(info["image_shape"]) or list(dataset.classes) != list(
        info["classes"]
    ):
        raise UsageError(f"the {config.dataset} data found now does not match the data {run} was trained on")
    images, labels = {
        "test": (dataset.x_test, dataset.y_test),
        "val": (splits.x_val, splits.y_val),
        "train": (splits.x_train, splits.y_train),
    }[split]
    model = prepare_model(
        model, torch_device, channels_last=config.channels_last and config.model in CONVOLUTIONAL
    )
    result = evaluate(
        model,
        eval_batches(images, labels, dataset, torch_device),
        precision=effective_precision(config.precision, torch_device),
        tta_flip=config.tta,  # measured the way the run was
    )
    metrics: dict[str, Any] = {
        f"{split}_accuracy": result.accuracy,
        f"{split}_loss": result.loss,
        f"{split}_samples": result.samples,
        **confusion_report(result.confusion, dataset.classes),
        "evaluated_seconds": result.seconds,
    }
    figures: dict[str, Any] = {}
    if split == "test":
        from drlab.train.plots import plot_confused_pairs, plot_confusion_matrix

        confusion = np.asarray(result.confusion)
        figures["confusion_matrix.png"] = plot_confusion_matrix(confusion, dataset.classes)
        figures["confused_pairs.png"] = plot_confused_pairs(confusion, dataset.classes)
    return metrics, figures


__all__ = ["evaluate_run", "load_trained_model"]
