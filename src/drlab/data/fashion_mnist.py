"""Fashion-MNIST (Zalando, 2017), the dataset of TP1: its files, mirrors, classes, and its loader.

70,000 grayscale 28×28 images of clothes in 10 classes (60,000 for training, 10,000 for testing), in
the same IDX format and the same sizes as MNIST, so that it drops in wherever MNIST was used — which
is also why a broken mirror can serve MNIST under the same file names without anyone noticing.
drlab checks every file by content (Zalando's bytes, or unpacked bytes with the right SHA-256: see
:mod:`drlab.data.verify`) and recognises MNIST's files by name.

Where the files come from (:mod:`drlab.data.cache`): drlab's cache, then the system's copy (Debian
and Ubuntu: ``sudo apt install dataset-fashion-mnist``, into ``/usr/share/datasets/fashion-mnist/``,
read in place), then Zalando's mirrors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from drlab.data.cache import FileStatus, ensure_files
from drlab.data.config import DOWNLOAD_TIMEOUT
from drlab.data.datasets import ImageDataset
from drlab.data.idx import IDXFormatError, read_idx
from drlab.data.manifest import DatasetFile, Impostor, Manifest

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# The standard normalisation: mean and std of pixel/255 over the 60,000 training images (the values of
# torchvision's usual ``Normalize((0.2860,), (0.3530,))``). MNIST's are 0.1307 and 0.3081.
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
MNIST_MEAN = 0.1307

# Sizes and MD5s as Zalando publishes them (github.com/zalandoresearch/fashion-mnist, README); the
# SHA-256 of each .gz and of its unpacked IDX file, measured on the genuine files (Zalando's bytes
# rebuilt from Debian's dataset-fashion-mnist, whose gzip headers differ: tests/test_real_fashion_mnist.py
# holds these values against the real bytes). The unpacked MD5s Zalando's README does not list, but
# many scripts pin, are f4a8712d…, 9018921c…, 8181f547… and 15d48437… (not needed here).
FASHION_MNIST_FILES = {
    "train_images": DatasetFile(
        name="train-images-idx3-ubyte.gz",
        size=26_421_880,
        md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        shape=(60_000, 28, 28),
        unpacked_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": DatasetFile(
        name="train-labels-idx1-ubyte.gz",
        size=29_515,
        md5="25c81989df183df01b3e8a0aad5dffbe",
        sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        shape=(60_000,),
        unpacked_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": DatasetFile(
        name="t10k-images-idx3-ubyte.gz",
        size=4_422_102,
        md5="bef4ecab320f06d8554ea6380940ec79",
        sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        shape=(10_000, 28, 28),
        unpacked_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": DatasetFile(
        name="t10k-labels-idx1-ubyte.gz",
        size=5_148,
        md5="bb300cfdad3c16e7a12a480ee83cd310",
        sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        shape=(10_000,),
        unpacked_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}

# MNIST's four files (same names, same format): sizes and MD5s as torchvision and TensorFlow list them.
MNIST_IMPOSTORS = (
    Impostor("MNIST's train-images-idx3-ubyte.gz", "MNIST", 9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    Impostor("MNIST's train-labels-idx1-ubyte.gz", "MNIST", 28_881, "d53e105ee54ea40749a09fcbcd1e9432"),
    Impostor("MNIST's t10k-images-idx3-ubyte.gz", "MNIST", 1_648_877, "9fb629c4189551a2d022fa330f9573f3"),
    Impostor("MNIST's t10k-labels-idx1-ubyte.gz", "MNIST", 4_542, "ec29112dd5afa0611ce80d1b7f02629c"),
)

FASHION_MNIST_MIRRORS = (
    # Zalando's own site (plain HTTP: the files are verified by checksum, not by the transport)
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    # the GitHub repository's copy, pinned to a commit that holds data/fashion/ (the files have not
    # changed since 2017), so that a later push to master cannot change what drlab downloads
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/949006594cc2f804a93b9155849734564c3545ec/data/fashion/",
    # the copy Keras downloads (keras.datasets.fashion_mnist), same file names
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)

FASHION_MNIST = Manifest(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=FASHION_MNIST_FILES,
    mirrors=FASHION_MNIST_MIRRORS,
    classes=FASHION_MNIST_CLASSES,
    mean=FASHION_MNIST_MEAN,
    std=FASHION_MNIST_STD,
    impostors=MNIST_IMPOSTORS,
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    publisher="Zalando",
    system_package="dataset-fashion-mnist",
    lookalike_means=(("MNIST", MNIST_MEAN),),
)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    mirrors: Sequence[str] = (),
    offline: bool | None = None,
    verify: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT,
    progress: bool | None = None,
    manifest: Manifest = FASHION_MNIST,
) -> ImageDataset:
    """Fashion-MNIST's train and test splits as uint8 images ``(N, 28, 28)`` and int64 labels.

    Each file is taken from ``data_dir/fashion-mnist/`` (the cache), else from the system's copy
    (``/usr/share/datasets/fashion-mnist/``, read in place), else downloaded (``mirrors`` first, then the
    official ones) unless ``download=False`` or offline mode is on (``offline=True`` or
    ``DRLAB_OFFLINE=1``), in which case a :class:`~drlab.common.errors.DrlabError` lists what is missing
    and how to get it. Every file is verified by content (``verify=False`` skips that); a wrong file is
    a :class:`~drlab.common.errors.UsageError` that names it and says what it probably is.
    ``manifest`` describes the files (tests pass their own).
    """
    statuses = ensure_files(
        manifest, data_dir, download=download, mirrors=mirrors, offline=offline, verify=verify,
        timeout=timeout, progress=progress,
    )  # fmt: skip
    paths = {role: status.path for role, status in statuses.items() if status.path is not None}
    num_classes = len(manifest.classes)
    x_train = read_idx(paths["train_images"])
    y_train = read_idx(paths["train_labels"], num_classes=num_classes).astype(np.int64)
    x_test = read_idx(paths["test_images"])
    y_test = read_idx(paths["test_labels"], num_classes=num_classes).astype(np.int64)
    for images, labels, role in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        image_file = paths[f"{role}_images"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise IDXFormatError(
                f"{image_file}: expected uint8 images (N, H, W), found {images.dtype} {images.shape}"
            )
        if len(images) != len(labels):
            raise IDXFormatError(
                f"{image_file}: {len(images)} images but {paths[f'{role}_labels']} has {len(labels)} labels"
            )
    if manifest.mean is not None and manifest.std is not None:
        mean, std = manifest.mean, manifest.std
    else:  # a dataset without published constants (the tests' generated files): compute them
        scaled = x_train.astype(np.float64) / 255.0
        mean, std = float(scaled.mean()), float(scaled.std())
    return ImageDataset(
        name=manifest.name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        classes=manifest.classes, mean=mean, std=std, source=describe_sources(statuses.values()),
    )  # fmt: skip


def describe_sources(statuses: Iterable[FileStatus]) -> str:
    """Where the files were read, in a few words: the folder(s), and whether it is the system's copy."""
    folders: dict[Path, str] = {}
    for status in statuses:
        if status.path is not None:
            folders.setdefault(
                status.path.parent, "the system's copy" if status.source == "system" else "cache"
            )
    return "; ".join(f"{folder} ({kind})" for folder, kind in folders.items())
