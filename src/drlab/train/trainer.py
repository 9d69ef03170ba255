"""The training loop of TP1: the lecture's four steps, repeated over mini-batches and epochs.

For every mini-batch (lecture 1, "Descente de gradient : init + itérations")::

    logits = model(x_batch)                   # ❶ forward pass: the current model's predictions
    loss = loss_fn(logits, y_batch)           # ❷ the loss ("fonction de perte")
    loss.backward()                           # ❸ the gradients ∂loss/∂θ
    optimizer.step()                          # ❹ the update ("mise à jour des paramètres")
    optimizer.zero_grad()                     #    then clear the gradients, which accumulate

Read top to bottom:

- :func:`train_one_epoch` and :func:`evaluate` — one epoch ("époque") of those steps, and the
  measurement of a model on held-out data. Plain functions (pytorch/examples' ``train()``/``test()``)
  that return typed records (:class:`EpochRecord`, :class:`Evaluation`) and print nothing.
- :func:`make_scheduler`, :func:`prepare_model` — pieces a run builds (its optimizer comes from
  :func:`drlab.common.optim.make_optimizer`, shared with the RL wing).
- :class:`TrainState` and :func:`fit` — the epochs, the best model, early stopping and the checkpoint
  written after every epoch, so that a run resumes exactly where it stopped.

Several processes (``torchrun``): nothing changes in these functions. :mod:`drlab.train.distributed`
wraps the model (``model`` trains, ``raw_model`` is saved and evaluated, as in nanoGPT); its
all-reduce of the gradients makes W processes take the same step as one; metrics are sums and
counts, summed over the processes by :func:`~drlab.train.distributed.all_reduce_sum` before they are
divided (a no-op on one process).

Speed without hiding the loop: the data already sits on the device (:class:`drlab.data.Batches`),
losses and correct counts stay *on the device* until the end of the epoch (reading a number back with
``.item()`` would make the CPU wait for the GPU after every batch), and evaluation runs under
``torch.inference_mode``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drlab.common.device import EffectivePrecision
from drlab.common.errors import DrlabError, UsageError
from drlab.common.seeding import capture_rng_states, restore_rng_states
from drlab.data import Batches
from drlab.train import distributed
from drlab.train.checkpoint import CHECKPOINT_FORMAT, check_state
from drlab.train.config import SchedulerName, divergence_advice
from drlab.train.metrics import confusion_matrix

#: a loss function ``(logits, labels) -> mean loss over the batch`` (cross-entropy by default)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: every how many batches the losses are checked for NaN/inf and the progress bar is refreshed
#: (each check is a device → host synchronisation; one per batch would stall a GPU)
SYNC_EVERY = 25


# ----------------------------------------------------------------------------- the records
@dataclass(frozen=True)
class EpochRecord:
    """What one pass over the training batches measured, over every process."""

    loss: float
    """mean training loss over the epoch's samples (a sum of per-sample losses, divided once)"""
    accuracy: float
    """share of the epoch's samples whose highest logit was the true class (during training)"""
    samples: int
    """number of training samples seen (all processes)"""
    seconds: float
    """wall-clock time of the training pass alone"""
    lr: float
    """learning rate at the end of the epoch"""

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else math.inf


@dataclass(frozen=True)
class Evaluation:
    """A model measured on held-out batches: loss, accuracy and the confusion matrix they come from."""

    loss: float
    """mean cross-entropy over the samples"""
    accuracy: float
    """share of correct predictions (the confusion matrix's diagonal over its total)"""
    samples: int
    """number of samples measured (all processes)"""
    seconds: float
    """wall-clock time of the measurement"""
    confusion: np.ndarray
    """counts ``C[i, j]`` of samples of true class i predicted as j"""


# ----------------------------------------------------------------------------- one epoch
def train_one_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: LossFn = F.cross_entropy,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    max_grad_norm: float | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    precision: EffectivePrecision = "fp32",
    progress: Any = None,
) -> EpochRecord:
    """One epoch: the four steps of gradient descent for every mini-batch of ``batches``.

    ``scheduler`` (if any) is stepped after every batch; ``max_grad_norm`` bounds the gradients' global
    L2 norm before each update; ``transform`` changes each ``x_batch`` on the device before the forward
    pass (data augmentation); ``precision`` ``bf16`` computes under bfloat16 autocast (see
    :func:`autocast`); ``progress`` is a tqdm bar or ``None``. Raises :class:`DrlabError` as soon as the
    loss is NaN or infinite.
    """
    model.train()  # dropout active; batch norm uses (and updates) the batch's statistics
    tally = _Tally(batches, optimizer, progress)
    optimizer.zero_grad(set_to_none=True)  # start clean, whatever ran before
    start = time.perf_counter()
    for x_batch, y_batch in batches:
        if transform is not None:
            x_batch = transform(x_batch)
        with autocast(precision, x_batch.device):
            logits = model(x_batch)  # ❶ forward pass: a score (logit) per class
            loss = loss_fn(logits.float(), y_batch)  # ❷ loss: cross-entropy, averaged over the batch
        loss.backward()  # ❸ gradients ∂loss/∂θ (several processes: all-reduced meanwhile)
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()  # ❹ update: θ ← θ − lr · (the optimizer's direction)
        optimizer.zero_grad(set_to_none=True)  # gradients add up: clear them for the next batch
        if scheduler is not None:
            scheduler.step()
        tally.add(loss, logits, y_batch)
    loss_sum, correct, count = tally.totals()  # the one synchronisation of the epoch
    return EpochRecord(
        loss=loss_sum / count,
        accuracy=correct / count,
        samples=int(count),
        seconds=time.perf_counter() - start,
        lr=float(optimizer.param_groups[0]["lr"]),
    )


@torch.inference_mode()
def evaluate(
    model: nn.Module, batches: Batches, *, precision: EffectivePrecision = "fp32", tta_flip: bool = False
) -> Evaluation:
    """Loss, accuracy and confusion matrix of ``model`` on ``batches``; prints nothing.

    ``tta_flip`` (test-time augmentation): the logits of each image and of its left-right mirror are
    averaged (for a model trained on flipped images, as ``--flip`` does).

    Runs under ``torch.inference_mode()`` (no autograd bookkeeping at all) with the model in eval
    mode (dropout off, batch norm uses its running statistics), then puts the mode back. With several
    processes each measures its shard of ``batches`` and the counts are summed over the processes.
    """
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=_sum_dtype(batches.device), device=batches.device)
    confusion: torch.Tensor | None = None
    start = time.perf_counter()
    for x_batch, y_batch in batches:
        with autocast(precision, x_batch.device):
            logits = model(x_batch).float()
            if tta_flip:
                logits = (logits + model(x_batch.flip(3)).float()) / 2
        loss_sum += F.cross_entropy(logits, y_batch, reduction="sum")
        counts = confusion_matrix(y_batch, logits.argmax(dim=1), logits.shape[1])
        confusion = counts if confusion is None else confusion + counts
    assert confusion is not None  # Batches refuses empty datasets
    model.train(was_training)
    confusion = distributed.all_reduce_sum(confusion).cpu()
    count = int(confusion.sum())
    return Evaluation(
        loss=float(distributed.all_reduce_sum(loss_sum)) / count,
        accuracy=int(confusion.diagonal().sum()) / count,
        samples=count,
        seconds=time.perf_counter() - start,
        confusion=confusion.numpy(),
    )


def autocast(precision: EffectivePrecision, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast for ``bf16`` (matmuls and convolutions in bf16, the weights and the loss in
    float32; the same exponent range as float32, so no loss scaling); float32 otherwise. A run decides its
    precision once, for its device: :func:`~drlab.common.device.effective_precision`."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sum_dtype(device: torch.device) -> torch.dtype:
    # sums of many losses in float64 (MPS has no float64)
    return torch.float32 if device.type == "mps" else torch.float64


class _Tally:
    """Per-batch losses and correct counts of an epoch, kept on the device until its end.

    Every :data:`SYNC_EVERY` batches (and at the last) one read-back checks that the losses are
    finite and refreshes the progress bar.
    """

    def __init__(self, batches: Batches, optimizer: torch.optim.Optimizer, progress: Any) -> None:
        self.num_batches, self.epoch, self.device = len(batches), batches.epoch, batches.device
        self.optimizer, self.progress = optimizer, progress
        self.losses = torch.full((self.num_batches,), math.nan, device=self.device)
        self.correct = torch.zeros(self.num_batches, dtype=torch.int64, device=self.device)
        self.sizes: list[int] = []
        self.checked = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y_batch: torch.Tensor) -> None:
        step = len(self.sizes)
        self.losses[step] = loss.detach()
        self.correct[step] = (logits.argmax(dim=1) == y_batch).sum()
        self.sizes.append(len(y_batch))
        if (step + 1) % SYNC_EVERY == 0 or step + 1 == self.num_batches:
            self._check_finite(step + 1)
            if self.progress is not None:
                self.progress.set_postfix(
                    loss=f"{float(self.losses[step]):.4f}",
                    acc=f"{int(self.correct[: step + 1].sum()) / sum(self.sizes):.3f}",
                    refresh=False,
                )
        if self.progress is not None:
            self.progress.update(1)

    def totals(self) -> list[float]:
        """Summed loss, correct count and sample count of the epoch, over every process."""
        sizes = torch.tensor(self.sizes, dtype=torch.float32, device=self.device)
        done = len(self.sizes)
        totals = torch.stack(
            [(self.losses[:done] * sizes).sum(), self.correct.sum().to(torch.float32), sizes.sum()]
        ).to(_sum_dtype(self.device))
        return distributed.all_reduce_sum(totals).tolist()

    def _check_finite(self, stop: int) -> None:
        window = self.losses[self.checked : stop]
        finite = torch.isfinite(window)
        self.checked = stop
        if bool(finite.all()):
            return
        bad = stop - len(window) + int((~finite).nonzero()[0, 0])
        before = self.losses[:bad][torch.isfinite(self.losses[:bad])]
        last = f"last finite loss: {float(before[-1]):.4g}" if len(before) else "the epoch's first batch"
        raise divergence_error(
            f"the loss became {float(self.losses[bad])} at epoch {self.epoch + 1}, batch {bad + 1}/"
            f"{self.num_batches} ({last})",
            self.optimizer,
        )


def divergence_error(what: str, optimizer: torch.optim.Optimizer) -> DrlabError:
    """The one-line error of a training run whose loss left the finite numbers: ``what`` happened, and
    the setting to blame (:func:`~drlab.train.config.divergence_advice`) — the ``--lr`` the run was given,
    not where its schedule had taken it (a cosine schedule ends at 0)."""
    group = optimizer.param_groups[0]
    # the schedulers keep the lr they started from: OneCycleLR as max_lr, the others as initial_lr
    lr = float(group.get("max_lr", group.get("initial_lr", group["lr"])))
    decay = float(group.get("weight_decay", 0.0))
    return DrlabError(f"{what}; {divergence_advice(lr, decay, type(optimizer).__name__.lower())}")


# ----------------------------------------------------------------------------- what a run builds
def prepare_model(model: nn.Module, device: torch.device, *, channels_last: bool = False) -> nn.Module:
    """``model`` on ``device``; with ``channels_last``, its weights in the NHWC memory layout.

    Convolutions and max-pooling run much faster channels-last on CPU (oneDNN's native layout). The
    input batches need no conversion: a convolution follows its weights' layout, and a one-channel
    image is laid out the same way in both.
    """
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def make_scheduler(
    name: SchedulerName, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule ``none``, ``cosine`` or ``one-cycle`` over ``total_steps`` batches (the
    whole run), from the optimizer's learning rate."""
    lr = float(optimizer.param_groups[0]["lr"])
    if name == "none":
        return None
    if name == "cosine":  # lr decays from its initial value to 0 along half a cosine
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if name == "one-cycle":  # warm-up to lr for 30% of the steps, then anneal far below
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(2, total_steps))
    raise UsageError(f"unknown scheduler {name!r} (choose from none, cosine, one-cycle)")


# ----------------------------------------------------------------------------- the whole fit
@dataclass(frozen=True)
class EpochRow:
    """One epoch of a fit: one line of ``history.csv``, one entry of the checkpoint's history."""

    epoch: int
    """epoch number, from 1"""
    train_loss: float
    train_accuracy: float
    val_loss: float
    """NaN without validation data"""
    val_accuracy: float
    """NaN without validation data"""
    lr: float
    """learning rate at the end of the epoch's training pass"""
    train_samples: int
    """training samples seen in the epoch"""
    train_seconds: float
    """time of the training pass"""
    val_seconds: float
    """time of the validation pass"""

    @classmethod
    def of(cls, epoch: int, train: EpochRecord, val: Evaluation | None) -> EpochRow:
        return cls(
            epoch=epoch,
            train_loss=train.loss,
            train_accuracy=train.accuracy,
            val_loss=val.loss if val is not None else math.nan,
            val_accuracy=val.accuracy if val is not None else math.nan,
            lr=train.lr,
            train_samples=train.samples,
            train_seconds=train.seconds,
            val_seconds=val.seconds if val is not None else 0.0,
        )

    @property
    def seconds(self) -> float:
        """The whole epoch: training and validation."""
        return self.train_seconds + self.val_seconds

    @property
    def train_samples_per_second(self) -> float:
        """Training speed, on the training time alone (the same base as ``metrics.json``)."""
        return self.train_samples / self.train_seconds if self.train_seconds > 0 else math.inf

    def as_row(self) -> dict[str, float]:
        """The stored fields and the derived figures: a ``history.csv`` line."""
        return {
            **dataclasses.asdict(self),
            "seconds": self.seconds,
            "train_samples_per_second": self.train_samples_per_second,
        }


#: the columns of history.csv, in order
HISTORY_FIELDS = (*(f.name for f in dataclasses.fields(EpochRow)), "seconds", "train_samples_per_second")


@dataclass
class TrainState:
    """Everything a fit changes, hence everything a checkpoint saves and a resumed run puts back."""

    raw_model: nn.Module
    """the model itself (not its DDP wrapper): what is saved, evaluated and exported"""
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    epoch: int = 0
    """epochs done"""
    history: list[EpochRow] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: float = -math.inf
    best_val_loss: float = math.inf
    best_weights: dict[str, torch.Tensor] | None = None
    """a copy of the weights of the best epoch so far"""

    def end_epoch(self, row: EpochRow) -> bool:
        """Record ``row``; remember the weights if it is the best epoch so far (return whether it is).

        The best model has the best *validation* accuracy (training accuracy only grows); on a tie
        (small validation sets) the lower validation loss wins. Without validation data, the training
        figures stand in.
        """
        self.history.append(row)
        self.epoch = row.epoch
        has_val = not math.isnan(row.val_accuracy)
        accuracy = row.val_accuracy if has_val else row.train_accuracy
        loss = row.val_loss if has_val else row.train_loss
        if accuracy > self.best_val_accuracy or (
            accuracy == self.best_val_accuracy and loss < self.best_val_loss
        ):
            self.best_epoch, self.best_val_accuracy, self.best_val_loss = row.epoch, accuracy, loss
            self.best_weights = {k: v.detach().clone() for k, v in self.raw_model.state_dict().items()}
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python data only, so that it loads with ``torch.load(weights_only=True)``."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.raw_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": [dataclasses.asdict(row) for row in self.history],
            "best": {
                "epoch": self.best_epoch,
                "val_accuracy": self.best_val_accuracy,
                "val_loss": self.best_val_loss,
                "model": self.best_weights,
            },
            "rng": capture_rng_states(),
        }

    def check_state_dict(
        self, state: Any, where: str = "the checkpoint", extra: dict[str, Any] | None = None
    ) -> None:
        """Raise a one-line :class:`UsageError` unless ``state`` is what :meth:`state_dict` gives for this
        model, optimizer and schedule (plus the ``extra`` fields' specs); nothing is changed. The rules
        are :func:`drlab.train.checkpoint.check_state`'s."""
        row = {f.name: int if f.type in ("int", int) else float for f in dataclasses.fields(EpochRow)}
        check_state(
            state, where, model=self.raw_model, optimizer=self.optimizer, scheduler=self.scheduler, row=row,
            extra=extra,
        )  # fmt: skip

    def load_state_dict(
        self, state: dict[str, Any], where: str = "the checkpoint", extra: dict[str, Any] | None = None
    ) -> None:
        """Put back a checkpoint made by :meth:`state_dict` (same model, optimizer and schedule), after
        :meth:`check_state_dict` (``extra``: the specs of fields the caller added): a checkpoint that does
        not fit is refused in one line, before any change."""
        self.check_state_dict(state, where, extra)
        try:
            self.raw_model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"{where}: the checkpoint does not fit this model ({first[:200]})") from exc
        self.epoch = int(state["epoch"])
        self.history = [EpochRow(**row) for row in state["history"]]
        best = state["best"]
        self.best_epoch = int(best["epoch"])
        self.best_val_accuracy = float(best["val_accuracy"])
        self.best_val_loss = float(best["val_loss"])
        device = next(self.raw_model.parameters()).device
        self.best_weights = (
            {k: v.to(device) for k, v in best["model"].items()} if best["model"] is not None else None
        )
        restore_rng_states(state["rng"], where)


def fit(
    model: nn.Module,
    state: TrainState,
    train: Batches,
    val: Batches | None,
    *,
    epochs: int,
    max_grad_norm: float | None = None,
    precision: EffectivePrecision = "fp32",
    tta_flip: bool = False,
    loss_fn: LossFn = F.cross_entropy,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[TrainState, EpochRow], None] | None = None,
) -> list[EpochRow]:
    """Train ``model`` from ``state.epoch`` up to ``epochs`` epochs; return the whole history.

    ``model`` is what trains (``state.raw_model``, or its DDP wrapper); ``state.scheduler`` is stepped
    after every batch; ``state.raw_model`` is evaluated on ``val`` after every epoch (``tta_flip``: with
    test-time flips), then ``on_epoch_end(state, row)`` runs: the place to save ``state.state_dict()`` (a
    run resumed from it equals an uninterrupted one, as :func:`drlab.train.run.train_run` does). At the
    end the best epoch's weights are put back. ``max_grad_norm``, ``precision``, ``loss_fn`` and ``transform`` go to
    :func:`train_one_epoch` (a ``transform`` with a ``set_epoch`` method, like
    :class:`~drlab.train.augment.BatchAugment`, is told the epoch first, so that its random draws depend
    on the seed and the epoch only).
    ``log`` receives one line per epoch; ``progress`` shows a bar on a terminal. On several processes,
    give the log, the bar and the checkpoint to rank 0 alone.
    """
    for epoch in range(state.epoch, epochs):
        train.set_epoch(epoch)  # the batch order of epoch e depends on (seed, e) only
        set_epoch = getattr(transform, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)  # and so do the augmentation's draws
        with _progress_bar(progress, len(train), epoch, epochs) as bar:
            record = train_one_epoch(
                model, train, state.optimizer, loss_fn=loss_fn, scheduler=state.scheduler,
                max_grad_norm=max_grad_norm, transform=transform, precision=precision, progress=bar,
            )  # fmt: skip
        distributed.sync_buffers(state.raw_model)  # rank 0's batch-norm statistics become everyone's
        evaluation = (
            evaluate(state.raw_model, val, precision=precision, tta_flip=tta_flip)
            if val is not None
            else None
        )
        if evaluation is not None and not math.isfinite(evaluation.loss):
            # the last updates made the weights infinite: the training losses, measured before them, missed it
            raise divergence_error(
                f"the validation loss became {evaluation.loss} after epoch {epoch + 1}", state.optimizer
            )
        row = EpochRow.of(epoch + 1, record, evaluation)
        improved = state.end_epoch(row)
        if log is not None:
            log(_epoch_line(row, epochs, improved))
        if on_epoch_end is not None:
            on_epoch_end(state, row)
    if state.best_weights is not None:
        state.raw_model.load_state_dict(state.best_weights)
    return state.history


def _epoch_line(row: EpochRow, epochs: int, improved: bool) -> str:
    width = len(str(epochs))
    val = f" | val loss {row.val_loss:.4f} acc {row.val_accuracy:.4f}" if not math.isnan(row.val_loss) else ""
    return (
        f"epoch {row.epoch:>{width}}/{epochs}  train loss {row.train_loss:.4f} acc {row.train_accuracy:.4f}"
        f"{val} | lr {row.lr:.2e} | {row.seconds:.2f} s ({row.train_samples_per_second:,.0f} samples/s)"
        f"{' *' if improved else ''}"
    )


@contextlib.contextmanager
def _progress_bar(show: bool, total: int, epoch: int, epochs: int) -> Iterator[Any]:
    if not (show and sys.stderr.isatty()):
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()
