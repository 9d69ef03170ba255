"""Lecture §2 — gradient descent ("descente de gradient") in NumPy, with the hand-derived gradients.

For the model ŷ = a + b·x and the loss MSE = mean((y − ŷ)²)::

    ∂MSE/∂a = −2 · mean(y − ŷ)          ∂MSE/∂b = −2 · mean(x · (y − ŷ))

Every iteration is the lecture's four steps: ❶ forward pass, ❷ loss, ❸ gradients, ❹ update. The three
modes differ only in how many samples one iteration uses:

- **batch**: all N samples — 1 epoch ("époque") = 1 update;
- **stochastic**: one sample — 1 epoch = N updates, in a new random order every epoch;
- **mini-batch**: n samples — 1 epoch = ⌈N/n⌉ updates, in a new random order every epoch.

Each function records (a, b) after every epoch — two reads of a float, nothing more, so the loop costs
what the lecture's loop costs; the loss curves are computed from that trajectory after training.
"""

from __future__ import annotations

import time

import numpy as np

from drlab.linreg.data import FitResult, RegressionData, make_result


def numpy_initial_parameters(seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The lecture's random start: ``np.random.seed(42); a = randn(1); b = randn(1)`` (a local generator)."""
    rng = np.random.RandomState(seed)  # the same stream as np.random.seed(seed)
    a = rng.randn(1)
    b = rng.randn(1)
    return a, b


def _start(initial: tuple[float, float] | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if initial is None:
        return numpy_initial_parameters(seed)
    return np.array([initial[0]], dtype=np.float64), np.array([initial[1]], dtype=np.float64)


def numpy_gradients(a: float, b: float, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(∂MSE/∂a, ∂MSE/∂b) at (a, b), derived by hand — what ``loss.backward()`` must agree with."""
    error = y - (a + b * x)
    return float(-2 * error.mean()), float(-2 * (x * error).mean())


def fit_numpy_batch(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Batch gradient descent: every update uses the whole training set (the lecture's loop)."""
    a, b = _start(initial, seed)
    x_train, y_train = data.x_train, data.y_train
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        # ❶ forward pass: the model's predictions ŷ
        yhat = a + b * x_train
        # ❷ loss: the error, of which MSE = mean(error²) is the loss; descending needs only the error,
        #    so the MSE itself is evaluated from the recorded (a, b) after training
        error = y_train - yhat
        # ❸ gradients, derived by hand
        a_grad = -2 * error.mean()
        b_grad = -2 * (x_train * error).mean()
        # ❹ update, with the learning rate ("pas d'apprentissage")
        a = a - lr * a_grad
        b = b - lr * b_grad
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("numpy-batch", trajectory, data, seconds)


def fit_numpy_sgd(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Stochastic gradient descent: one sample per update, N updates per epoch, reshuffled every epoch.

    With one sample the mean in the gradients is that sample itself. The loop works on Python floats:
    a NumPy call on a one-element array costs about a microsecond of overhead, ten times the arithmetic,
    and 1000 epochs are 80 000 updates. The numbers are the same float64 numbers NumPy would give
    (the tests check it against :func:`fit_numpy_minibatch` with ``batch_size=1``).
    """
    a_start, b_start = _start(initial, seed)
    a, b = a_start.item(), b_start.item()
    xs, ys = data.x_train.ravel().tolist(), data.y_train.ravel().tolist()
    rng = np.random.default_rng(seed)  # the order of the samples, drawn anew every epoch
    trajectory = [(a, b)]
    start = time.perf_counter()
    for _epoch in range(epochs):
        for i in rng.permutation(len(xs)).tolist():
            x_i, y_i = xs[i], ys[i]
            # ❶ forward pass on one sample
            yhat = a + b * x_i
            # ❷ loss: the error on that sample
            error = y_i - yhat
            # ❸ gradients: −2·mean(error) and −2·mean(x·error) over a single sample
            a_grad = -2 * error
            b_grad = -2 * (x_i * error)
            # ❹ update
            a = a - lr * a_grad
            b = b - lr * b_grad
        trajectory.append((a, b))
    seconds = time.perf_counter() - start
    return make_result("numpy-sgd", trajectory, data, seconds)


def fit_numpy_minibatch(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    batch_size: int = 16,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Mini-batch gradient descent: n samples per update, ⌈N/n⌉ updates per epoch, reshuffled each epoch."""
    if not 1 <= batch_size <= data.n_train:
        raise ValueError(f"batch_size must be in 1…{data.n_train}, got {batch_size}")
    a, b = _start(initial, seed)
    x_train, y_train = data.x_train, data.y_train
    rng = np.random.default_rng(seed)
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        order = rng.permutation(data.n_train)
        for first in range(0, data.n_train, batch_size):
            batch_idx = order[first : first + batch_size]  # the last batch may be smaller
            x_batch, y_batch = x_train[batch_idx], y_train[batch_idx]
            # ❶ forward pass on the mini-batch
            yhat = a + b * x_batch
            # ❷ loss: the error on the mini-batch
            error = y_batch - yhat
            # ❸ gradients, the same formulas averaged over n samples
            a_grad = -2 * error.mean()
            b_grad = -2 * (x_batch * error).mean()
            # ❹ update
            a = a - lr * a_grad
            b = b - lr * b_grad
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("numpy-minibatch", trajectory, data, seconds)
