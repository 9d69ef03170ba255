"""Data for TP1: datasets as arrays, and fast in-memory batches.

The names below are imported lazily (PEP 562 ``__getattr__``): ``drlab data --help`` imports this
package to reach ``drlab.data.cli``, and must not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drlab.data.batches import Batches
    from drlab.data.datasets import ImageDataset, load_digits, train_val_split

_EXPORTS = {
    "Batches": "drlab.data.batches",
    "ImageDataset": "drlab.data.datasets",
    "load_digits": "drlab.data.datasets",
    "train_val_split": "drlab.data.datasets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drlab.data' has no attribute {name!r}")
