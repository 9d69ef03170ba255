"""Lecture §2–4: linear regression by gradient descent, in NumPy then in PyTorch step by step.

- :mod:`drlab.linreg.data` — the lecture's data, least squares, :class:`FitResult`;
- :mod:`drlab.linreg.numpy_gd` — batch, stochastic and mini-batch gradient descent, gradients by hand;
- :mod:`drlab.linreg.torch_steps` — autograd, ``optim.SGD``, ``nn.MSELoss``, the two ``nn.Module`` models;
- :mod:`drlab.linreg.pitfalls` — the traps of updating parameters, replayed;
- :mod:`drlab.linreg.graph` — the dynamic computation graph ("graphe de calcul dynamique"), drawn;
- :mod:`drlab.linreg.lab` — run any method by name; :mod:`drlab.linreg.plots` — the pictures.

Names are imported lazily (PEP 562): ``drlab linreg --help`` imports this package and must not pay for
importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drlab.linreg.data import FitResult, RegressionData, least_squares, make_data
    from drlab.linreg.lab import LabReport, fit, run_lab
    from drlab.linreg.numpy_gd import fit_numpy_batch, fit_numpy_minibatch, fit_numpy_sgd, numpy_gradients
    from drlab.linreg.torch_steps import (
        LayerLinearRegression,
        ManualLinearRegression,
        fit_autograd,
        fit_layer,
        fit_loss,
        fit_module,
        fit_optim,
    )

_EXPORTS = {
    "FitResult": "drlab.linreg.data",
    "RegressionData": "drlab.linreg.data",
    "least_squares": "drlab.linreg.data",
    "make_data": "drlab.linreg.data",
    "LabReport": "drlab.linreg.lab",
    "fit": "drlab.linreg.lab",
    "run_lab": "drlab.linreg.lab",
    "fit_numpy_batch": "drlab.linreg.numpy_gd",
    "fit_numpy_sgd": "drlab.linreg.numpy_gd",
    "fit_numpy_minibatch": "drlab.linreg.numpy_gd",
    "numpy_gradients": "drlab.linreg.numpy_gd",
    "fit_autograd": "drlab.linreg.torch_steps",
    "fit_optim": "drlab.linreg.torch_steps",
    "fit_loss": "drlab.linreg.torch_steps",
    "fit_module": "drlab.linreg.torch_steps",
    "fit_layer": "drlab.linreg.torch_steps",
    "ManualLinearRegression": "drlab.linreg.torch_steps",
    "LayerLinearRegression": "drlab.linreg.torch_steps",
}

__all__ = [
    "FitResult",
    "LabReport",
    "LayerLinearRegression",
    "ManualLinearRegression",
    "RegressionData",
    "fit",
    "fit_autograd",
    "fit_layer",
    "fit_loss",
    "fit_module",
    "fit_numpy_batch",
    "fit_numpy_minibatch",
    "fit_numpy_sgd",
    "fit_optim",
    "least_squares",
    "make_data",
    "numpy_gradients",
    "run_lab",
]

assert sorted(_EXPORTS) == __all__


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drlab.linreg' has no attribute {name!r}")
