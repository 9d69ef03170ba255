"""The real Fashion-MNIST: Debian's copy (``apt install dataset-fashion-mnist``), and Zalando's exact bytes.

These tests hold drlab's checksum table and loader against the genuine files. Zalando's ``.gz`` files are
rebuilt from Debian's: Debian kept Zalando's compressed streams but rewrote the 10-byte gzip header (no
file name, a 2020 time stamp), so restoring the original header gives Zalando's bytes back, byte for byte.

Where the package is absent they skip, saying so; in CI (``CI=true``, where setup.sh installs the package)
they fail instead: a real-data test that silently skips would guard nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from drlab.common.errors import UsageError
from drlab.data.cache import dataset_dir, file_statuses
from drlab.data.fashion_mnist import FASHION_MNIST, load_fashion_mnist
from drlab.data.verify import file_digest, identify

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
#: the gzip header's MTIME of Zalando's files (2017-08-31), as the issue that checked them gives it
ZALANDO_MTIME = {"train": 1_504_176_606, "t10k": 1_504_176_627}


@pytest.fixture(autouse=True)
def _real_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip (outside CI) or fail (in CI) without Debian's copy; search the default system folders."""
    if not all((DEBIAN / file.name).is_file() for file in FASHION_MNIST.files.values()):
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(
                f"CI=true but the real Fashion-MNIST is not in {DEBIAN}: bash setup.sh installs it (as root)"
            )
        pytest.skip(
            f"the real Fashion-MNIST is not installed in {DEBIAN} (sudo apt install dataset-fashion-mnist)"
        )
    monkeypatch.delenv("XDG_DATA_DIRS", raising=False)  # the defaults: /usr/local/share, /usr/share


def zalando_bytes(name: str) -> bytes:
    """Zalando's ``.gz`` file, rebuilt from Debian's: the original header, then Debian's bytes from offset 10."""
    debian = (DEBIAN / name).read_bytes()
    assert debian[:4] == b"\x1f\x8b\x08\x00" and debian[8:10] == b"\x00\x03"  # deflate, no flags, XFL 0, Unix
    unpacked_name = name.removesuffix(".gz")
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", ZALANDO_MTIME[name.split("-")[0]]) + b"\x00\x03"
    return header + unpacked_name.encode() + b"\x00" + debian[10:]


def test_zalandos_exact_bytes_match_the_checksum_table(tmp_path: Path) -> None:
    """The table's size, MD5 and SHA-256 of each .gz, and the SHA-256 of each unpacked file, on real bytes."""
    for file in FASHION_MNIST.files.values():
        data = zalando_bytes(file.name)
        assert len(data) == file.size
        assert hashlib.md5(data).hexdigest() == file.md5  # Zalando's published MD5: the rebuild is exact
        assert hashlib.sha256(data).hexdigest() == file.sha256
        unpacked = gzip.decompress(data)
        assert len(unpacked) == file.unpacked_size
        assert hashlib.sha256(unpacked).hexdigest() == file.unpacked_sha256
        (tmp_path / file.name).write_bytes(data)
    statuses = file_statuses(FASHION_MNIST, tmp_path)  # the folder holds the four files directly
    assert [status.state for status in statuses] == ["verified"] * 4
    assert all(status.source == "cache" and status.path is not None and status.path.parent == tmp_path
               for status in statuses)  # fmt: skip
    assert all(status.detail == "Zalando's .gz: size, MD5 and SHA-256 match" for status in statuses)


def test_debians_copy_is_found_from_an_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --data-dir, an empty cache, offline: the loader reads Debian's copy in place; the data is right."""
    monkeypatch.setenv("DRLAB_DATA", str(tmp_path / "cache"))
    dataset = load_fashion_mnist(offline=True)
    assert dataset.source == f"{DEBIAN} (the system's copy)"
    assert not (tmp_path / "cache").exists()  # read in place: nothing copied, nothing created
    assert dataset.x_train.shape == (60_000, 28, 28) and dataset.x_test.shape == (10_000, 28, 28)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64
    assert dataset.y_train.shape == (60_000,) and dataset.y_test.shape == (10_000,)
    np.testing.assert_array_equal(np.bincount(dataset.y_train, minlength=10), [6_000] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.y_test, minlength=10), [1_000] * 10)
    assert dataset.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert dataset.y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    scaled = dataset.x_train.astype(np.float64) / 255.0
    assert round(float(scaled.mean()), 4) == 0.2860 == dataset.mean
    assert round(float(scaled.std()), 4) == 0.3530 == dataset.std
    assert dataset.classes[0] == "T-shirt/top" and dataset.classes[9] == "Ankle boot"


def test_the_cli_verifies_debians_copy_offline_from_an_empty_cache(tmp_path: Path) -> None:
    """What a new user types first, in a fresh process: ``drlab data verify`` and ``info``, exit 0."""
    env = {**os.environ, "DRLAB_DATA": str(tmp_path), "DRLAB_OFFLINE": "1"}
    env.pop("XDG_DATA_DIRS", None)
    verify = subprocess.run(
        [sys.executable, "-m", "drlab", "data", "verify", "fashion-mnist"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.count(f"verified {DEBIAN}/") == 4
    info = subprocess.run(
        [sys.executable, "-m", "drlab", "data", "info", "fashion-mnist"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert f"looks in: {tmp_path / 'fashion-mnist'}, then the system's copy (" in info.stdout
    assert info.stdout.count("(the system's copy, read in place)") == 4 and "status: verified" in info.stdout
    assert list(tmp_path.iterdir()) == []


def test_data_dir_pointing_at_the_system_folder_reads_it_and_writes_nothing() -> None:
    before = {path.name: path.stat().st_mtime_ns for path in DEBIAN.iterdir()}
    dataset = load_fashion_mnist(DEBIAN, offline=True)  # the four files directly in --data-dir
    assert dataset_dir(FASHION_MNIST, DEBIAN) == DEBIAN and len(dataset.y_test) == 10_000
    assert {path.name: path.stat().st_mtime_ns for path in DEBIAN.iterdir()} == before


@pytest.mark.parametrize("how", ["unpacked", "regzipped"])
def test_unpacked_and_regzipped_copies_verify(tmp_path: Path, how: str) -> None:
    for file in FASHION_MNIST.files.values():
        unpacked = gzip.decompress((DEBIAN / file.name).read_bytes())
        if how == "unpacked":
            (tmp_path / file.unpacked_name).write_bytes(unpacked)
        else:
            (tmp_path / file.name).write_bytes(gzip.compress(unpacked, compresslevel=1, mtime=0))
    statuses = file_statuses(FASHION_MNIST, tmp_path)
    assert [status.state for status in statuses] == ["verified"] * 4, [s.detail for s in statuses]
    assert all(status.source == "cache" for status in statuses)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated", r"26,000,000 bytes \(Zalando's \.gz: 26,421,880\), and its gzip trailer gives [\d,]+ bytes unpacked instead of 47,040,016"),
        ("flipped", r"corrupt gzip data after [\d,]+ unpacked bytes"),
        ("flipped-unpacked", r"its unpacked bytes differ \(SHA-256 [0-9a-f]{16}…, expected c59f468a2f672dc8…\)"),
        ("huge", r"8,589,934,592 bytes, neither a gzip nor Fashion-MNIST's unpacked train-images-idx3-ubyte \(47,040,016 bytes\)"),
    ],
)  # fmt: skip
def test_damaged_real_files_are_refused_with_one_line(tmp_path: Path, damage: str, reason: str) -> None:
    """Refused in one line naming the file (exit 2), quickly, with the cache left as it was."""
    file = FASHION_MNIST.files["train_images"]
    data = (DEBIAN / file.name).read_bytes()
    target = tmp_path / "fashion-mnist" / file.name
    target.parent.mkdir()
    if damage == "truncated":
        target.write_bytes(data[:26_000_000])
    elif damage == "flipped":
        middle = len(data) // 2
        target.write_bytes(data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :])
    elif damage == "flipped-unpacked":
        unpacked = bytearray(gzip.decompress(data))
        unpacked[1_000_000] ^= 0x01
        target = target.with_name(file.unpacked_name)
        target.write_bytes(bytes(unpacked))
    else:  # 8 GiB of zeros, sparse: the size alone refuses it, before a byte is hashed
        with open(target, "wb") as handle:
            handle.truncate(8 * 2**30)
    before = sorted(path.name for path in target.parent.iterdir())
    started = time.perf_counter()
    with pytest.raises(UsageError, match=reason) as info:
        load_fashion_mnist(tmp_path, offline=True)
    if damage == "huge":
        assert time.perf_counter() - started < 2.0
    message = str(info.value)
    assert message.startswith(f"{target}: not Fashion-MNIST's {file.name}: ") and "\n" not in message
    assert info.value.exit_code == 2
    assert sorted(path.name for path in target.parent.iterdir()) == before


def test_verification_streams_and_is_fast() -> None:
    """Debian's train images (26 MB packed, 47 MB unpacked) verify by content without holding either in
    memory, in well under a few seconds; Zalando's and Debian's sizes differ by the file name in the header."""
    file = FASHION_MNIST.files["train_images"]
    started = time.perf_counter()
    statuses = file_statuses(FASHION_MNIST, "/nonexistent-drlab-cache")
    elapsed = time.perf_counter() - started
    assert [status.source for status in statuses] == ["system"] * 4
    assert (
        elapsed < 10.0
    )  # ≈ 0.5 s on an idle core (benchmarks/data.py --verify measures it); generous for CI
    tracemalloc.start()
    try:
        identify(FASHION_MNIST, file, DEBIAN / file.name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # chunks of 1 MiB, not the 26 MB file nor its 47 MB of pixels
    assert file_digest(DEBIAN / file.name).size == file.size - len(file.unpacked_name) - 1


@pytest.mark.slow
def test_the_default_mlp_recipe_reaches_089_on_the_real_test_set(tmp_path: Path) -> None:
    """TP1's goal: ``drlab train`` (default recipe: mlp, Adam, 15 epochs) ≥ 0.89 on the 10,000 test images."""
    from drlab.train.config import TrainConfig
    from drlab.train.run import train_run

    result = train_run(TrainConfig(offline=True, plots=False, seed=0), tmp_path / "run")
    assert result.metrics["dataset"] == "fashion-mnist" and result.metrics["test_samples"] == 10_000
    assert result.metrics["test_accuracy"] >= 0.89
