"""The settings of the regression lab, as one typed dataclass (the ``drlab linreg`` options come from it).

No torch or NumPy here: ``drlab linreg --help`` reads this module and must answer at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from drlab.common.errors import UsageError

MethodName = Literal[
    "numpy-batch", "numpy-sgd", "numpy-minibatch", "autograd", "optim", "loss", "module", "layer", "all"
]

# In the order of the lecture: §2 NumPy (three modes), then §3–4 the five PyTorch steps.
NUMPY_METHODS = ("numpy-batch", "numpy-sgd", "numpy-minibatch")
TORCH_METHODS = ("autograd", "optim", "loss", "module", "layer")
METHODS = NUMPY_METHODS + TORCH_METHODS


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

    def validate(self) -> None:
        """Raise :class:`UsageError` (one line, exit 2) for settings the lab cannot run with."""
        if self.epochs < 1:
            raise UsageError(f"--epochs must be ≥ 1, got {self.epochs}")
        if not self.lr > 0:  # also refuses NaN
            raise UsageError(f"--lr must be > 0, got {self.lr}")
        if self.n_samples < 2:
            raise UsageError(
                f"--n-samples must be ≥ 2 (at least one train and one val point), got {self.n_samples}"
            )
        if not self.noise >= 0:
            raise UsageError(f"--noise must be ≥ 0, got {self.noise}")
        if not 1 <= self.batch_size <= self.n_train:
            raise UsageError(
                f"--batch-size must be in 1…{self.n_train} (the training set size), got {self.batch_size}"
            )
        if not 0 <= self.seed < 2**32 or not 0 <= self.data_seed < 2**32:
            raise UsageError("--seed and --data-seed must be in [0, 2**32)")
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

    def validate(self) -> None:
        """Raise :class:`UsageError` (one line, exit 2) for settings that cannot work."""
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise UsageError(f"--out {self.out} exists and is not a folder")
        if not 0 <= self.seed < 2**32 or not 0 <= self.data_seed < 2**32:
            raise UsageError("--seed and --data-seed must be in [0, 2**32)")
