"""Is this file the dataset's? Identity by content, streamed, with the cheap checks first.

A file is one of the dataset's files when

1. its own bytes are the publisher's: the size, MD5 and SHA-256 of the ``.gz`` as published; or
2. it is a gzip file (re-compressed, or with another header — Debian's copy has no file name and
   another time stamp in its header) or a plain IDX file (unpacked by hand), whose *unpacked* bytes
   have the published SHA-256.

So Zalando's files, Debian's copy, a re-gzipped copy and unpacked files all verify, and MNIST's files,
a truncated file or one flipped byte do not. The order of the checks keeps a wrong file cheap:

- the size first, from the file system: an unpacked file has exactly one size, and a gzip can be no
  larger than deflate's worst case for the right bytes (:attr:`DatasetFile.largest_gzip_size`); a
  gzip's last 4 bytes state its unpacked size (modulo 2³²), read without decompressing anything;
- then the hashes, streamed in chunks of 1 MiB: no buffer holds the file (only a gzip's decompressed
  chunk at a time), and decompression stops as soon as the output is longer than the right file.

The SHA-256 of the unpacked bytes is what proves identity in case 2; an MD5 is kept only because the
publisher lists it (and it names MNIST's files when a mirror serves them by mistake).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from drlab.data.manifest import DatasetFile, Manifest

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Digest:
    """Size and checksums of some bytes."""

    size: int
    md5: str
    sha256: str


class Mismatch(Exception):
    """The file is not the one expected; the message says what differs, in a few words."""


def file_digest(path: str | os.PathLike[str]) -> Digest:
    """Size, MD5 and SHA-256 of a file's own bytes, read in chunks."""
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return Digest(size, md5.hexdigest(), sha256.hexdigest())


def mismatch_reason(digest: Digest, file: DatasetFile, manifest: Manifest) -> str | None:
    """Why bytes with ``digest`` are not the *published* ``file`` (``None`` if they are), naming an impostor."""
    impostor = manifest.identify(digest.size, digest.md5)
    if impostor is not None:
        return f"this is {impostor.dataset}, not {manifest.title} (it is {impostor.description})"
    if digest.size != file.size:
        return f"{digest.size:,} bytes instead of {file.size:,}"
    if digest.md5 != file.md5:
        return f"MD5 {digest.md5} instead of {file.md5} (corrupt or a different file)"
    if file.sha256 is not None and digest.sha256 != file.sha256:
        return f"SHA-256 {digest.sha256} instead of {file.sha256} (corrupt or a different file)"
    return None


def identify(manifest: Manifest, file: DatasetFile, path: Path) -> str:
    """How ``path`` proved to be ``file`` (a few words); raise :class:`Mismatch` saying what differs."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == GZIP_MAGIC
    if not is_gzip:
        return _identify_unpacked(manifest, file, path, size)
    published = f"{manifest.publisher}'s" if manifest.publisher else "the published"
    if size == file.size:  # perhaps the publisher's very bytes: the quickest proof
        digest = file_digest(path)
        if mismatch_reason(digest, file, manifest) is None:
            return f"{published} .gz: size, MD5 and SHA-256 match"
    elif size in manifest.impostor_sizes():  # same size as MNIST's file: hash it to name it
        impostor = manifest.identify(size, file_digest(path).md5)
        if impostor is not None:
            raise Mismatch(f"this is {impostor.dataset}, not {manifest.title} (it is {impostor.description})")
    if size > file.largest_gzip_size:
        raise Mismatch(
            f"{size:,} bytes: no gzip of {manifest.title}'s {file.unpacked_name} ({file.unpacked_size:,} "
            f"bytes unpacked) is that large ({published} .gz is {file.size:,} bytes)"
        )
    stated = _gzip_stated_size(path)
    if stated < 0:
        raise Mismatch(f"{size:,} bytes: too short for a gzip file ({published} .gz is {file.size:,} bytes)")
    if stated != file.unpacked_size % 2**32:
        raise Mismatch(
            f"{size:,} bytes ({published} .gz: {file.size:,}), and its gzip trailer gives {stated:,} bytes "
            f"unpacked instead of {file.unpacked_size:,} (truncated, corrupt or another file)"
        )
    unpacked = _unpacked_sha256(path, file.unpacked_size)
    if unpacked != file.unpacked_sha256:
        raise Mismatch(_content_differs(manifest, file, path, unpacked))
    # another header (Debian's copy: no file name, another time stamp) or another compression
    return f"a gzip other than {published} .gz; its unpacked bytes' SHA-256 matches"


def _identify_unpacked(manifest: Manifest, file: DatasetFile, path: Path, size: int) -> str:
    if size != file.unpacked_size:
        raise Mismatch(
            f"{size:,} bytes, neither a gzip nor {manifest.title}'s unpacked {file.unpacked_name} "
            f"({file.unpacked_size:,} bytes)"
        )
    sha256 = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            sha256.update(chunk)
    if sha256.hexdigest() != file.unpacked_sha256:
        raise Mismatch(_content_differs(manifest, file, path, sha256.hexdigest()))
    return "unpacked IDX file; SHA-256 matches"


def _gzip_stated_size(path: Path) -> int:
    """The unpacked size modulo 2³² that a gzip file's last 4 bytes state (ISIZE, RFC 1952)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < 18:  # shorter than an empty gzip member: nothing to believe
            return -1
        handle.seek(-4, os.SEEK_END)
        return int(struct.unpack("<I", handle.read(4))[0])


def _unpacked_sha256(path: Path, expected_size: int) -> str:
    """SHA-256 of a gzip file's unpacked bytes, decompressed chunk by chunk; raise :class:`Mismatch`
    for corrupt or truncated data, or output longer than ``expected_size`` (read no further)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16 +: expect (and check) a gzip header and trailer
    sha256, produced = hashlib.sha256(), 0
    try:
        with open(path, "rb") as handle:
            while not inflater.eof and (data := handle.read(CHUNK_BYTES)):
                while data:  # bounded output per call: a small input can unpack to a lot
                    out = inflater.decompress(data, CHUNK_BYTES)
                    produced += len(out)
                    if produced > expected_size:
                        raise Mismatch(
                            f"it unpacks to more than the {expected_size:,} bytes of the right file"
                        )
                    sha256.update(out)
                    data = inflater.unconsumed_tail
            extra = len(inflater.unused_data) + len(handle.read(1))
    except zlib.error as exc:  # a flipped byte: invalid deflate data, or the CRC-32 check fails
        raise Mismatch(f"corrupt gzip data after {produced:,} unpacked bytes ({exc})") from exc
    if not inflater.eof:
        raise Mismatch(f"its gzip data ends early, after {produced:,} unpacked bytes (truncated)")
    if extra:
        raise Mismatch("bytes follow the end of its gzip data (two files joined, or garbage)")
    return sha256.hexdigest()


def _content_differs(manifest: Manifest, file: DatasetFile, path: Path, sha256: str) -> str:
    """What to say when the unpacked bytes are not the right ones: the SHA-256, and a guess for images."""
    expected = f"its unpacked bytes differ (SHA-256 {sha256[:16]}…, expected {file.unpacked_sha256[:16]}…)"
    if file.is_labels or manifest.mean is None or not manifest.lookalike_means:
        return expected
    mean = _mean_pixel(path, file)
    if mean is None:
        return expected
    for name, lookalike in manifest.lookalike_means:
        if abs(mean - lookalike) < 0.01 < abs(mean - manifest.mean):
            return f"{expected}: this is {name}, not {manifest.title} (mean pixel {mean:.3f}, not {manifest.mean:.3f})"
    return expected


def _mean_pixel(path: Path, file: DatasetFile) -> float | None:
    """Mean of pixel/255 of an images file of the right size (on the failure path only: it reads it all)."""
    import gzip

    import numpy as np

    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == GZIP_MAGIC
    try:
        with gzip.open(path, "rb") if is_gzip else open(path, "rb") as handle:
            data = handle.read(file.unpacked_size + 1)
    except (OSError, EOFError, zlib.error):
        return None
    if len(data) != file.unpacked_size:
        return None
    return float(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(file.shape)).mean()) / 255.0
