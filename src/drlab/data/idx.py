"""The IDX file format of MNIST and Fashion-MNIST: reading it safely, and writing it (for tests).

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the number of
dimensions), ``NN`` big-endian uint32 dimension sizes, then the elements, big-endian, in C order.
The publishers distribute it gzip-compressed (``.gz``).

:func:`read_idx` trusts nothing in the header: before it keeps any payload it checks that the product
of the dimension sizes agrees with the payload's length, and it reads the payload in bounded chunks,
so a header that claims billions of items fails fast instead of allocating gigabytes or reading a
decompression bomb to its end.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from drlab.common.errors import UsageError
from drlab.common.io import atomic_write
from drlab.data.verify import GZIP_MAGIC

# element-type code → big-endian NumPy dtype (the IDX specification's table)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
DTYPE_CODES: dict[str, int] = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}

MAX_PAYLOAD_BYTES = 1 << 30  # 1 GiB: 20× Fashion-MNIST's largest file; anything above is a lying header
CHUNK_BYTES = 1 << 20


class IDXFormatError(UsageError):
    """A file that is not a valid IDX file; the message names the file and what is wrong."""


def read_idx(
    path: str | os.PathLike[str],
    *,
    num_classes: int | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed, recognised by its content) into a NumPy array.

    The array has the file's shape and the native-endian version of its element type (uint8 for
    images and labels). With ``num_classes`` the file must hold labels: one dimension, integers in
    ``[0, num_classes)``. Raises :class:`IDXFormatError` (a ``ValueError``) for any malformed input.
    """
    file = Path(path)
    try:
        with open(file, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    array = _read_stream(stream, file, compressed_size=None, max_bytes=max_bytes)
            else:
                size = os.fstat(raw.fileno()).st_size
                array = _read_stream(raw, file, compressed_size=size, max_bytes=max_bytes)
    except FileNotFoundError as exc:
        raise IDXFormatError(f"{file}: no such file") from exc
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise IDXFormatError(f"{file}: corrupt gzip data ({exc or type(exc).__name__})") from exc
    if num_classes is not None:
        _check_labels(array, file, num_classes)
    return array


def _read_exact(stream: IO[bytes] | gzip.GzipFile, n: int) -> bytes:
    # read() on a gzip stream may return fewer bytes than asked before the end; loop until n or EOF
    parts, got = [], 0
    while got < n:
        part = stream.read(min(n - got, CHUNK_BYTES))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_stream(
    stream: IO[bytes] | gzip.GzipFile, file: Path, *, compressed_size: int | None, max_bytes: int
) -> np.ndarray:
    header = _read_exact(stream, 4)
    if len(header) == 0:
        raise IDXFormatError(f"{file}: empty file (an IDX file starts with a 4-byte magic number)")
    if len(header) < 4:
        raise IDXFormatError(
            f"{file}: truncated header ({len(header)} bytes, an IDX header needs at least 4)"
        )
    if header[0] != 0 or header[1] != 0:
        raise IDXFormatError(
            f"{file}: wrong magic number 0x{header.hex()} (an IDX file starts with two zero bytes; "
            "is it an IDX file at all?)"
        )
    type_code, ndim = header[2], header[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise IDXFormatError(f"{file}: unknown element type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise IDXFormatError(f"{file}: the header declares 0 dimensions")
    dims_bytes = _read_exact(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise IDXFormatError(f"{file}: truncated header (it declares {ndim} dimensions, the file ends first)")
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    dtype = IDX_DTYPES[type_code]
    # Python integers: the product cannot overflow, whatever the header claims
    expected = math.prod(shape) * dtype.itemsize
    shape_text = "×".join(map(str, shape))
    if expected > max_bytes:
        raise IDXFormatError(
            f"{file}: the header claims {shape_text} items ({expected:,} bytes of data), "
            f"more than the {max_bytes:,}-byte limit: a corrupt or lying header"
        )
    if compressed_size is not None:  # a plain file: its size on disk settles the question at once
        actual = compressed_size - 4 - 4 * ndim
        if actual != expected:
            raise IDXFormatError(_size_mismatch(file, shape_text, expected, actual))
    # read at most expected + 1 bytes: enough to see a payload that is too long, never more
    payload = _read_exact(stream, expected + 1)
    if len(payload) != expected:
        actual_text = f"{len(payload):,}" if len(payload) <= expected else f"more than {expected:,}"
        raise IDXFormatError(_size_mismatch(file, shape_text, expected, actual_text))
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _size_mismatch(file: Path, shape_text: str, expected: int, actual: int | str) -> str:
    actual_text = f"{actual:,}" if isinstance(actual, int) else actual
    return (
        f"{file}: the header's dimensions {shape_text} need {expected:,} bytes of data, "
        f"the file holds {actual_text} bytes (truncated or corrupt)"
    )


def _check_labels(array: np.ndarray, file: Path, num_classes: int) -> None:
    if array.ndim != 1:
        raise IDXFormatError(f"{file}: labels must have 1 dimension, found shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise IDXFormatError(f"{file}: labels must be integers, found {array.dtype}")
    if array.size:
        bad = np.flatnonzero((array < 0) | (array >= num_classes))
        if bad.size:
            first = int(bad[0])
            raise IDXFormatError(
                f"{file}: label {int(array[first])} at index {first} is outside 0–{num_classes - 1} "
                f"({bad.size} labels out of range)"
            )


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``, atomically.

    Supported element types: uint8, int8, int16, int32, float32, float64. The gzip header carries no
    time stamp, so the same array always gives the same bytes (and the same checksum).
    """
    array = np.asarray(array)
    key = f"{array.dtype.kind}{array.dtype.itemsize}"
    if key not in DTYPE_CODES:
        raise ValueError(
            f"write_idx: unsupported dtype {array.dtype} (use uint8, int8, int16, int32, float32, float64)"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: need between 1 and 255 dimensions, got {array.ndim}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"write_idx: dimension sizes must fit in 32 bits, got {array.shape}")
    header = bytes([0, 0, DTYPE_CODES[key], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path, "wb") as handle:
        handle.write(data)
