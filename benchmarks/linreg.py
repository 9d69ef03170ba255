"""Benchmark: does drlab's regression lab cost more than the lecture's own code?

For each method, drlab's function and the lecture's snippet (inlined below, as on the slides) run in
this one process on the same data, interleaved (drlab, lecture, lecture, drlab, …), many times; we
report the median µs per epoch ("époque") of each side, the ratio drlab / lecture as the median of the
ratios of adjacent runs — robust to a machine whose load drifts — with target ≤ 1.1 (drlab adds nothing
to what it teaches), and each method's cost relative to NumPy batch gradient descent.

Both sides are timed from the call to the result, set-up included. drlab's side also records (a, b)
after every epoch and evaluates the train/validation loss curves after the loop — the cost of its
history is inside its number. The slides give no code for the stochastic and mini-batch modes; their
baseline is the slide's batch loop body applied to one sample / n samples with NumPy arrays, as a
student would first write it.

    .venv/bin/python benchmarks/linreg.py [--quick] [--repeats R]

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn, optim

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.linreg.data import RegressionData, make_data
from drlab.linreg.lab import fit

TARGET_RATIO = 1.1

# --------------------------------------------------------------------------------------------------
# The lecture's snippets, as on the slides (global seeds included; only x_train_tensor is passed in).


def lecture_numpy_batch(x_train: np.ndarray, y_train: np.ndarray, n_epochs: int) -> tuple[float, float]:
    np.random.seed(42)
    a = np.random.randn(1)
    b = np.random.randn(1)
    lr = 1e-1
    for _epoch in range(n_epochs):
        yhat = a + b * x_train
        error = y_train - yhat
        loss = (error**2).mean()  # noqa: F841 - computed on the slide, unused there too
        a_grad = -2 * error.mean()
        b_grad = -2 * (x_train * error).mean()
        a = a - lr * a_grad
        b = b - lr * b_grad
    return a.item(), b.item()


def lecture_numpy_minibatch(
    x_train: np.ndarray, y_train: np.ndarray, n_epochs: int, batch_size: int = 16
) -> tuple[float, float]:
    np.random.seed(42)
    a = np.random.randn(1)
    b = np.random.randn(1)
    lr = 1e-1
    n = len(x_train)
    for _epoch in range(n_epochs):
        idx = np.random.permutation(n)
        for first in range(0, n, batch_size):
            batch = idx[first : first + batch_size]
            x_batch, y_batch = x_train[batch], y_train[batch]
            yhat = a + b * x_batch
            error = y_batch - yhat
            loss = (error**2).mean()  # noqa: F841
            a_grad = -2 * error.mean()
            b_grad = -2 * (x_batch * error).mean()
            a = a - lr * a_grad
            b = b - lr * b_grad
    return a.item(), b.item()


def lecture_numpy_sgd(x_train: np.ndarray, y_train: np.ndarray, n_epochs: int) -> tuple[float, float]:
    return lecture_numpy_minibatch(x_train, y_train, n_epochs, batch_size=1)


def _lecture_tensors(data: RegressionData) -> tuple[torch.Tensor, torch.Tensor]:
    x_train_tensor = torch.from_numpy(data.x_train).float()
    y_train_tensor = torch.from_numpy(data.y_train).float()
    return x_train_tensor, y_train_tensor


def lecture_autograd(data: RegressionData, n_epochs: int) -> tuple[float, float]:
    x_train_tensor, y_train_tensor = _lecture_tensors(data)
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    lr = 1e-1
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad  # type: ignore[operator]
            b -= lr * b.grad  # type: ignore[operator]
        a.grad.zero_()  # type: ignore[union-attr]
        b.grad.zero_()  # type: ignore[union-attr]
    return a.item(), b.item()


def lecture_optim(data: RegressionData, n_epochs: int) -> tuple[float, float]:
    x_train_tensor, y_train_tensor = _lecture_tensors(data)
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    lr = 1e-1
    optimizer = optim.SGD([a, b], lr=lr)
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return a.item(), b.item()


def lecture_loss(data: RegressionData, n_epochs: int) -> tuple[float, float]:
    x_train_tensor, y_train_tensor = _lecture_tensors(data)
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    lr = 1e-1
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD([a, b], lr=lr)
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        loss = loss_fn(y_train_tensor, yhat)  # the slide's argument order
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return a.item(), b.item()


class LectureManualLinearRegression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))
        self.b = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a + self.b * x


class LectureLayerLinearRegression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def _lecture_model_loop(model: nn.Module, data: RegressionData, n_epochs: int) -> dict[str, Any]:
    x_train_tensor, y_train_tensor = _lecture_tensors(data)
    lr = 1e-1
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=lr)
    for _epoch in range(n_epochs):
        model.train()
        yhat = model(x_train_tensor)
        loss = loss_fn(y_train_tensor, yhat)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.state_dict()


def lecture_module(data: RegressionData, n_epochs: int) -> dict[str, Any]:
    torch.manual_seed(42)
    return _lecture_model_loop(LectureManualLinearRegression(), data, n_epochs)


def lecture_layer(data: RegressionData, n_epochs: int) -> dict[str, Any]:
    torch.manual_seed(42)
    return _lecture_model_loop(LectureLayerLinearRegression(), data, n_epochs)


# --------------------------------------------------------------------------------------------------


def lecture_snippet(method: str, data: RegressionData) -> Callable[[int], object]:
    x_train, y_train = data.x_train, data.y_train
    snippets: dict[str, Callable[[int], object]] = {
        "numpy-batch": lambda n: lecture_numpy_batch(x_train, y_train, n),
        "numpy-sgd": lambda n: lecture_numpy_sgd(x_train, y_train, n),
        "numpy-minibatch": lambda n: lecture_numpy_minibatch(x_train, y_train, n),
        "autograd": lambda n: lecture_autograd(data, n),
        "optim": lambda n: lecture_optim(data, n),
        "loss": lambda n: lecture_loss(data, n),
        "module": lambda n: lecture_module(data, n),
        "layer": lambda n: lecture_layer(data, n),
    }
    return snippets[method]


def seconds_of(call: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few repeats of short runs (a smoke test)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed pairs per method (default 15, quick 3)"
    )
    record.add_save_option(parser)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    scale = 10 if args.quick else 1
    # epochs per timed run: enough for a stable per-epoch figure, short enough for the slow modes
    epochs = {
        "numpy-batch": 2000,
        "numpy-sgd": 40,
        "numpy-minibatch": 200,
        "autograd": 300,
        "optim": 300,
        "loss": 300,
        "module": 300,
        "layer": 300,
    }
    epochs = {name: max(n // scale, 5) for name, n in epochs.items()}
    data = make_data()

    results: dict[str, dict[str, float]] = {}
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {repeats} interleaved pairs, medians", flush=True
    )
    print(
        f"{'method':<16}{'epochs':>7}{'drlab µs/ep':>13}{'lecture µs/ep':>15}{'drlab/lecture':>15}{'÷ numpy-batch':>15}"
    )
    for method, n_epochs in epochs.items():
        snippet = lecture_snippet(method, data)
        fit(method, data, epochs=2)  # warm-up: first optim.SGD imports torch._dynamo (seconds)
        snippet(2)
        drlab_times: list[float] = []
        lecture_times: list[float] = []
        for repeat in range(repeats):
            pair = [
                ("drlab", lambda n=n_epochs, m=method: fit(m, data, epochs=n)),
                ("lecture", lambda n=n_epochs, s=snippet: s(n)),
            ]
            if repeat % 2:  # alternate who goes first, so drift hits both sides alike
                pair.reverse()
            for side, call in pair:
                (drlab_times if side == "drlab" else lecture_times).append(seconds_of(call))
        drlab_us = statistics.median(drlab_times) / n_epochs * 1e6
        lecture_us = statistics.median(lecture_times) / n_epochs * 1e6
        results[method] = {
            "epochs": n_epochs,
            "drlab_us_per_epoch": round(drlab_us, 2),
            "lecture_us_per_epoch": round(lecture_us, 2),
            "ratio_drlab_to_lecture": round(
                statistics.median(d / lec for d, lec in zip(drlab_times, lecture_times, strict=True)), 3
            ),
        }
    base_drlab = results["numpy-batch"]["drlab_us_per_epoch"]
    base_lecture = results["numpy-batch"]["lecture_us_per_epoch"]
    for method, row in results.items():
        row["drlab_ratio_to_numpy_batch"] = round(row["drlab_us_per_epoch"] / base_drlab, 2)
        row["lecture_ratio_to_numpy_batch"] = round(row["lecture_us_per_epoch"] / base_lecture, 2)
        print(
            f"{method:<16}{row['epochs']:>7}{row['drlab_us_per_epoch']:>13.1f}{row['lecture_us_per_epoch']:>15.1f}"
            f"{row['ratio_drlab_to_lecture']:>15.3f}{row['drlab_ratio_to_numpy_batch']:>15.1f}"
        )
    worst = max(results, key=lambda m: results[m]["ratio_drlab_to_lecture"])
    summary = {
        "benchmark": "linreg",
        "quick": args.quick,
        "repeats": repeats,
        "target_ratio": TARGET_RATIO,
        "max_ratio": results[worst]["ratio_drlab_to_lecture"],
        "max_ratio_method": worst,
        "meets_target": results[worst]["ratio_drlab_to_lecture"] <= TARGET_RATIO,
        "methods": results,
    }
    print(
        f"worst drlab/lecture ratio: {summary['max_ratio']} ({worst}); target ≤ {TARGET_RATIO}; "
        f"autograd costs {results['autograd']['drlab_ratio_to_numpy_batch']}× NumPy batch per epoch"
    )
    record.emit("linreg", summary, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
