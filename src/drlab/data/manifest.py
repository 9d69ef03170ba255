"""What a downloadable dataset is made of: its files, their sizes and checksums, and where to fetch them.

A :class:`Manifest` is plain data (no network, no NumPy), so the CLI can describe a dataset at once and
the tests can build their own manifest for files they generate and serve from ``127.0.0.1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset as its publisher distributes it (a gzip-compressed IDX file)."""

    name: str
    """file name on every mirror and in the cache, e.g. ``train-images-idx3-ubyte.gz``"""
    size: int
    """exact size in bytes of the compressed file"""
    md5: str
    """MD5 of the compressed file, lowercase hex (what the publisher lists)"""
    sha256: str | None
    """SHA-256 of the compressed file, lowercase hex, or ``None`` when no published value is known"""
    shape: tuple[int, ...]
    """shape of the array inside, e.g. ``(60000, 28, 28)``; checked for files unpacked by hand"""

    @property
    def unpacked_name(self) -> str:
        """Name of the same file once decompressed (``gunzip`` drops the ``.gz``)."""
        return self.name[: -len(".gz")] if self.name.endswith(".gz") else self.name

    @property
    def is_labels(self) -> bool:
        """Whether this file holds labels (one integer per sample) rather than images."""
        return len(self.shape) == 1


@dataclass(frozen=True)
class Impostor:
    """A well-known file that a mirror may serve by mistake under one of our names (MNIST, mostly)."""

    description: str
    """what it is, in words, e.g. ``"MNIST's train-images-idx3-ubyte.gz"``"""
    dataset: str
    """the dataset it belongs to, e.g. ``"MNIST"``"""
    size: int
    """its size in bytes"""
    md5: str
    """its MD5, lowercase hex"""


@dataclass(frozen=True)
class Manifest:
    """Everything needed to fetch, verify and describe one dataset."""

    name: str
    """short name used on the command line and as the cache sub-directory, e.g. ``fashion-mnist``"""
    title: str
    """the name people know it by, e.g. ``Fashion-MNIST``"""
    files: dict[str, DatasetFile]
    """the files by role: ``train_images``, ``train_labels``, ``test_images``, ``test_labels``"""
    mirrors: tuple[str, ...]
    """base URLs tried in order; a file's URL is ``mirror + file.name``"""
    classes: tuple[str, ...]
    """class names, indexed by label"""
    mean: float | None = None
    """the standard normalisation: mean of pixel/255 over the training images (None: compute it)"""
    std: float | None = None
    """standard deviation of pixel/255 over the training images (None: compute it)"""
    impostors: tuple[Impostor, ...] = field(default=())
    """files a broken mirror may serve instead of ours, recognised by size and MD5"""
    homepage: str = ""
    """where a person can read about the dataset and download it by hand"""
    lookalike_means: tuple[tuple[str, float], ...] = ()
    """(dataset, mean pixel/255) of datasets in the same format, to name an unpacked impostor"""

    def identify(self, size: int, md5: str) -> Impostor | None:
        """The impostor with exactly this size and MD5, if any."""
        for impostor in self.impostors:
            if impostor.size == size and impostor.md5 == md5:
                return impostor
        return None
