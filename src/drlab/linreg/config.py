"""The settings of the regression lab, as one typed dataclass (the ``drlab linreg`` options come from it).

No torch or NumPy here: ``drlab linreg --help`` reads this module and must answer at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from drlab.common.config import check_int, check_number, check_seed
from drlab.common.errors import UsageError

#: bounds that keep the lab in memory: it records (a, b) after every update (one per sample and epoch
#: for numpy-sgd), about 100 bytes each as Python floats, so 10 million updates hold about 1 GiB
MAX_UPDATES = 10_000_000
MAX_EPOCHS = MAX_UPDATES
MAX_SAMPLES = MAX_UPDATES

MethodName = Literal[
    "numpy-batch", "numpy-sgd", "numpy-minibatch", "autograd", "optim", "loss", "module", "layer", "all"
]

# In the order of the lecture: §2 NumPy (three modes), then §3–4 the five PyTorch steps.
NUMPY_METHODS = ("numpy-batch", "numpy-sgd", "numpy-minibatch")
TORCH_METHODS = ("autograd", "optim", "loss", "module", "layer")
METHODS = NUMPY_METHODS + TORCH_METHODS


#: the largest float32 number (the PyTorch methods' dtype)
FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class LinregConfig:
    """One run of the lab: which methods, the lecture's hyper-parameters, the lecture's data."""

    method: MethodName = "all"
    """which gradient descent to run: the three NumPy modes, the five PyTorch steps, or all of them"""
    epochs: int = 1000
    """number of epochs ("époques"): passes over the 80 training samples"""
    lr: float = 0.1
    """learning rate η ("pas d'apprentissage"), > 0"""
    batch_size: int = 16
    """mini-batch size n for numpy-minibatch, 1 ≤ n ≤ N (the training set size)"""
    seed: int = 42
    """seed of the initial a, b (np.random.seed(42) / torch.manual_seed(42) in the lecture) and of the shuffling"""
    data_seed: int = 40
    """seed of the data (np.random.seed(40) in the lecture)"""
    n_samples: int = 100
    """number of (x, y) points: the first 4/5 after shuffling train, the rest validation"""
    noise: float = 0.1
    """standard deviation of the noise added to y = a + b·x"""
    true_a: float = 1.0
    """the intercept a of the line the data come from"""
    true_b: float = 2.0
    """the slope b of the line the data come from"""
    plot: str | None = None
    """folder where to write the PNG plots (fitted lines, loss per epoch)"""
    json: bool = False
    """print one JSON object instead of the table"""

    @property
    def n_train(self) -> int:
        """The number of training samples N (the first 4/5 of the shuffled indices)."""
        return train_size(self.n_samples)

    def check(self) -> None:
        """Raise :class:`UsageError` (one line, exit 2) for settings the lab cannot run with."""
        check_int("--epochs", self.epochs, 1, MAX_EPOCHS)
        # the PyTorch methods compute in float32: a value beyond its range cannot even enter a tensor
        check_number("--lr", self.lr, 0, FLOAT32_MAX, low_open=True)
        check_int("--n-samples", self.n_samples, 2, MAX_SAMPLES)
        check_number("--noise", self.noise, 0, FLOAT32_MAX)
        check_number("--true-a", self.true_a, -FLOAT32_MAX, FLOAT32_MAX)
        check_number("--true-b", self.true_b, -FLOAT32_MAX, FLOAT32_MAX)
        if self.epochs * self.n_train > MAX_UPDATES:
            raise UsageError(
                f"--epochs {self.epochs} × {self.n_train} training samples is {self.epochs * self.n_train:,} "
                f"updates for numpy-sgd, each recorded (about 100 bytes each): keep it ≤ {MAX_UPDATES:,}"
            )
        if not 1 <= self.batch_size <= self.n_train:
            raise UsageError(
                f"--batch-size must be in 1…{self.n_train} (the training set size), got {self.batch_size}"
            )
        check_seed(self.seed)
        check_seed(self.data_seed, "--data-seed")
        if self.plot is not None and os.path.exists(self.plot) and not os.path.isdir(self.plot):
            raise UsageError(f"--plot {self.plot} exists and is not a folder")

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this run covers, in the lecture's order."""
        return METHODS if self.method == "all" else (self.method,)


def train_size(n_samples: int) -> int:
    """The lecture keeps ``idx[:80]`` of 100 for training: 80 %, and at least one point on each side."""
    return min(max(round(0.8 * n_samples), 1), n_samples - 1)


@dataclass
class GraphConfig:
    """Where and how to draw the lecture's computation graphs."""

    out: str = "graphs"
    """folder where the graphs are written (one .dot source and one picture per graph)"""
    format: Literal["svg", "png"] = "svg"
    """picture format rendered by Graphviz's `dot`"""
    seed: int = 42
    """seed of a and b (torch.manual_seed(42) in the lecture)"""
    data_seed: int = 40
    """seed of the data (np.random.seed(40) in the lecture)"""

    def check(self) -> None:
        """Raise :class:`UsageError` (one line, exit 2) for settings that cannot work."""
        if not self.out.strip():
            raise UsageError("--out is empty: name the folder for the graphs")
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise UsageError(f"--out {self.out} exists and is not a folder")
        check_seed(self.seed)
        check_seed(self.data_seed, "--data-seed")
