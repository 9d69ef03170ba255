"""The configuration of a TP1 training run (no torch here: ``drlab train --help`` must answer at once)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from drlab.common.device import Precision

DatasetName = Literal["fashion-mnist", "digits"]
ModelName = Literal["softmax", "mlp", "cnn", "cnn-bn", "cnn-fast", "cnn-deep"]
OptimizerName = Literal["sgd", "adam", "adamw"]
SchedulerName = Literal["none", "cosine", "one-cycle"]
RecipeName = Literal["fast", "accurate", "gpu"]  # [recipes] the named recipes of drlab.train.recipes

#: learning rate ("pas d'apprentissage") used when --lr is not given: SGD with momentum wants a larger
#: step than Adam, whose steps are already normalised by the gradients' scale
DEFAULT_LR: dict[str, float] = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
#: weight decay when --weight-decay is not given (AdamW's decoupled decay is its reason to exist)
DEFAULT_WEIGHT_DECAY: dict[str, float] = {"sgd": 0.0, "adam": 0.0, "adamw": 0.01}
#: epochs when --epochs is not given: enough to reach each model's accuracy goal on Fashion-MNIST
DEFAULT_EPOCHS: dict[str, int] = {
    "softmax": 10,
    "mlp": 15,
    "cnn": 12,
    "cnn-bn": 20,
    "cnn-fast": 6,
    "cnn-deep": 20,
}
#: [recipes] the models trained by default with random flips and evaluated with test-time flips: the
#: batch-norm CNN over-fits without them (validation 0.942 but test 0.929 measured without), and its
#: 20 epochs leave room for the augmented data
FLIPPED_BY_DEFAULT = ("cnn-bn", "cnn-fast", "cnn-deep")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved, resolved, in ``RUN/config.json``."""

    recipe: RecipeName | None = None
    """a named recipe (fast, accurate, gpu) whose settings replace the defaults; options given still win"""
    dataset: DatasetName = "fashion-mnist"
    """the images to classify (digits: the 8×8 handwritten digits bundled with drlab, offline)"""
    model: ModelName = "mlp"
    """the classifier (see drlab.models)"""
    epochs: int | None = None
    """total number of epochs ("époques"); --resume continues up to this number (default: per model)"""
    batch_size: int = 128
    """samples per gradient step (mini-batch gradient descent)"""
    lr: float | None = None
    """learning rate ("pas d'apprentissage") (default: 0.05 for sgd, 1e-3 for adam/adamw)"""
    optimizer: OptimizerName = "adam"
    """update rule: sgd (with momentum), adam or adamw"""
    momentum: float = 0.9
    """SGD momentum (ignored by adam/adamw)"""
    weight_decay: float | None = None
    """L2 penalty / decoupled weight decay (default: 0, or 0.01 for adamw)"""
    scheduler: SchedulerName = "cosine"
    """learning-rate schedule: none, cosine (decays to 0) or one-cycle (warm-up then decay)"""
    max_grad_norm: float | None = None
    """clip the gradients' global L2 norm to this value before each update (torch's clip_grad_norm_)"""
    dropout: float | None = None
    """dropout probability for mlp and the CNNs with batch norm (default: 0.3 for cnn-bn, otherwise 0)"""
    label_smoothing: float = 0.0
    """label smoothing of the cross-entropy: the target gives this much probability to the other classes"""
    flip: bool | None = None
    """augmentation: mirror a random half of every training batch left ↔ right (default: on for the
    batch-norm CNNs: cnn-bn, cnn-fast, cnn-deep)"""
    shift: int = 0
    """augmentation: translate every training image by its own random (dy, dx) of at most N pixels, the
    border filled with the background (the accurate recipe: 1)"""
    tta: bool | None = None
    """test-time flips: average the predictions of an image and of its mirror (default: on for the
    batch-norm CNNs)"""
    compile: bool = False
    """compile the model with torch.compile (pays off on a GPU for long runs; slow to start)"""
    val_fraction: float = 0.1
    """share of the training images held out for validation (it chooses the epoch whose weights are kept)"""
    seed: int = 0
    """seed of every random number: weights, split, batch order, dropout"""
    device: str = "auto"
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"""
    precision: Precision = "fp32"
    """bf16: bfloat16 autocast on CUDA or the CPU (about 2x faster on a CPU with AVX512-BF16 or AMX,
    slower on others); auto: bf16 where the hardware has it, else fp32"""
    channels_last: bool = True
    """store images and convolution weights channels-last (faster convolutions and pooling on CPU)"""
    data_dir: str | None = None
    """where the Fashion-MNIST files are cached (default: drlab's data cache)"""
    offline: bool = False
    """never download: use the cached files or fail"""
    limit: int | None = None
    """train on the first N samples only (and test on at most N): the tiny budget of tests and notebooks"""
    tensorboard: bool = False
    """also log the curves for TensorBoard in RUN/tensorboard"""
    plots: bool = True
    """draw the PNG pictures at the end (--no-plots saves a few seconds on tiny runs)"""
    summary: bool = False
    """print the model's layers, output shapes and parameter counts before training"""

    def resolved(self) -> ResolvedTrainConfig:
        """This config, :meth:`check`-ed, with every per-model/per-optimizer default filled in (what a run
        trains with and config.json records)."""
        self.check()
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(TrainConfig)}
        values.update(
            epochs=DEFAULT_EPOCHS[self.model] if self.epochs is None else self.epochs,
            lr=DEFAULT_LR[self.optimizer] if self.lr is None else self.lr,
            weight_decay=DEFAULT_WEIGHT_DECAY[self.optimizer]
            if self.weight_decay is None
            else self.weight_decay,
            dropout=self.dropout if self.dropout is not None else (0.3 if self.model == "cnn-bn" else 0.0),
            flip=self.model in FLIPPED_BY_DEFAULT if self.flip is None else self.flip,  # [recipes]
            tta=self.model in FLIPPED_BY_DEFAULT if self.tta is None else self.tta,
        )
        return ResolvedTrainConfig(**values)

    def check(self) -> None:
        """Raise :class:`~drlab.common.errors.UsageError` for values no run can use (every float finite)."""
        from drlab.common.config import check_int, check_number, check_seed
        from drlab.common.device import check_device
        from drlab.common.errors import UsageError

        if self.epochs is not None:
            check_int("--epochs", self.epochs, 1)
        check_int("--batch-size", self.batch_size, 1)
        if self.lr is not None:
            check_number("--lr", self.lr, 0, None, low_open=True)
        check_number("--momentum", self.momentum, 0, 1, high_open=True)
        if self.weight_decay is not None:
            check_number("--weight-decay", self.weight_decay, 0)
        if self.max_grad_norm is not None:
            check_number("--max-grad-norm", self.max_grad_norm, 0, None, low_open=True)
        if self.dropout is not None:
            check_number("--dropout", self.dropout, 0, 1, high_open=True)
        check_number("--label-smoothing", self.label_smoothing, 0, 1, high_open=True)
        check_int("--shift", self.shift, 0, 8)
        check_number("--val-fraction", self.val_fraction, 0, 1, low_open=True, high_open=True)
        check_seed(self.seed)
        check_device(self.device)
        if self.limit is not None and self.limit < 20:
            raise UsageError(f"--limit must be ≥ 20 (a train and a validation part), got {self.limit}")


@dataclass(kw_only=True)
class ResolvedTrainConfig(TrainConfig):
    """A :class:`TrainConfig` whose per-model and per-optimizer defaults are filled in
    (:meth:`TrainConfig.resolved`): what a run trains with and what its ``config.json`` records."""

    epochs: int
    lr: float
    weight_decay: float
    dropout: float
    flip: bool
    tta: bool


def default_out(config: TrainConfig) -> str:
    """The run folder of ``config`` when ``--out`` is not given: ``runs/DATASET-MODEL``."""
    return f"runs/{config.dataset}-{config.model}"


#: the fields that define *what* is learned; a run resumed with a different value would not continue it
RECIPE_FIELDS = (
    "dataset", "model", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "scheduler",
    "max_grad_norm", "dropout", "val_fraction", "seed", "limit", "label_smoothing", "flip",
    "shift",
)  # fmt: skip
#: the options a ``--resume`` may change: how long, where and how fast it runs, what it writes
RESUMABLE = tuple(
    field.name for field in dataclasses.fields(TrainConfig) if field.name not in (*RECIPE_FIELDS, "recipe")
)
#: options renamed since an earlier drlab: their runs' config.json and checkpoints still read, and resume
RENAMED_FIELDS = {"grad_clip": "max_grad_norm"}
#: options an earlier drlab had (they measured to give nothing), with the value that did nothing. A run
#: saved with another value still reads (drlab evaluate, drlab predict: they only need its weights) but
#: does not resume: this drlab could not continue it the way it started. (``amp`` lives on in the saved
#: ``precision``; ``out``, ``resume``, ``force`` and ``quiet`` became run options, not settings.)
RETIRED_FIELDS: dict[str, object] = {"scheduler_step": "batch", "ema": None, "patience": None}


#: a weight decay at or above this (or one whose step, lr × decay, reaches 1) is the likely cause of a
#: divergence: usual values are 1e-4 to 0.1
LARGE_WEIGHT_DECAY = 1.0


def divergence_advice(lr: float, weight_decay: float, optimizer: str) -> str:
    """What to change when a run diverged with these settings: a weight decay large enough to blow up the
    weights by itself; else the learning rate, with a tenth of it as the suggestion (never more than the
    optimizer's default: a tenth of 1e300 is no advice)."""
    if weight_decay >= LARGE_WEIGHT_DECAY or lr * weight_decay >= 1:
        return (
            f"--weight-decay {weight_decay:g} is far too large (usual values are 1e-4 to 0.1: each step "
            f"pulls the weights toward 0 by lr × weight decay = {lr * weight_decay:.3g} of themselves): try "
            "--weight-decay 0.01"
        )
    suggestion = min(lr / 10, DEFAULT_LR.get(optimizer, lr / 10))
    return (
        f"the learning rate --lr {lr:g} is probably too large for this model: try --lr {suggestion:.2g}, "
        "or --max-grad-norm 1.0"
    )
