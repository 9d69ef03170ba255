"""read_idx / write_idx: round trips, and every malformed file fails with a named, bounded error."""

from __future__ import annotations

import gzip
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from drlab.data.idx import IDXFormatError, read_idx, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    ("dtype", "shape"),
    [(np.uint8, (7, 5, 3)), (np.uint8, (11,)), (np.int8, (4, 2)), (np.int16, (3, 3)), (np.int32, (6,)),
     (np.float32, (2, 3, 4)), (np.float64, (5,))],
)  # fmt: skip
def test_round_trip(tmp_path: Path, suffix: str, dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_layout_matches_the_specification(tmp_path: Path) -> None:
    # oracle: the bytes written by hand from the IDX specification (big-endian int16)
    write_idx(tmp_path / "a.idx", np.array([[1, -2], [258, 3]], dtype=np.int16))
    expected = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 2) + struct.pack(">4h", 1, -2, 258, 3)
    assert (tmp_path / "a.idx").read_bytes() == expected


def test_gzip_is_recognised_by_content_and_deterministic(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == first  # mtime=0: same bytes, same checksum
    (tmp_path / "renamed").write_bytes(first)  # no .gz suffix: still read as gzip
    np.testing.assert_array_equal(read_idx(tmp_path / "renamed"), array)


def _write(path: Path, data: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"\x00\x00", "truncated header"),
        (
            b"\x1f\x8b\x08\x00\x00",
            "corrupt gzip",
        ),  # only meaningful uncompressed; compressed it is a bad magic
        (b"PK\x03\x04" + b"\x00" * 12, "wrong magic number"),
        (bytes([0, 0, 0x07, 1]) + struct.pack(">I", 3) + b"abc", "unknown element type code 0x07"),
        (bytes([0, 0, 0x08, 0]), "0 dimensions"),
        (bytes([0, 0, 0x08, 3]) + struct.pack(">I", 3), "truncated header"),
        (_header(0x08, 10, 4) + bytes(39), "need 40 bytes of data, the file holds 39"),
        (_header(0x08, 10, 4) + bytes(41), "need 40 bytes"),
        (_header(0x0C, 5) + bytes(5), "need 20 bytes"),
    ],
)
def test_malformed_files_raise_a_named_error(
    tmp_path: Path, data: bytes, message: str, compress: bool
) -> None:
    path = _write(tmp_path / "bad.idx", data, compress)
    if compress and message == "corrupt gzip":
        message = "wrong magic number"
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_claiming_billions_of_items_fails_fast(tmp_path: Path, compress: bool) -> None:
    path = _write(tmp_path / "liar.idx", _header(0x08, 4_000_000_000, 28, 28) + bytes(100), compress)
    start = time.perf_counter()
    with pytest.raises(IDXFormatError, match="lying header"):
        read_idx(path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_below_the_limit_but_larger_than_the_payload(tmp_path: Path, compress: bool) -> None:
    # 60 M items claimed (under the 1 GiB limit), 100 bytes present: a size error, no 60 MB allocation needed
    path = _write(tmp_path / "liar.idx", _header(0x08, 60_000_000) + bytes(100), compress)
    with pytest.raises(IDXFormatError, match="the file holds 100 bytes"):
        read_idx(path)


def test_a_decompression_bomb_is_not_read_to_its_end(tmp_path: Path) -> None:
    # header says 10 bytes; the gzip stream holds 200 MB of zeros after them: stop at 11 bytes
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(_header(0x08, 10))
        zeros = bytes(1 << 20)
        for _ in range(200):
            handle.write(zeros)
    start = time.perf_counter()
    with pytest.raises(IDXFormatError, match="more than 10"):
        read_idx(path)
    assert time.perf_counter() - start < 1.0


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    write_idx(path, np.arange(1000, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(IDXFormatError, match=r"cut\.gz"):
        read_idx(path)


def test_labels_out_of_range(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels.gz", np.array([0, 9, 3, 10, 12], dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=r"label 10 at index 3 is outside 0–9 \(2 labels"):
        read_idx(tmp_path / "labels.gz", num_classes=10)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.gz"), [0, 9, 3, 10, 12])  # no check asked


def test_labels_must_be_one_dimensional(tmp_path: Path) -> None:
    write_idx(tmp_path / "images.gz", np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="1 dimension"):
        read_idx(tmp_path / "images.gz", num_classes=10)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IDXFormatError, match="no such file"):
        read_idx(tmp_path / "nope.gz")


def test_write_rejects_unsupported_dtypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported dtype"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.uint16))
    assert not (tmp_path / "a.idx").exists()
