"""What a downloadable dataset is made of: its files, their sizes and checksums, and where to fetch them.

A :class:`Manifest` is plain data (no network, no NumPy), so the CLI can describe a dataset at once and
the tests can build their own manifest for files they generate and serve from ``127.0.0.1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset as its publisher distributes it (a gzip-compressed IDX file of bytes).

    Two identities: the published ``.gz`` bytes (``size``, ``md5``, ``sha256``), and the IDX bytes inside
    (``unpacked_sha256``), which survive re-compression and a rewritten gzip header (Debian's copy).
    """

    name: str
    """file name on every mirror and in the cache, e.g. ``train-images-idx3-ubyte.gz``"""
    size: int
    """exact size in bytes of the compressed file"""
    md5: str
    """MD5 of the compressed file, lowercase hex (what the publisher lists)"""
    sha256: str | None
    """SHA-256 of the compressed file, lowercase hex, or ``None`` when no published value is known"""
    shape: tuple[int, ...]
    """shape of the uint8 array inside, e.g. ``(60000, 28, 28)``"""
    unpacked_sha256: str
    """SHA-256 of the unpacked IDX file (header and pixels), lowercase hex: the identity of the content"""

    @property
    def unpacked_name(self) -> str:
        """Name of the same file once decompressed (``gunzip`` drops the ``.gz``)."""
        return self.name[: -len(".gz")] if self.name.endswith(".gz") else self.name

    @property
    def unpacked_size(self) -> int:
        """Size in bytes of the unpacked IDX file: 4-byte magic, 4 bytes per dimension, one byte per item."""
        return 4 + 4 * len(self.shape) + math.prod(self.shape)

    @property
    def largest_gzip_size(self) -> int:
        """The largest a gzip of the unpacked bytes can be: deflate's worst case (stored blocks of 64 KiB,
        5 bytes each) plus a gzip header with a file name. A bigger file cannot be this file, whatever
        its bytes: it is refused before it is read."""
        return self.unpacked_size + 5 * (self.unpacked_size // 65_535 + 1) + 18 + 1024

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
    publisher: str = ""
    """who publishes the files, e.g. ``Zalando`` (messages say "Zalando's .gz")"""
    system_package: str = ""
    """the Debian/Ubuntu package that installs the files into ``/usr/share/datasets/<name>/``, if any"""
    lookalike_means: tuple[tuple[str, float], ...] = ()
    """(dataset, mean pixel/255) of datasets in the same format, to name an unpacked impostor"""

    def impostor_sizes(self) -> frozenset[int]:
        """The sizes of the known impostors: a file of another size need not be hashed to be cleared."""
        return frozenset(impostor.size for impostor in self.impostors)

    def identify(self, size: int, md5: str) -> Impostor | None:
        """The impostor with exactly this size and MD5, if any."""
        for impostor in self.impostors:
            if impostor.size == size and impostor.md5 == md5:
                return impostor
        return None
