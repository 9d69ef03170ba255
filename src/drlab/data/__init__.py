"""Data for TP1: the IDX format, files verified by content, the cache, the system's copy and verified
downloads, datasets as arrays, fast batches.

- :func:`load_fashion_mnist` / :func:`load_digits` → :class:`ImageDataset` (uint8 images, int64 labels);
  :func:`load_dataset` picks one by its command-line name
- :func:`read_idx` / :func:`write_idx` — the IDX format, read without trusting its header
- :class:`Batches` — the whole dataset as one normalised tensor on the device, an epoch one ``randperm``

Names are imported on first use, so that ``drlab.data.cli`` (and ``drlab --help``) never loads
NumPy or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drlab.data.batches import Batches
    from drlab.data.catalog import load_dataset
    from drlab.data.datasets import ImageDataset, digits_28x28, load_digits, train_val_split
    from drlab.data.fashion_mnist import FASHION_MNIST, load_fashion_mnist
    from drlab.data.idx import IDXFormatError, read_idx, write_idx
    from drlab.data.manifest import DatasetFile, Manifest
    from drlab.data.paths import resolve_data_dir

_HOMES = {
    "Batches": "drlab.data.batches",
    "ImageDataset": "drlab.data.datasets",
    "digits_28x28": "drlab.data.datasets",
    "load_dataset": "drlab.data.catalog",
    "load_digits": "drlab.data.datasets",
    "train_val_split": "drlab.data.datasets",
    "FASHION_MNIST": "drlab.data.fashion_mnist",
    "load_fashion_mnist": "drlab.data.fashion_mnist",
    "IDXFormatError": "drlab.data.idx",
    "read_idx": "drlab.data.idx",
    "write_idx": "drlab.data.idx",
    "DatasetFile": "drlab.data.manifest",
    "Manifest": "drlab.data.manifest",
    "resolve_data_dir": "drlab.data.paths",
}

__all__ = [
    "FASHION_MNIST",
    "Batches",
    "DatasetFile",
    "IDXFormatError",
    "ImageDataset",
    "Manifest",
    "digits_28x28",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "read_idx",
    "resolve_data_dir",
    "train_val_split",
    "write_idx",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drlab.data' has no attribute {name!r}")
