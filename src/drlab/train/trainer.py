"""The training loop of TP1: the lecture's four steps, repeated over mini-batches and epochs.

For every mini-batch::

    logits = model(x_batch)                   # ➊ forward pass: the current model's predictions
    loss = cross_entropy(logits, y_batch)     # ➋ the loss ("fonction de perte")
    loss.backward()                           # ➌ the gradients ∂loss/∂θ
    optimizer.step()                          # ➍ the update ("descente de gradient")

Everything else here serves those four lines: an epoch ("époque") is one pass over the training
set; after each one the model is evaluated on held-out data, the best model is remembered, and a
checkpoint is written so that a run can be resumed exactly.

Speed without hiding the loop: the data already sits on the device (:class:`drlab.data.Batches`),
losses and correct counts are accumulated *on the device* (reading a number back with ``.item()`` would
make the CPU wait for the GPU after every batch), evaluation runs under ``torch.inference_mode``, and
convolutional models use the channels-last memory layout.

Several processes (``torchrun``, see :mod:`drlab.common.distributed`): :meth:`Trainer.prepare_model`
is the one place the model is wrapped in ``DistributedDataParallel``; each rank's loss is weighted so
that DDP's average of the ranks' gradients is the gradient of the *global* batch's mean loss; metrics
are sums and counts (never averages of averages), summed over the ranks by
:meth:`Trainer.sum_over_processes` before they are divided; the batches' ``set_epoch`` is called every
epoch; and ``is_main_process`` guards every print, progress bar and file write.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlab.common import distributed
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import save_checkpoint
from drlab.data import Batches
from drlab.train.augment import BatchAugment  # [recipes]
from drlab.train.ema import EMA  # [recipes]
from drlab.train.metrics import confusion_matrix

CHECKPOINT_FORMAT = "drlab.train/1"
#: every how many batches the losses are checked for NaN/inf and the progress bar is refreshed
#: (each check is a device → host synchronisation; one per batch would stall a GPU)
SYNC_EVERY = 25


def make_optimizer(
    name: str,
    parameters: Any,
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    device: torch.device,
) -> torch.optim.Optimizer:
    """SGD with momentum, Adam or AdamW; the fused implementation (one kernel for all parameters) where available."""
    params = list(parameters)
    # fused kernels exist for CPU and CUDA; elsewhere (MPS, old torch) fall back to the default
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    builders: dict[str, Callable[..., torch.optim.Optimizer]] = {
        "sgd": lambda **kw: torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw
        ),
        "adam": lambda **kw: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw),
        "adamw": lambda **kw: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kw),
    }
    if name not in builders:
        raise UsageError(f"unknown optimizer {name!r} (choose from {', '.join(builders)})")
    try:
        return builders[name](**fused)
    except (RuntimeError, TypeError, ValueError):
        return builders[name]()


def make_scheduler(
    name: str, optimizer: torch.optim.Optimizer, *, total_steps: int, max_lr: float
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule over ``total_steps`` steps: ``none``, ``cosine`` or ``one-cycle``."""
    if name == "none":
        return None
    if name == "cosine":  # lr decays from its initial value to 0 along half a cosine
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if name == "one-cycle":  # warm-up to max_lr for 30% of the steps, then anneal far below the start
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(2, total_steps))
    raise UsageError(f"unknown scheduler {name!r} (choose from none, cosine, one-cycle)")


class Trainer:
    """Fits a classifier with mini-batch gradient descent, evaluates it, checkpoints it every epoch.

    ``train_one_epoch`` and ``evaluate`` return metrics dicts and print nothing; ``fit`` runs the epochs
    and (on the main process only) shows progress, logs one line per epoch and writes checkpoints.
    """

    def __init__(
        self,
        *,
        optimizer: Literal["sgd", "adam", "adamw"] = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        scheduler: Literal["none", "cosine", "one-cycle"] = "none",
        scheduler_step: Literal["batch", "epoch"] = "batch",
        grad_clip: float | None = None,
        patience: int | None = None,
        restore_best: bool = True,
        device: str | torch.device = "cpu",
        precision: Literal["fp32", "bf16"] = "fp32",
        channels_last: bool = False,
        is_main_process: bool = True,
        progress: bool = True,
        log: Callable[[str], None] | None = print,
        checkpoint_path: str | Path | None = None,
        checkpoint_info: dict[str, Any] | None = None,
        tensorboard_dir: str | Path | None = None,
        label_smoothing: float = 0.0,  # [recipes] the four options of drlab.train.recipes
        augment: BatchAugment | None = None,
        ema_decay: float | None = None,
        tta_flip: bool = False,
    ) -> None:
        self.optimizer_name = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.scheduler_name = scheduler
        self.scheduler_step = scheduler_step
        self.grad_clip = grad_clip
        self.patience = patience
        self.restore_best = restore_best
        self.device = torch.device(device)
        # bfloat16 autocast: matmuls and convolutions in bf16 on CUDA (same exponent range as float32, so
        # no loss scaling is needed); elsewhere the run stays in float32
        self.use_bf16 = precision == "bf16" and self.device.type == "cuda"
        self.channels_last = channels_last
        self.is_main_process = is_main_process
        self.progress = progress and is_main_process
        self.log = log if is_main_process else None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.checkpoint_info = dict(checkpoint_info or {})
        self.tensorboard_dir = tensorboard_dir
        # [recipes] label smoothing, batch augmentation, weight averaging (EMA), test-time flips
        self.label_smoothing = label_smoothing
        self.augment = augment
        self.ema_decay = ema_decay
        self.tta_flip = tta_flip
        self.ema: EMA | None = None
        if precision == "bf16" and not self.use_bf16:
            self._log(f"note: bf16 autocast is used on CUDA only; training in float32 on {self.device.type}")
        # the state of a fit, saved in every checkpoint
        self.model: nn.Module | None = None
        self.module: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_val_accuracy = -math.inf
        self.best_val_loss = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epochs_without_improvement = 0
        self.stopped_early = False
        self.last_finite_loss = math.nan
        # a test aid: DRLAB_FAULT_INJECTION=RANK:EPOCH:STEP kills that rank there (see drlab.common.distributed)
        self.fault = distributed.fault_from_env()

    # ------------------------------------------------------------------ set-up
    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Place ``model`` on the device in the right memory layout; the one place a model is wrapped.

        With several processes it is wrapped in ``DistributedDataParallel`` (which copies rank 0's
        weights to every rank); ``self.module`` always stays the bare model, whose ``state_dict`` is
        saved and which evaluation uses.
        """
        model = model.to(self.device)
        if self.channels_last:
            # NHWC: convolutions and max-pooling run much faster on CPU (oneDNN's native layout)
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.module = model
        return distributed.wrap_model(model, self.device)

    def sum_over_processes(self, totals: torch.Tensor) -> torch.Tensor:
        """Sum metric totals over every process (one process: nothing to do; several: an ``all_reduce``)."""
        return distributed.all_reduce_sum(totals)

    def _log(self, message: str) -> None:
        if self.log is not None and self.is_main_process:
            self.log(message)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def _sum_dtype(self) -> torch.dtype:
        # sums of many losses in float64 (MPS has no float64)
        return torch.float32 if self.device.type == "mps" else torch.float64

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    # ------------------------------------------------------------------ one epoch
    def train_one_epoch(self, batches: Batches, epoch: int = 0, progress: Any = None) -> dict[str, float]:
        """One pass over ``batches`` with the four steps per batch; returns the epoch's training metrics.

        ``progress`` is the caller's progress bar (or ``None``); this method prints nothing itself.
        Raises :class:`DrlabError` as soon as the loss is NaN or infinite.
        """
        if self.model is None or self.optimizer is None:
            raise RuntimeError("call fit() (or setup()) before train_one_epoch()")
        model, optimizer = self.model, self.optimizer
        model.train()  # dropout active, batch norm uses (and updates) the batch statistics
        n_batches = len(batches)
        world_size = batches.world_size
        # per-batch loss and correct counts stay on the device: no synchronisation inside the loop
        batch_losses = torch.full((n_batches,), math.nan, device=self.device)
        batch_correct = torch.zeros(n_batches, dtype=torch.int64, device=self.device)
        batch_sizes: list[int] = []
        checked = 0
        if self.augment is not None:  # [recipes] this epoch's augmentation draws depend on (seed, epoch)
            self.augment.set_epoch(epoch)
        start = time.perf_counter()
        for step, (x_batch, y_batch) in enumerate(batches):
            distributed.maybe_inject_fault(self.fault, epoch + 1, step + 1)
            if self.augment is not None:  # [recipes] flips/shifts of the whole batch, on the device
                x_batch = self.augment(x_batch)
            x_batch = self._layout(x_batch)
            with self._autocast():
                # ➊ forward pass: scores (logits) for every class
                logits = model(x_batch)
                # ➋ loss: cross-entropy = −log softmax(logits)[true class], averaged over the batch
                loss = F.cross_entropy(
                    logits.float(), y_batch, label_smoothing=self.label_smoothing
                )  # [recipes]
            # ➌ gradients: clear the previous ones (set_to_none: no memset), then backpropagate
            optimizer.zero_grad(set_to_none=True)
            if world_size == 1:
                loss.backward()
            else:
                # DDP *averages* the ranks' gradients; weighting this rank's mean loss by W·n_rank/B makes
                # that average the gradient of the global batch's mean loss, even when the ranks hold
                # different numbers of samples (the short last batch). Backward all-reduces them.
                global_count = distributed.global_batch_size(batches.num_samples, batches.batch_size, step)
                (loss * distributed.shard_loss_weight(len(y_batch), global_count, world_size)).backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            # ➍ update: θ ← θ − lr · (the optimizer's direction)
            optimizer.step()
            if self.scheduler is not None and self.scheduler_step == "batch":
                self.scheduler.step()
            if self.ema is not None and self.module is not None:  # [recipes] θ_ema follows θ
                self.ema.update(self.module)

            batch_losses[step] = loss.detach()
            batch_correct[step] = (logits.argmax(dim=1) == y_batch).sum()
            batch_sizes.append(len(y_batch))
            if (step + 1) % SYNC_EVERY == 0 or step + 1 == n_batches:
                self._check_finite(batch_losses, checked, step + 1, epoch)  # a sync point, every few batches
                checked = step + 1
                if progress is not None:
                    seen = sum(batch_sizes)
                    progress.set_postfix(
                        loss=f"{float(batch_losses[step]):.4f}",
                        acc=f"{int(batch_correct[: step + 1].sum()) / seen:.3f}",
                        refresh=False,
                    )
            if progress is not None:
                progress.update(1)
        if self.module is not None:
            distributed.sync_buffers(self.module)  # rank 0's batch-norm statistics become everyone's
        sizes = torch.tensor(batch_sizes, dtype=torch.float32, device=self.device)
        totals = torch.stack(
            [(batch_losses * sizes).sum(), batch_correct.sum().to(torch.float32), sizes.sum()]
        ).to(self._sum_dtype)
        loss_sum, correct, count = self.sum_over_processes(totals).tolist()
        seconds = time.perf_counter() - start
        self.last_finite_loss = float(batch_losses[-1])
        return {
            "loss": loss_sum / count,
            "accuracy": correct / count,
            "samples": count,
            "seconds": seconds,
            "samples_per_second": count / seconds if seconds > 0 else math.inf,
            "lr": float(optimizer.param_groups[0]["lr"]),
        }

    def _check_finite(self, batch_losses: torch.Tensor, start: int, stop: int, epoch: int) -> None:
        window = batch_losses[start:stop]
        finite = torch.isfinite(window)
        if bool(finite.all()):
            return
        bad = start + int((~finite).nonzero()[0, 0])
        before = batch_losses[:bad]
        before = before[torch.isfinite(before)]
        last = float(before[-1]) if len(before) else self.last_finite_loss
        lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else self.lr
        raise DrlabError(
            f"the loss became {float(batch_losses[bad])} at epoch {epoch + 1}, batch {bad + 1}/{len(batch_losses)} "
            f"(last finite loss: {last:.4g}); the learning rate {lr:.3g} is probably too large for this "
            f"model: try --lr {lr / 10:.3g}, or --grad-clip 1.0"
        )

    @torch.inference_mode()
    def evaluate(self, batches: Batches, model: nn.Module | None = None) -> dict[str, Any]:
        """Loss, accuracy and confusion matrix of ``model`` (default: the trainer's) on ``batches``.

        Runs under ``torch.inference_mode()`` (no autograd bookkeeping at all) with the model in eval
        mode (dropout off, batch norm uses its running statistics). Prints nothing. With several
        processes each rank measures its shard of ``batches`` and the totals are summed over the ranks.
        """
        # the bare model: evaluation needs no gradient all-reduce, so no DDP wrapper
        model = model if model is not None else self.module
        if model is None:
            raise RuntimeError("no model to evaluate: pass one or call fit() first")
        was_training = model.training
        model.eval()
        loss_sum = torch.zeros((), dtype=self._sum_dtype, device=self.device)
        confusion: torch.Tensor | None = None
        start = time.perf_counter()
        for x_batch, y_batch in batches:
            with self._autocast():
                logits = model(self._layout(x_batch)).float()
                if self.tta_flip:  # [recipes] test-time flips: average the logits of image and mirror
                    logits = (logits + model(self._layout(x_batch.flip(3))).float()) / 2
            loss_sum += F.cross_entropy(logits, y_batch, reduction="sum")
            counts = confusion_matrix(y_batch, logits.argmax(dim=1), logits.shape[1])
            confusion = counts if confusion is None else confusion + counts
        assert confusion is not None  # Batches refuses empty datasets
        model.train(was_training)
        confusion = self.sum_over_processes(confusion)
        loss_total = float(self.sum_over_processes(loss_sum))
        count = int(confusion.sum())
        correct = int(confusion.diagonal().sum())
        return {
            "loss": loss_total / count,
            "accuracy": correct / count,
            "samples": count,
            "seconds": time.perf_counter() - start,
            "confusion_matrix": confusion.cpu().tolist(),
        }

    # ------------------------------------------------------------------ the whole fit
    def setup(self, model: nn.Module, steps_per_epoch: int, epochs: int) -> None:
        """Place the model and build the optimizer and the learning-rate schedule for ``epochs`` epochs."""
        self.model = self.prepare_model(model)
        assert self.module is not None
        self.optimizer = make_optimizer(
            self.optimizer_name,
            self.module.parameters(),
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            device=self.device,
        )
        # [recipes] the averaged copy starts from the initial weights
        self.ema = EMA(self.module, self.ema_decay) if self.ema_decay is not None else None
        total_steps = epochs * steps_per_epoch if self.scheduler_step == "batch" else epochs
        self.scheduler = make_scheduler(
            self.scheduler_name, self.optimizer, total_steps=total_steps, max_lr=self.lr
        )

    def fit(
        self,
        model: nn.Module,
        train: Batches,
        val: Batches | None,
        epochs: int,
        *,
        resume_from: dict[str, Any] | None = None,
        on_epoch_end: Callable[[Trainer, dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Train ``model`` up to ``epochs`` epochs in total and return the history (one dict per epoch).

        ``resume_from`` is a checkpoint from :meth:`state_dict` (as loaded by ``load_checkpoint``): the
        run continues from its epoch with every state restored, so the result equals an uninterrupted
        run. At the end the weights of the best validation epoch are put back (``restore_best``).
        """
        self.setup(model, len(train), epochs)
        if resume_from is not None:
            self.load_state_dict(resume_from)
        writer = self._tensorboard_writer()
        try:
            for epoch in range(self.epoch, epochs):
                if self.stopped_early:
                    break
                train.set_epoch(epoch)  # the batch order of epoch e depends on (seed, e) only
                with self._progress_bar(len(train), epoch, epochs) as bar:
                    train_metrics = self.train_one_epoch(train, epoch, bar)
                val_metrics = self.evaluate(val, self.eval_module) if val is not None else None  # [recipes]
                if self.scheduler is not None and self.scheduler_step == "epoch":
                    self.scheduler.step()
                record = self._record(epoch, train_metrics, val_metrics)
                self.history.append(record)
                improved = self._track_best(record)
                self.epoch = epoch + 1
                self._log(self._epoch_line(record, epochs, improved))
                if writer is not None:
                    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
                        if not math.isnan(record[key]):
                            writer.add_scalar(key.replace("_", "/", 1), record[key], record["epoch"])
                    writer.flush()
                if self.checkpoint_path is not None and self.is_main_process:
                    save_checkpoint(self.state_dict(), self.checkpoint_path)  # atomic: temp file + rename
                if on_epoch_end is not None:
                    on_epoch_end(self, record)
                if self.stopped_early:
                    self._log(
                        f"early stopping: no better validation accuracy for {self.patience} epochs "
                        f"(best {self.best_val_accuracy:.4f} at epoch {self.best_epoch})"
                    )
        finally:
            if writer is not None:
                writer.close()
        if self.restore_best and self.best_state is not None and self.module is not None:
            self.module.load_state_dict(self.best_state)
        elif self.ema is not None and self.module is not None:  # [recipes] keep the averaged weights
            self.module.load_state_dict(self.ema.module.state_dict())
        return self.history

    @property
    def eval_module(self) -> nn.Module:
        """[recipes] The model that validation measures and the run keeps: the EMA copy, or the model."""
        module = self.ema.module if self.ema is not None else self.module
        if module is None:
            raise RuntimeError("no model yet: call fit() or setup() first")
        return module

    def _record(self, epoch: int, train: dict[str, float], val: dict[str, Any] | None) -> dict[str, float]:
        return {
            "epoch": epoch + 1,
            "train_loss": train["loss"],
            "train_accuracy": train["accuracy"],
            "val_loss": val["loss"] if val is not None else math.nan,
            "val_accuracy": val["accuracy"] if val is not None else math.nan,
            "lr": train["lr"],
            "seconds": train["seconds"] + (val["seconds"] if val is not None else 0.0),
            "train_seconds": train["seconds"],
            "train_samples_per_second": train["samples_per_second"],
        }

    def _track_best(self, record: dict[str, float]) -> bool:
        # the best model is the one with the best *validation* accuracy (training accuracy only grows);
        # on a tie (small validation sets), the lower validation loss wins
        has_val = not math.isnan(record["val_accuracy"])
        accuracy = record["val_accuracy"] if has_val else record["train_accuracy"]
        loss = record["val_loss"] if has_val else record["train_loss"]
        if accuracy > self.best_val_accuracy or (
            accuracy == self.best_val_accuracy and loss < self.best_val_loss
        ):
            assert self.module is not None
            self.best_val_accuracy = accuracy
            self.best_val_loss = loss
            self.best_epoch = int(record["epoch"])
            # [recipes] the weights that were evaluated: the EMA's when there is one
            self.best_state = {k: v.detach().clone() for k, v in self.eval_module.state_dict().items()}
            self.epochs_without_improvement = 0
            return True
        self.epochs_without_improvement += 1
        if self.patience is not None and self.epochs_without_improvement >= self.patience:
            self.stopped_early = True
        return False

    def _epoch_line(self, record: dict[str, float], epochs: int, improved: bool) -> str:
        width = len(str(epochs))
        val = (
            f" | val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.4f}"
            if not math.isnan(record["val_loss"])
            else ""
        )
        return (
            f"epoch {int(record['epoch']):>{width}}/{epochs}  train loss {record['train_loss']:.4f} "
            f"acc {record['train_accuracy']:.4f}{val} | lr {record['lr']:.2e} | {record['seconds']:.2f} s "
            f"({record['train_samples_per_second']:,.0f} samples/s){' *' if improved else ''}"
        )

    @contextlib.contextmanager
    def _progress_bar(self, total: int, epoch: int, epochs: int) -> Iterator[Any]:
        if not (self.progress and sys.stderr.isatty()):
            yield None
            return
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False, file=sys.stderr
        )
        try:
            yield bar
        finally:
            bar.close()

    def _tensorboard_writer(self) -> Any:
        if self.tensorboard_dir is None or not self.is_main_process:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.tensorboard_dir))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this fit exactly: weights, optimizer, schedule, history, RNG states.

        Only tensors and plain Python data, so that it loads with ``torch.load(weights_only=True)``.
        """
        if self.module is None or self.optimizer is None:
            raise RuntimeError("nothing to save before fit()/setup()")
        return {
            "format": CHECKPOINT_FORMAT,
            "info": self.checkpoint_info,
            "epoch": self.epoch,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": copy.deepcopy(self.history),
            "best": {
                "val_accuracy": self.best_val_accuracy,
                "val_loss": self.best_val_loss,
                "epoch": self.best_epoch,
                "model": self.best_state,
                "epochs_without_improvement": self.epochs_without_improvement,
                "stopped_early": self.stopped_early,
            },
            "last_finite_loss": self.last_finite_loss,
            "rng": rng_states(),
            "ema": self.ema.state_dict() if self.ema is not None else None,  # [recipes]
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint made by :meth:`state_dict` (after :meth:`setup` with the same model)."""
        if self.module is None or self.optimizer is None:
            raise RuntimeError("call setup() before load_state_dict()")
        if state.get("format") != CHECKPOINT_FORMAT:
            raise UsageError(f"not a drlab training checkpoint (format {state.get('format')!r})")
        try:
            self.module.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"the checkpoint does not fit this model ({first[:200]})") from exc
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise UsageError("the checkpoint and this run disagree on the learning-rate schedule")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.history = [dict(record) for record in state["history"]]
        best = state["best"]
        self.best_val_accuracy = float(best["val_accuracy"])
        self.best_val_loss = float(best["val_loss"])
        self.best_epoch = int(best["epoch"])
        self.best_state = (
            {k: v.to(self.device) for k, v in best["model"].items()} if best["model"] is not None else None
        )
        self.epochs_without_improvement = int(best["epochs_without_improvement"])
        self.stopped_early = bool(best["stopped_early"])
        self.last_finite_loss = float(state["last_finite_loss"])
        set_rng_states(state["rng"])
        if (state.get("ema") is None) != (self.ema is None):  # [recipes]
            raise UsageError("the checkpoint and this run disagree on --ema (weight averaging)")
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])


def rng_states() -> dict[str, Any]:
    """Every global random state (torch CPU and CUDA, NumPy, Python) as tensors and plain data."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": version,
            "state": torch.tensor(python_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore the random states saved by :func:`rng_states`."""
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python = states["python"]
    random.setstate(
        (python["version"], tuple(int(v) for v in python["state"].tolist()), python["gauss_next"])
    )
