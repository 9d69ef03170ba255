"""The ``drlab train`` job from start to finish: data → model → trainer → run directory with pictures.

The jobs that reuse a finished run (``drlab evaluate``, ``drlab predict``) are in
:mod:`drlab.train.evaluation`.

A run directory holds::

    config.json         the resolved config, and the dataset's shape, classes and normalisation
    checkpoint.pt       everything needed to resume (rewritten atomically after every epoch)
    history.csv         per epoch: train/val loss and accuracy, learning rate, seconds
    model.safetensors   the final weights (the best validation epoch), no pickle inside
    metrics.json        test accuracy and loss, per-class accuracy, confusion matrix, parameters, speed
    *.png               curves, confusion matrix, test predictions, most confused pairs
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from drlab import __version__
from drlab.common.config import from_json, merge_on_resume, to_dict, upgrade_saved
from drlab.common.device import EffectivePrecision, effective_precision, precision_note
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import load_checkpoint, read_json
from drlab.common.optim import make_optimizer
from drlab.common.rundir import CONFIG_NAME, RUN_FILES, RunDir, claim_run_dir, inspect_run_dir
from drlab.common.runfiles import write_run_files
from drlab.common.seeding import seed_everything
from drlab.data import Batches, ImageDataset, load_dataset, train_val_split
from drlab.models import CONVOLUTIONAL, build_model, count_parameters, summarize
from drlab.train import distributed
from drlab.train.augment import BatchAugment
from drlab.train.checkpoint import CHECKPOINT_INFO, check_resume, upgrade_checkpoint
from drlab.train.config import (
    RECIPE_FIELDS,
    RENAMED_FIELDS,
    RESUMABLE,
    RETIRED_FIELDS,
    ResolvedTrainConfig,
    TrainConfig,
)
from drlab.train.metrics import confusion_report
from drlab.train.trainer import (
    HISTORY_FIELDS,
    EpochRow,
    Evaluation,
    TrainState,
    evaluate,
    fit,
    make_scheduler,
    prepare_model,
)

CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "model.safetensors"
METRICS_NAME = "metrics.json"
HISTORY_NAME = "history.csv"
#: batches for evaluation only: no gradients are kept, so a larger batch costs little memory and runs faster
EVAL_BATCH_SIZE = 1024
#: above this test accuracy on Fashion-MNIST, a model this small is not plausible (a simple CNN tops out
#: near 93%): the data is probably not Fashion-MNIST (MNIST digits saved under its name, for instance)
FASHION_MNIST_SUSPICIOUS_ACCURACY = 0.97
#: how many test images the predictions grid shows
GRID_IMAGES = 32
TENSORBOARD_DIR = "tensorboard"


@dataclass
class TrainResult:
    """What a finished ``drlab train`` leaves behind."""

    run_dir: Path
    """the run directory"""
    metrics: dict[str, Any]
    """the content of metrics.json"""
    history: list[EpochRow]
    """one record per epoch"""


@dataclass(frozen=True)
class Splits:
    """The training, validation and test parts of a dataset, as arrays."""

    dataset: ImageDataset
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def load_splits(
    dataset_name: str,
    *,
    limit: int | None,
    val_fraction: float,
    seed: int,
    data_dir: str | None,
    offline: bool,
) -> Splits:
    """Load the dataset (``--limit``: its first N samples) and hold out a seeded validation part."""
    dataset = load_dataset(
        dataset_name, data_dir=data_dir, download=not offline, seed=0, offline=True if offline else None
    ).limit(limit)
    x_train, y_train, x_val, y_val = train_val_split(dataset.x_train, dataset.y_train, val_fraction, seed)
    return Splits(dataset, x_train, y_train, x_val, y_val)


def _dataset_info(splits: Splits) -> dict[str, Any]:
    dataset = splits.dataset
    return {
        "name": dataset.name,
        "image_shape": list(dataset.image_shape),
        "classes": list(dataset.classes),
        "mean": dataset.mean,
        "std": dataset.std,
        "train_samples": len(splits.y_train),
        "val_samples": len(splits.y_val),
        "test_samples": len(dataset.y_test),
    }


def resume_config(out: str | Path, typed: Mapping[str, Any]) -> ResolvedTrainConfig:
    """The config to resume the run in ``out`` with: the saved one, with the options ``typed`` on top.

    A recipe option (model, data, optimiser, seed…) that contradicts the saved run is a
    :class:`UsageError`: it would not be a continuation of that run; the others (:data:`RESUMABLE`:
    ``--epochs``, ``--device``, ``--precision``…) may change.
    """
    inspect_run_dir(out, "train", resume=True)
    saved = read_saved_config(Path(out), resuming=True)
    return merge_on_resume(saved, dict(typed), RESUMABLE, where=str(out))


def read_saved_config(run_dir: Path, *, resuming: bool = False) -> ResolvedTrainConfig:
    """The config saved in ``run_dir/config.json``, checked field by field. A run of an earlier drlab reads
    under today's names; ``resuming`` one trained with an option drlab no longer has is refused."""
    path = run_dir / CONFIG_NAME
    if not path.is_file():
        raise UsageError(f"{run_dir} holds no drlab training run (no readable {CONFIG_NAME})")
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise UsageError(f"{path}: not a drlab training run's config (no 'config' object)")
    settings = upgrade_saved(
        record["config"], str(path), renamed=RENAMED_FIELDS, retired=RETIRED_FIELDS, resuming=resuming
    )
    return from_json(ResolvedTrainConfig, settings, str(path))


def train_run(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None = None,
) -> TrainResult:
    """Train ``config`` in the run folder ``out``: check, claim, start or resume, write.

    ``resume`` continues the run in ``out`` from its checkpoint, exactly where it stopped; ``config`` must
    then be the saved one, except the options of :data:`RESUMABLE` (:func:`resume_config` builds it from
    the saved one). ``force`` replaces a run already in ``out``. ``log`` receives the lines to print,
    ``progress`` shows a bar per epoch, ``on_epoch_end(state, row)`` runs after every epoch. Every check
    that can fail (settings, data, run folder, checkpoint) runs before anything is written.

    Under ``torchrun`` every process runs this function: they join one process group (gloo on CPU,
    NCCL on CUDA with one GPU each), train one model with DistributedDataParallel, and rank 0 alone
    writes the run folder and prints.
    """
    folder = RunFolder(Path(out), resume=resume, force=force, files=run_files(config))
    resolved = config.resolved()  # checked: a value no run can use is refused here, in one line
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: pip install 'drlab[tensorboard]'")
    inspect_run_dir(out, "train", resume=resume, force=force, files=folder.files)  # refuses before any work
    if resume:  # the settings must be the saved run's, but for what may change on a resume
        saved = read_saved_config(folder.path, resuming=True)
        merge_on_resume(saved, to_dict(resolved), RESUMABLE, where=str(out))
    joined_here = not distributed.is_initialized()
    env, device = distributed.setup(resolved.device)  # a single process: nothing to join, just the device
    # decided once for the whole run: how it computes on this device, and every random number
    precision = effective_precision(resolved.precision, device)
    note = precision_note(resolved.precision, device)
    seed_everything(resolved.seed)  # the same seed on every rank (DDP copies rank 0's weights anyway)
    if not env.is_main:  # the ranks other than 0 print nothing
        log, progress = None, False
    if log is not None and note is not None:
        log(note)
    try:
        return _train(resolved, folder, env, device, precision, progress, log, on_epoch_end)
    except RuntimeError as exc:
        if env.launched and distributed.is_collective_failure(exc):
            first = distributed.short_reason(exc)
            raise DrlabError(
                f"rank {env.rank} lost contact with the other processes ({first}); one of them probably "
                f"died (torchrun's report names it). The last checkpoint in {out} is complete: "
                "rerun with --resume to continue"
            ) from exc
        raise
    finally:
        if joined_here:
            distributed.teardown()


@dataclass(frozen=True)
class RunFolder:
    """Where a run writes, and how it takes the folder (continue the run there, or replace it)."""

    path: Path
    resume: bool
    force: bool
    files: list[str]
    """what the run writes there (:func:`run_files`)"""


def run_files(config: TrainConfig) -> list[str]:
    """The files a ``drlab train`` run writes in its folder (``tensorboard/``: a subfolder)."""
    files = [name for name in RUN_FILES["train"] if config.plots or not name.endswith(".png")]
    return files + ([f"{TENSORBOARD_DIR}/"] if config.tensorboard else [])


def _train(
    config: ResolvedTrainConfig,
    folder: RunFolder,
    env: distributed.DistEnv,
    device: torch.device,
    precision: EffectivePrecision,
    progress: bool,
    log: Callable[[str], None] | None,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None,
) -> TrainResult:
    splits = load_splits(
        config.dataset, limit=config.limit, val_fraction=config.val_fraction, seed=config.seed,
        data_dir=config.data_dir, offline=config.offline,
    )  # fmt: skip
    dataset = splits.dataset
    raw_model = build_model(config.model, dataset.image_shape, dataset.num_classes, config.dropout)
    if config.compile:  # in place: the state_dict keeps its keys (no "_orig_mod." prefix)
        raw_model.compile()
    checkpoint_info = {
        "model": config.model,
        "dataset": config.dataset,
        "image_shape": list(dataset.image_shape),
        "num_classes": dataset.num_classes,
        "epochs": config.epochs,
        "recipe": {name: getattr(config, name) for name in RECIPE_FIELDS},
    }

    # --batch-size is the *global* batch: each rank takes its [rank::world_size] share of every batch of
    # one permutation per epoch, shared by all ranks (it depends on the seed and the epoch only)
    train_batches = Batches(
        splits.x_train, splits.y_train, batch_size=config.batch_size, mean=dataset.mean, std=dataset.std,
        shuffle=True, seed=config.seed, device=device, rank=env.rank, world_size=env.world_size,
    )  # fmt: skip
    val_batches = eval_batches(splits.x_val, splits.y_val, dataset, device, env.rank, env.world_size)
    test_batches = eval_batches(dataset.x_test, dataset.y_test, dataset, device, env.rank, env.world_size)
    # the model trains as ``model`` (wrapped in DDP on several processes) and is saved as ``raw_model``
    raw_model = prepare_model(
        raw_model, device, channels_last=config.channels_last and config.model in CONVOLUTIONAL
    )
    model = distributed.wrap_model(raw_model, device)
    optimizer = make_optimizer(
        config.optimizer, raw_model.parameters(), config.lr, weight_decay=config.weight_decay,
        momentum=config.momentum,
    )  # fmt: skip
    state = TrainState(
        raw_model, optimizer, make_scheduler(config.scheduler, optimizer, config.epochs * len(train_batches))
    )
    resumed_at = 0
    if folder.resume:  # checked and loaded whole (random generators too) before any file is touched
        resumed_at = _resume(state, folder.path / CHECKPOINT_NAME, checkpoint_info, config)
    # only now that data, model, options and checkpoint are known to be good: lock, mark (--force: clear)
    run = distributed.main_first(
        lambda: claim_run_dir(
            folder.path, "train", resume=folder.resume, force=folder.force, files=folder.files
        )
    )
    with contextlib.ExitStack() as stack:
        if run is not None:
            stack.enter_context(run)  # released at the end; a run that wrote nothing leaves no folder
            # config.json first: it marks the folder as a run that --resume can continue
            write_run_files(
                run, records={CONFIG_NAME: _config_record(config, splits, raw_model, device, env)}
            )
        if log is not None:
            if config.summary:
                log(summarize(raw_model, dataset.image_shape).table())
            log(_start_line(config, splits, raw_model, device, env.world_size, precision, resumed_at))
        metrics, history = _fit_and_write(
            config, env, device, precision, run, splits, state, model, checkpoint_info,
            (train_batches, val_batches, test_batches), progress, log, on_epoch_end,
        )  # fmt: skip
    return TrainResult(run_dir=folder.path, metrics=metrics, history=history)


def _config_record(
    config: ResolvedTrainConfig,
    splits: Splits,
    raw_model: torch.nn.Module,
    device: torch.device,
    env: distributed.DistEnv,
) -> dict[str, Any]:
    """The content of config.json: the resolved config, the data's shape, classes and normalisation."""
    return {
        "config": to_dict(config),
        "dataset": _dataset_info(splits),
        "model": {"name": config.model, "parameters": count_parameters(raw_model)},
        "device": str(device),
        "processes": env.world_size,
        "drlab_version": __version__,
        "torch_version": torch.__version__,
    }


def _start_line(
    config: ResolvedTrainConfig,
    splits: Splits,
    raw_model: torch.nn.Module,
    device: torch.device,
    processes: int,
    precision: str,
    resumed_at: int,
) -> str:
    dataset = splits.dataset
    action = f"resuming at epoch {resumed_at + 1}" if resumed_at else "training"
    return (
        f"{action}: {config.model} ({count_parameters(raw_model):,} parameters) on {dataset.name} "
        f"({len(splits.y_train):,} train / {len(splits.y_val):,} val / {len(dataset.y_test):,} test images "
        f"of {dataset.image_shape[1]}×{dataset.image_shape[2]}), {config.optimizer} lr {config.lr:g}, "
        f"{config.scheduler} schedule, batch {config.batch_size}, {config.epochs} epochs, on {device}"
        + (f" × {processes} processes ({distributed.backend_for(device)})" if processes > 1 else "")
        + (", in bf16" if precision == "bf16" else "")
    )


def _fit_and_write(
    config: ResolvedTrainConfig,
    env: distributed.DistEnv,
    device: torch.device,
    precision: EffectivePrecision,
    run: RunDir | None,
    splits: Splits,
    state: TrainState,
    model: torch.nn.Module,
    checkpoint_info: dict[str, Any],
    batches: tuple[Batches, Batches, Batches],
    progress: bool,
    log: Callable[[str], None] | None,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None,
) -> tuple[dict[str, Any], list[EpochRow]]:
    """Train and write the run folder ``run`` (``None`` on the ranks other than 0, which write nothing);
    return the test metrics and the history."""
    train_batches, val_batches, test_batches = batches
    dataset, raw_model = splits.dataset, state.raw_model
    writer = _tensorboard_writer(run) if config.tensorboard and run is not None else None

    def end_of_epoch(state: TrainState, row: EpochRow) -> None:
        if run is not None:  # the checkpoint (to resume from) and the history, after every epoch
            write_run_files(
                run,
                checkpoints={CHECKPOINT_NAME: {**state.state_dict(), "info": checkpoint_info}},
                tables={HISTORY_NAME: ([r.as_row() for r in state.history], HISTORY_FIELDS)},
            )
        if writer is not None and run is not None:
            for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
                value = getattr(row, key)
                if not np.isnan(value):
                    writer.add_scalar(key.replace("_", "/", 1), value, row.epoch)
            writer.flush()
            run.record_folder(TENSORBOARD_DIR)
        if on_epoch_end is not None:
            on_epoch_end(state, row)

    # the training loss: cross-entropy, with --label-smoothing ε the targets (1 − ε) + ε/K on the true class
    loss_fn = functools.partial(F.cross_entropy, label_smoothing=config.label_smoothing)
    # random flips and shifts of each training batch, on the device; a black pixel, normalised, fills borders
    augment = None
    if config.flip or config.shift:
        fill = -splits.dataset.mean / splits.dataset.std
        augment = BatchAugment(
            flip=config.flip, max_shift=config.shift, fill=fill, seed=config.seed, device=device
        )
    try:
        history = fit(
            model, state, train_batches, val_batches, epochs=config.epochs,
            max_grad_norm=config.max_grad_norm, precision=precision,
            tta_flip=config.tta, loss_fn=loss_fn, transform=augment, log=log, progress=progress,
            on_epoch_end=end_of_epoch,
        )  # fmt: skip
    finally:
        if writer is not None and run is not None:
            writer.close()
            run.record_folder(TENSORBOARD_DIR)
    test = evaluate(raw_model, test_batches, precision=precision, tta_flip=config.tta)
    metrics = _metrics(test, dataset, state, config, device, precision)
    if run is not None:
        for warning in metrics["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        # the weights, the history, the metrics and the pictures, together
        figures = _run_figures(history, metrics, dataset, test_batches, raw_model) if config.plots else {}
        write_run_files(
            run,
            weights={
                WEIGHTS_NAME: (
                    raw_model.state_dict(),
                    {"model": config.model, "dataset": config.dataset, "drlab_version": __version__},
                )
            },
            tables={HISTORY_NAME: ([r.as_row() for r in history], HISTORY_FIELDS)},
            records={METRICS_NAME: metrics},
            figures=figures,
        )
    if log is not None and run is not None:
        log(
            f"test accuracy {metrics['test_accuracy']:.4f} (loss {metrics['test_loss']:.4f}) after "
            f"{len(history)} epochs, best validation epoch {state.best_epoch}; run saved in {run.path}/ "
            + (
                "(curves.png, confusion_matrix.png, predictions.png, metrics.json)"
                if config.plots
                else "(metrics.json)"
            )
        )
    distributed.barrier()  # the run is over when rank 0 has written everything
    return metrics, history


def _tensorboard_writer(run: RunDir) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(run.folder(TENSORBOARD_DIR)))  # a folder drlab made, not a link


def eval_batches(
    images: np.ndarray,
    labels: np.ndarray,
    dataset: ImageDataset,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> Batches:
    # sharded over the ranks like the training batches, with a batch size that leaves no sample out
    return Batches(
        images,
        labels,
        batch_size=distributed.lossless_batch_size(len(labels), EVAL_BATCH_SIZE, world_size),
        mean=dataset.mean,
        std=dataset.std,
        shuffle=False,
        device=device,
        rank=rank,
        world_size=world_size,
    )


def _resume(state: TrainState, path: Path, info: dict[str, Any], config: ResolvedTrainConfig) -> int:
    """Load the checkpoint ``path`` into ``state`` (random generators included); return its epoch.
    Everything is checked first, in one line each: the run it belongs to, then every field's structure."""
    checkpoint = load_checkpoint(path)  # checksum checked; weights_only=True: a malicious pickle is refused
    checkpoint = upgrade_checkpoint(checkpoint, path)  # one of an earlier drlab: under today's names
    done = check_resume(checkpoint, info, config, path)
    state.load_state_dict(checkpoint, str(path), extra={"info": CHECKPOINT_INFO})
    return done


def _metrics(
    test: Evaluation,
    dataset: ImageDataset,
    state: TrainState,
    config: ResolvedTrainConfig,
    device: torch.device,
    precision: EffectivePrecision,
) -> dict[str, Any]:
    """The content of metrics.json: each figure computed here once, from the typed records."""
    history = state.history
    # speed on the training passes alone, in time and in samples (validation is timed apart)
    train_seconds = sum(row.train_seconds for row in history)
    train_samples = sum(row.train_samples for row in history)
    warnings = []
    if dataset.name == "fashion-mnist" and test.accuracy > FASHION_MNIST_SUSPICIOUS_ACCURACY:
        warnings.append(
            f"test accuracy {test.accuracy:.4f} on Fashion-MNIST is implausibly high for a model this small "
            "(a simple CNN tops out near 0.93): the files are probably not Fashion-MNIST (MNIST digits?)"
        )
    return {
        "dataset": dataset.name,
        "model": config.model,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "test_samples": test.samples,
        **confusion_report(test.confusion, dataset.classes),
        "parameters": count_parameters(state.raw_model),
        "epochs_trained": len(history),
        "best_epoch": state.best_epoch,
        "best_val_accuracy": state.best_val_accuracy if history else None,
        "train_seconds": train_seconds,
        "samples_per_second": train_samples / train_seconds if train_seconds > 0 else None,
        "validation_seconds": sum(row.val_seconds for row in history),
        "device": str(device),
        "precision": precision,
        "warnings": warnings,
    }


def _run_figures(
    history: list[EpochRow],
    metrics: dict[str, Any],
    dataset: ImageDataset,
    test_batches: Batches,
    raw_model: torch.nn.Module,
) -> dict[str, Any]:
    """The run's pictures, by file name: curves, confusion matrix, most confused pairs, test predictions."""
    from drlab.train.plots import plot_confused_pairs, plot_confusion_matrix, plot_curves, plot_predictions

    figures: dict[str, Any] = {}
    if history:
        figures["curves.png"] = plot_curves([row.as_row() for row in history])
    confusion = np.asarray(metrics["confusion_matrix"])
    figures["confusion_matrix.png"] = plot_confusion_matrix(confusion, dataset.classes)
    figures["confused_pairs.png"] = plot_confused_pairs(confusion, dataset.classes)
    n = min(GRID_IMAGES, test_batches.num_samples)
    # the raw model: rank 0 alone draws, so no DDP collective may run here
    with torch.inference_mode():
        raw_model.eval()
        probabilities = torch.softmax(raw_model(test_batches.x[:n]).float(), dim=1).cpu()
    confidence, predicted = probabilities.max(dim=1)
    figures["predictions.png"] = plot_predictions(
        dataset.x_test[:n], dataset.y_test[:n], predicted.numpy(), confidence.numpy(), dataset.classes
    )
    return figures


__all__ = ["TrainResult", "eval_batches", "load_splits", "read_saved_config", "resume_config", "train_run"]
