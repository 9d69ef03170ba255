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
import dataclasses
import functools
import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from drlab import __version__
from drlab.common.config import from_json, merge_on_resume, to_dict
from drlab.common.device import effective_precision
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import load_checkpoint, read_json
from drlab.common.rundir import CONFIG_NAME, RUN_FILES, RunDir, claim_run_dir, inspect_run_dir
from drlab.common.runfiles import write_run_files
from drlab.common.seeding import seed_everything
from drlab.data import Batches, ImageDataset, load_dataset, train_val_split
from drlab.models import CONVOLUTIONAL, build_model, count_parameters, summarize
from drlab.train import distributed
from drlab.train.augment import BatchAugment
from drlab.train.checkpoint import CHECKPOINT_INFO, check_resume
from drlab.train.config import RECIPE_FIELDS, TrainConfig
from drlab.train.ema import EMA
from drlab.train.metrics import confusion_report
from drlab.train.trainer import (
    HISTORY_FIELDS,
    EpochRow,
    Evaluation,
    TrainState,
    evaluate,
    fit,
    make_optimizer,
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


def resume_config(requested: TrainConfig, given: Iterable[str] | None) -> TrainConfig:
    """The config of a resumed run: the saved one, with the options given on this command line on top.

    ``given`` names the options the user typed (``None``: all of them). A recipe option (model, data,
    optimiser, seed…) that contradicts the saved run is a :class:`UsageError`: it would not be a
    continuation of that run; the others (``--epochs``, ``--device``, ``--patience``…) may change.
    """
    run_dir = Path(requested.out or ".")
    saved = read_saved_config(run_dir)
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    given_names = names if given is None else set(given) & names
    typed = {name: getattr(requested, name) for name in given_names - {"resume", "force", "out"}}
    allowed = names - set(RECIPE_FIELDS)
    merged = merge_on_resume(saved, typed, allowed, where=str(run_dir))
    return dataclasses.replace(merged, resume=True, force=False, out=str(run_dir))


def read_saved_config(run_dir: Path) -> TrainConfig:
    """The resolved :class:`TrainConfig` saved in ``run_dir/config.json``, checked field by field."""
    path = run_dir / CONFIG_NAME
    if not path.is_file():
        raise UsageError(f"--resume: {run_dir} holds no drlab training run (no readable {CONFIG_NAME})")
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise UsageError(f"{path}: not a drlab training run's config (no 'config' object)")
    return from_json(TrainConfig, record["config"], str(path))


def train(
    config: TrainConfig,
    *,
    given: Iterable[str] | None = None,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None = None,
) -> TrainResult:
    """Run ``drlab train``: returns the run directory, the test metrics and the history.

    ``given`` (for ``--resume``) names the options typed on the command line; see :func:`resume_config`.
    Every check that can fail (arguments, data, run directory, checkpoint) runs before anything is written.

    Under ``torchrun`` every process runs this function: they join one process group (gloo on CPU,
    NCCL on CUDA with one GPU each), train one model with DistributedDataParallel, and rank 0 alone
    writes the run directory and prints.
    """
    config.check()
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: pip install 'drlab[tensorboard]'")
    out = config.resolved().out
    assert out is not None
    # refuses before any work
    inspect_run_dir(out, "train", resume=config.resume, force=config.force, files=run_files(config))
    if config.resume:
        config = resume_config(config.resolved(), given)
    config = config.resolved()
    joined_here = not distributed.is_initialized()
    env, device = distributed.setup(config.device)  # a single process: nothing to join, just the device
    try:
        return _train(config, env, device, on_epoch_end)
    except RuntimeError as exc:
        if env.launched and distributed.is_collective_failure(exc):
            first = distributed.short_reason(exc)
            raise DrlabError(
                f"rank {env.rank} lost contact with the other processes ({first}); one of them probably "
                f"died (torchrun's report names it). The last checkpoint in {config.out} is complete: "
                "rerun with --resume to continue"
            ) from exc
        raise
    finally:
        if joined_here:
            distributed.teardown()


def run_files(config: TrainConfig) -> list[str]:
    """The files a ``drlab train`` run writes in its folder (``tensorboard/``: a subfolder)."""
    files = [name for name in RUN_FILES["train"] if config.plots or not name.endswith(".png")]
    return files + ([f"{TENSORBOARD_DIR}/"] if config.tensorboard else [])


def _train(
    config: TrainConfig,
    env: distributed.DistEnv,
    device: torch.device,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None,
) -> TrainResult:
    assert config.epochs is not None and config.lr is not None and config.out is not None
    run_dir = Path(config.out)  # rank 0 alone claims it, prints and writes files
    seed_everything(config.seed)  # the same seed on every rank (DDP copies rank 0's weights anyway)
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
    optimizer = make_optimizer(config, raw_model.parameters(), device)
    state = TrainState(raw_model, optimizer, make_scheduler(config, optimizer, len(train_batches)))
    if config.ema is not None:  # the weight average starts from the initial weights
        state.ema = EMA(raw_model, config.ema)
    # the training loss: cross-entropy, with --label-smoothing ε the targets (1 − ε) + ε/K on the true class
    loss_fn = functools.partial(F.cross_entropy, label_smoothing=config.label_smoothing)
    # flips and shifts of each training batch, on the device; a black pixel, normalised, fills the borders
    augment = None
    if config.flip or config.shift:
        augment = BatchAugment(
            flip=bool(config.flip), max_shift=config.shift, fill=-dataset.mean / dataset.std,
            seed=config.seed, device=device,
        )  # fmt: skip
    resumed_at = 0
    if config.resume:  # checked and loaded whole (random generators too) before any file is touched
        resumed_at = _resume(state, run_dir / CHECKPOINT_NAME, checkpoint_info, config)
    # only now that data, model, options and checkpoint are known to be good: lock, mark (--force: clear)
    run = distributed.main_first(
        lambda: claim_run_dir(
            run_dir, "train", resume=config.resume, force=config.force, files=run_files(config)
        )
    )
    with contextlib.ExitStack() as stack:
        if run is not None:
            stack.enter_context(run)  # released at the end; a run that wrote nothing leaves no folder
        return _fit_and_write(
            config, env, device, run, splits, state, model, loss_fn, augment, checkpoint_info,
            (train_batches, val_batches, test_batches), resumed_at, on_epoch_end,
        )  # fmt: skip


def _fit_and_write(
    config: TrainConfig,
    env: distributed.DistEnv,
    device: torch.device,
    run: RunDir | None,
    splits: Splits,
    state: TrainState,
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    augment: BatchAugment | None,
    checkpoint_info: dict[str, Any],
    batches: tuple[Batches, Batches, Batches],
    resumed_at: int,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None,
) -> TrainResult:
    """Train and write the run folder ``run`` (``None`` on the ranks other than 0, which write nothing)."""
    assert config.out is not None
    train_batches, val_batches, test_batches = batches
    dataset, raw_model = splits.dataset, state.raw_model
    log: Callable[[str], None] | None = print if run is not None and not config.quiet else None
    if run is not None:
        config_record = {
            "config": to_dict(config),
            "dataset": _dataset_info(splits),
            "model": {"name": config.model, "parameters": count_parameters(raw_model)},
            "device": str(device),
            "processes": env.world_size,
            "drlab_version": __version__,
            "torch_version": torch.__version__,
        }
        write_run_files(run, records={CONFIG_NAME: config_record})
    if log is not None:
        if config.summary:
            log(summarize(raw_model, dataset.image_shape).table())
        action = f"resuming at epoch {resumed_at + 1}" if config.resume else "training"
        log(
            f"{action}: {config.model} ({count_parameters(raw_model):,} parameters) on {dataset.name} "
            f"({len(splits.y_train):,} train / {len(splits.y_val):,} val / {len(dataset.y_test):,} test images "
            f"of {dataset.image_shape[1]}×{dataset.image_shape[2]}), {config.optimizer} lr {config.lr:g}, "
            f"{config.scheduler} schedule, batch {config.batch_size}, {config.epochs} epochs, on {device}"
            + (
                f" × {env.world_size} processes ({distributed.backend_for(device)})"
                if env.world_size > 1
                else ""
            )
            + (", in bf16" if effective_precision(config.precision, device) == "bf16" else "")
        )

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

    try:
        history = fit(
            model, state, train_batches, val_batches, config, loss_fn=loss_fn, transform=augment, log=log,
            progress=run is not None and not config.quiet, on_epoch_end=end_of_epoch,
        )  # fmt: skip
    finally:
        if writer is not None and run is not None:
            writer.close()
            run.record_folder(TENSORBOARD_DIR)
    test = evaluate(raw_model, test_batches, precision=config.precision, tta_flip=bool(config.tta))
    metrics = _metrics(test, dataset, state, config, device)
    if run is not None:
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
        )
        if config.plots:
            write_run_files(run, figures=_run_figures(history, metrics, dataset, test_batches, raw_model))
        for warning in metrics["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
    if log is not None:
        log(
            f"test accuracy {metrics['test_accuracy']:.4f} (loss {metrics['test_loss']:.4f}) after "
            f"{len(history)} epochs, best validation epoch {state.best_epoch}; run saved in {config.out}/ "
            + (
                "(curves.png, confusion_matrix.png, predictions.png, metrics.json)"
                if config.plots
                else "(metrics.json)"
            )
        )
    distributed.barrier()  # the run is over when rank 0 has written everything
    return TrainResult(run_dir=Path(config.out), metrics=metrics, history=history)


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


def _resume(state: TrainState, path: Path, info: dict[str, Any], config: TrainConfig) -> int:
    """Load the checkpoint ``path`` into ``state`` (random generators included); return its epoch.
    Everything is checked first, in one line each: the run it belongs to, then every field's structure."""
    checkpoint = load_checkpoint(path)  # checksum checked; weights_only=True: a malicious pickle is refused
    done = check_resume(checkpoint, info, config, path)
    state.load_state_dict(checkpoint, str(path), extra={"info": CHECKPOINT_INFO})
    return done


def _metrics(
    test: Evaluation, dataset: ImageDataset, state: TrainState, config: TrainConfig, device: torch.device
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
        "precision": effective_precision(config.precision, device),
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


__all__ = ["TrainResult", "eval_batches", "load_splits", "read_saved_config", "resume_config", "train"]
