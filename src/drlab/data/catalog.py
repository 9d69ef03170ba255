"""The datasets ``drlab train`` knows, by their command-line names, and one function to load any of them."""

from __future__ import annotations

import os

from drlab.common.errors import UsageError
from drlab.data.datasets import ImageDataset, load_digits
from drlab.data.fashion_mnist import load_fashion_mnist

DATASET_NAMES = ("fashion-mnist", "digits")


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
    offline: bool | None = None,
    verify: bool = True,
) -> ImageDataset:
    """Load a dataset by its command-line name: ``fashion-mnist`` (cache, system copy or download) or
    ``digits`` (bundled, 8×8).

    ``seed`` chooses the digits' train/test split; Fashion-MNIST's split is the published one.
    """
    if name == "digits":
        return load_digits(seed=seed)
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir, download, offline=offline, verify=verify)
    raise UsageError(f"unknown dataset {name!r} (choose from {', '.join(DATASET_NAMES)})")
