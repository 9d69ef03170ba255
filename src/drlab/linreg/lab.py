"""Run the lab: the lecture's data, every method asked for, and least squares as the reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drlab.linreg.config import METHODS, LinregConfig
from drlab.linreg.data import FitResult, RegressionData, least_squares, make_data
from drlab.linreg.numpy_gd import fit_numpy_batch, fit_numpy_minibatch, fit_numpy_sgd
from drlab.linreg.torch_steps import fit_autograd, fit_layer, fit_loss, fit_module, fit_optim

FITS: dict[str, Callable[..., FitResult]] = {
    "numpy-batch": fit_numpy_batch,
    "numpy-sgd": fit_numpy_sgd,
    "numpy-minibatch": fit_numpy_minibatch,
    "autograd": fit_autograd,
    "optim": fit_optim,
    "loss": fit_loss,
    "module": fit_module,
    "layer": fit_layer,
}
assert tuple(FITS) == METHODS


def fit(
    method: str,
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    batch_size: int = 16,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Run one method by name (``numpy-batch`` … ``layer``) on ``data``."""
    if method not in FITS:
        raise ValueError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    kwargs: dict[str, Any] = {"epochs": epochs, "lr": lr, "seed": seed, "initial": initial}
    if method == "numpy-minibatch":
        kwargs["batch_size"] = batch_size
    return FITS[method](data, **kwargs)


@dataclass
class LabReport:
    """The data, the least-squares reference and what each method found."""

    data: RegressionData
    ols: tuple[float, float]
    """(a*, b*): the closed-form least-squares fit on the training set"""
    results: list[FitResult]

    def as_dict(self) -> dict[str, Any]:
        """The ``drlab linreg --json`` object."""
        a_ols, b_ols = self.ols
        return {
            "ols": {"a": a_ols, "b": b_ols},
            "methods": [
                {
                    "method": r.method,
                    "a": r.a,
                    "b": r.b,
                    "train_mse": r.train_mse,
                    "val_mse": r.val_mse,
                    "dist_to_ols": r.distance_to(a_ols, b_ols),
                    "seconds": r.seconds,
                }
                for r in self.results
            ],
        }


def run_lab(config: LinregConfig) -> LabReport:
    """Validate ``config``, make the data and run its methods in the lecture's order."""
    config.check()
    data = make_data(config.data_seed, config.n_samples, config.noise, config.true_a, config.true_b)
    results = [
        fit(
            method,
            data,
            epochs=config.epochs,
            lr=config.lr,
            batch_size=config.batch_size,
            seed=config.seed,
        )
        for method in config.methods
    ]
    return LabReport(data, least_squares(data.x_train, data.y_train), results)


def format_table(report: LabReport, config: LinregConfig) -> str:
    """The ``drlab linreg`` table: one row per method, measured against least squares."""
    a_ols, b_ols = report.ols
    lines = [
        f'least squares ("moindres carrés"), the reference: a* = {a_ols:.6f}, b* = {b_ols:.6f}   '
        f"({report.data.n_train} train / {len(report.data.x_val)} validation points; "
        f"lr {config.lr:g}, {config.epochs} epochs)",
        "",
        f"{'method':<16}{'a':>10}{'b':>10}{'train MSE':>12}{'val MSE':>12}{'dist to OLS':>13}{'time (s)':>10}",
    ]
    for r in report.results:
        lines.append(
            f"{r.method:<16}{r.a:>10.6f}{r.b:>10.6f}{r.train_mse:>12.6f}{r.val_mse:>12.6f}"
            f"{r.distance_to(a_ols, b_ols):>13.2e}{r.seconds:>10.3f}"
        )
    for r in report.results:
        if r.state_dict is not None:
            shown = ", ".join(
                f"'{k}': [{', '.join(f'{v:.4f}' for v in vs)}]" for k, vs in r.state_dict.items()
            )
            lines.append(f"{r.method}: model.state_dict() = {{{shown}}}")
    return "\n".join(lines)
