"""The lecture's data (§2), the closed-form least-squares solution, and what every method returns.

The lecture draws its data from NumPy's global generator::

    np.random.seed(40)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + .1 * np.random.randn(100, 1)
    idx = np.arange(100); np.random.shuffle(idx)
    train_idx = idx[:80]

``np.random.RandomState(40)`` is that very generator, so :func:`make_data` gives the same numbers to
the last bit without touching the global state of a program that imports drlab.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drlab.linreg.config import train_size


@dataclass(frozen=True)
class RegressionData:
    """The points (x, y), split as the lecture does: shuffled, first 80 % train, the rest validation."""

    x_train: np.ndarray
    """(N, 1) float64 features of the training set"""
    y_train: np.ndarray
    """(N, 1) float64 labels of the training set"""
    x_val: np.ndarray
    """(M, 1) float64 features of the validation set"""
    y_val: np.ndarray
    """(M, 1) float64 labels of the validation set"""

    @property
    def n_train(self) -> int:
        return len(self.x_train)


def make_data(
    seed: int = 40, n_samples: int = 100, noise: float = 0.1, true_a: float = 1.0, true_b: float = 2.0
) -> RegressionData:
    """The lecture's data: ``y = a + b·x + noise·ε``, x ~ U[0, 1), ε ~ N(0, 1), 80/20 split."""
    rng = np.random.RandomState(seed)  # the same stream as np.random.seed(seed), kept local
    x = rng.rand(n_samples, 1)
    y = true_a + true_b * x + noise * rng.randn(n_samples, 1)
    # Shuffles the indices, then the first 80 % are the training set
    idx = np.arange(n_samples)
    rng.shuffle(idx)
    n_train = train_size(n_samples)
    train_idx, val_idx = idx[:n_train], idx[n_train:]
    return RegressionData(x[train_idx], y[train_idx], x[val_idx], y[val_idx])


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The closed-form minimiser (a*, b*) of the MSE ("moindres carrés"): the reference for every method."""
    design = np.hstack([np.ones_like(x), x])  # one column for a, one for b
    (a, b), *_ = np.linalg.lstsq(design, y.ravel(), rcond=None)
    return float(a), float(b)


def mse(a: float, b: float, x: np.ndarray, y: np.ndarray) -> float:
    """MSE = mean((y − (a + b·x))²) in float64."""
    return float(np.mean((y - (a + b * x)) ** 2))


def mse_along(trajectory: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The MSE at every row (a, b) of ``trajectory`` (shape (T, 2)), in one vectorised pass."""
    a, b = trajectory[:, :1], trajectory[:, 1:]  # (T, 1) each, broadcast against the (N,) data
    return np.mean((y.ravel() - (a + b * x.ravel())) ** 2, axis=1)


@dataclass
class FitResult:
    """What one gradient-descent method found, how it got there, and how long it took."""

    method: str
    """the method's name (numpy-batch, autograd, layer, …)"""
    a: float
    """the learnt intercept"""
    b: float
    """the learnt slope"""
    trajectory: np.ndarray
    """(epochs + 1, 2) float64: (a, b) before training (row 0) and after each epoch"""
    train_loss: np.ndarray
    """(epochs + 1,) training MSE at each row of ``trajectory`` (row 0: before training)"""
    val_loss: np.ndarray
    """(epochs + 1,) validation MSE at each row of ``trajectory``"""
    seconds: float
    """wall time of the training loop"""
    state_dict: dict[str, list[float]] | None = field(default=None)
    """the model's ``state_dict()`` as plain lists (the nn.Module methods only)"""

    @property
    def train_mse(self) -> float:
        return float(self.train_loss[-1])

    @property
    def val_mse(self) -> float:
        return float(self.val_loss[-1])

    @property
    def epochs(self) -> int:
        return len(self.trajectory) - 1

    def distance_to(self, a: float, b: float) -> float:
        """Euclidean distance from the learnt (a, b) to another point, e.g. least squares."""
        return float(np.hypot(self.a - a, self.b - b))


def make_result(
    method: str,
    trajectory: list[tuple[float, float]],
    data: RegressionData,
    seconds: float,
    state_dict: dict[str, list[float]] | None = None,
) -> FitResult:
    """Package a recorded trajectory; the loss curves are evaluated here, outside the timed loop."""
    path = np.asarray(trajectory, dtype=np.float64)
    return FitResult(
        method=method,
        a=float(path[-1, 0]),
        b=float(path[-1, 1]),
        trajectory=path,
        train_loss=mse_along(path, data.x_train, data.y_train),
        val_loss=mse_along(path, data.x_val, data.y_val),
        seconds=seconds,
        state_dict=state_dict,
    )
