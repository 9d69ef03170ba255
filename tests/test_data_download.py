"""The verified download and the cache, against a real HTTP server on 127.0.0.1 with faulty mirrors.

After every fault the cache is listed: it must hold only complete, verified files — never a partial
or wrong file under a final name, never a left-over temporary file.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from _data_server import NAMES, ROLES, MirrorState, TinyDataset, cache_listing, make_tiny_dataset, serve
from drlab.common.errors import DrlabError, UsageError
from drlab.data import download as download_module
from drlab.data.cache import dataset_dir, ensure_files, file_statuses
from drlab.data.download import check_mirror_url, mirror_order, sweep_stale_parts
from drlab.data.fashion_mnist import FASHION_MNIST, load_fashion_mnist
from drlab.data.idx import write_idx
from drlab.data.verify import Digest, mismatch_reason

TIMEOUT = 0.3  # seconds: tiny, so that the slow-server tests stay fast


@pytest.fixture
def tiny(tmp_path: Path) -> TinyDataset:
    return make_tiny_dataset(tmp_path / "generated")


@pytest.fixture
def mirror(tiny: TinyDataset) -> Iterator[tuple[MirrorState, str]]:
    state = MirrorState(files=tiny.files, other_files=tiny.other_files, delay=1.0)
    with serve(state) as base_url:
        yield state, base_url


def _fetch(tiny: TinyDataset, data_dir: Path, mirrors: tuple[str, ...], **kwargs: object) -> dict[str, Path]:
    manifest = dataclasses.replace(tiny.manifest, mirrors=mirrors)
    options: dict[str, object] = {"offline": False, "timeout": TIMEOUT, "progress": False, **kwargs}
    return ensure_files(manifest, data_dir, **options)  # type: ignore[arg-type]


def _assert_cache_holds_exactly(tiny: TinyDataset, data_dir: Path, names: list[str]) -> None:
    directory = dataset_dir(tiny.manifest, data_dir)
    assert cache_listing(directory) == sorted(names)
    for name in names:  # every file under a final name is the right one, byte for byte
        assert (directory / name).read_bytes() == tiny.files[name]


def test_download_verify_and_load(tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path) -> None:
    state, base = mirror
    manifest = dataclasses.replace(tiny.manifest, mirrors=(base + "a/",))
    dataset = load_fashion_mnist(
        tmp_path / "data", manifest=manifest, offline=False, timeout=TIMEOUT, progress=False
    )
    np.testing.assert_array_equal(dataset.x_train, tiny.arrays["train_images"])
    np.testing.assert_array_equal(dataset.y_test, tiny.arrays["test_labels"])
    assert dataset.y_train.dtype == np.int64 and dataset.x_train.dtype == np.uint8
    assert dataset.classes == manifest.classes and dataset.image_shape == (1, 6, 6)
    scaled = tiny.arrays["train_images"] / 255.0  # no published constants: computed from the train split
    assert dataset.mean == pytest.approx(scaled.mean()) and dataset.std == pytest.approx(scaled.std())
    _assert_cache_holds_exactly(tiny, tmp_path / "data", list(NAMES.values()))
    assert all(agent.startswith("drlab/") for agent in state.user_agents)
    # a second load uses the cache: no new request
    count = len(state.requests)
    load_fashion_mnist(tmp_path / "data", manifest=manifest, offline=False, progress=False)
    assert len(state.requests) == count


def test_first_mirror_404_then_second_mirror(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    state, base = mirror
    state.modes = {"a": "404", "b": "ok"}
    _fetch(tiny, tmp_path, (base + "a/", base + "b/"))
    assert [path.split("/")[1] for path in state.requests] == ["a", "b"] * 4  # each file: a fails, b delivers
    _assert_cache_holds_exactly(tiny, tmp_path, list(NAMES.values()))


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", r"HTTP 500"),
        ("403", r"HTTP 403"),
        ("drop", r"connection dropped after {half:,} of {size:,} bytes"),
        ("wrong", r"wrong file: MD5 [0-9a-f]{{32}} instead of"),
        ("slow", rf"no answer within {TIMEOUT:g} s"),
        # the whole file has TIMEOUT seconds: half of it, then nothing, runs out of time
        ("stall", rf"too slow: {{half:,}} of {{size:,}} bytes in {TIMEOUT:g} s \(--timeout\)"),
        (
            "other",
            r"wrong file: this is Tiny-MNIST, not Tiny-Fashion \(it is Tiny-MNIST's train-images-idx3-ubyte.gz\)",
        ),
    ],
)
def test_a_faulty_mirror_never_leaves_a_file(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path, mode: str, reason: str
) -> None:
    state, base = mirror
    state.modes = {"bad": mode}
    size = len(tiny.files[NAMES["train_images"]])  # the test server sends half of it before dropping/stalling
    reason = reason.format(half=size // 2, size=size)
    with pytest.raises(DrlabError, match=reason) as info:
        _fetch(tiny, tmp_path, (base + "bad/",))
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in message
    assert f"{base}bad/train-images-idx3-ubyte.gz" in message and "\n" not in message
    _assert_cache_holds_exactly(tiny, tmp_path, [])  # nothing at all: no partial, no wrong, no .part


@pytest.mark.parametrize("mode", ["500", "drop", "wrong", "slow", "other"])
def test_a_faulty_mirror_falls_through_to_a_good_one(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path, mode: str
) -> None:
    state, base = mirror
    state.modes = {"bad": mode, "good": "ok"}
    _fetch(tiny, tmp_path, (base + "bad/", base + "good/"))
    _assert_cache_holds_exactly(tiny, tmp_path, list(NAMES.values()))


def test_when_every_mirror_fails_one_error_lists_each(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    _state, base = mirror
    mirror[0].modes = {"a": "404", "b": "500", "c": "other"}
    with pytest.raises(DrlabError) as info:
        _fetch(tiny, tmp_path, (base + "a/", base + "b/", base + "c/"))
    message = str(info.value)
    for fragment in ("a/train-images-idx3-ubyte.gz (HTTP 404", "b/train-images-idx3-ubyte.gz (HTTP 500",
                     "c/train-images-idx3-ubyte.gz (wrong file: this is Tiny-MNIST, not Tiny-Fashion"):  # fmt: skip
        assert fragment in message
    assert info.value.exit_code == 1
    _assert_cache_holds_exactly(tiny, tmp_path, [])


def test_a_failure_after_some_files_keeps_the_good_ones(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    state, base = mirror
    state.files = {name: data for name, data in tiny.files.items() if "t10k" not in name}  # test files: 404
    with pytest.raises(DrlabError, match=r"t10k-images-idx3-ubyte\.gz"):
        _fetch(tiny, tmp_path, (base + "a/",))
    _assert_cache_holds_exactly(tiny, tmp_path, [NAMES["train_images"], NAMES["train_labels"]])
    state.files = tiny.files  # the mirror recovers: only the missing files are fetched
    state.requests.clear()
    _fetch(tiny, tmp_path, (base + "a/",))
    assert sorted(state.requests) == ["/a/t10k-images-idx3-ubyte.gz", "/a/t10k-labels-idx1-ubyte.gz"]
    _assert_cache_holds_exactly(tiny, tmp_path, list(NAMES.values()))


def test_ctrl_c_mid_download_leaves_no_partial_file(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state, base = mirror
    real_sha256 = hashlib.sha256

    class InterruptedHash:
        def __init__(self) -> None:
            self.inner = real_sha256()

        def update(self, data: bytes) -> None:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C while bytes arrive

        def hexdigest(self) -> str:
            return self.inner.hexdigest()

    monkeypatch.setattr(download_module.hashlib, "sha256", InterruptedHash)
    with pytest.raises(KeyboardInterrupt):
        _fetch(tiny, tmp_path, (base + "a/",))
    _assert_cache_holds_exactly(tiny, tmp_path, [])


def test_a_killed_process_never_leaves_a_file_under_the_final_name(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    state, base = mirror
    state.modes, state.delay = {"a": "stall"}, 30.0
    directory = tmp_path / "cache"
    file = tiny.manifest.files["train_images"]
    script = (
        "import sys, pickle; from drlab.data.download import download_file; "
        "file, manifest = pickle.loads(bytes.fromhex(sys.argv[1])); "
        f"download_file(file, [{base + 'a/'!r}], {str(directory)!r}, manifest, timeout=60, progress=False)"
    )
    import pickle

    payload = pickle.dumps((file, tiny.manifest)).hex()
    process = subprocess.Popen([sys.executable, "-c", script, payload])
    try:
        deadline = time.monotonic() + 20
        while not list(directory.glob(".*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        parts = list(directory.glob(".*.part"))
        assert parts, "the download never started"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (directory / file.name).exists()  # the final name never held a partial file
    # the next download sweeps the dead process's temporary file once it is stale
    old = time.time() - 3600
    os.utime(parts[0], (old, old))
    sweep_stale_parts(directory, file)
    assert cache_listing(directory) == []


def test_proxies_come_from_the_environment(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, base = mirror
    monkeypatch.setenv("http_proxy", base)  # our server plays the proxy for a host that does not exist
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    _fetch(tiny, tmp_path, ("http://mirror.drlab.invalid/a/",))
    assert state.requests and all(r.startswith("http://mirror.drlab.invalid/a/") for r in state.requests)
    _assert_cache_holds_exactly(tiny, tmp_path, list(NAMES.values()))


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_offline_never_touches_the_network(
    tiny: TinyDataset,
    mirror: tuple[MirrorState, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    state, base = mirror
    manifest = dataclasses.replace(tiny.manifest, mirrors=(base + "a/",))
    monkeypatch.setenv("DRLAB_OFFLINE", "1" if how == "environment" else "0")
    offline = True if how == "argument" else None
    directory = dataset_dir(manifest, tmp_path)
    directory.mkdir(parents=True)
    (directory / NAMES["train_labels"]).write_bytes(tiny.files[NAMES["train_labels"]])  # one file is there
    with pytest.raises(DrlabError) as info:
        load_fashion_mnist(tmp_path, manifest=manifest, offline=offline)
    message = str(info.value)
    assert "3 file(s) missing" in message and str(directory) in message and "offline mode" in message
    assert NAMES["train_images"] in message and NAMES["train_labels"] not in message
    assert base + "a/" in message  # where to get them
    assert state.requests == []


def test_download_false_lists_missing_files(tiny: TinyDataset, tmp_path: Path) -> None:
    with pytest.raises(DrlabError, match=r"4 file\(s\) missing .*download=False"):
        load_fashion_mnist(tmp_path, download=False, manifest=tiny.manifest, offline=False)


def _place(tiny: TinyDataset, data_dir: Path, unpacked: bool = False, other: bool = False) -> Path:
    directory = dataset_dir(tiny.manifest, data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = tiny.other_arrays if other else tiny.arrays
    for role in ROLES:
        if unpacked:
            write_idx(directory / tiny.manifest.files[role].unpacked_name, arrays[role])
        else:
            (directory / NAMES[role]).write_bytes((tiny.other_files if other else tiny.files)[NAMES[role]])
    return directory


def _repacked(data: bytes, how: str) -> bytes:
    """The same content as the published ``.gz`` bytes, packed another way."""
    unpacked = gzip.decompress(data)
    if how == "regzipped":  # another compression level, a file name and a time stamp in the header
        buffer = io.BytesIO()
        with gzip.GzipFile("some-name", "wb", compresslevel=1, fileobj=buffer, mtime=1_600_000_000) as out:
            out.write(unpacked)
        return buffer.getvalue()
    if how == "new-header":  # Debian's way: the same deflate stream, another header (a time stamp, no name)
        assert data[3] == 0  # write_idx's files carry no name: the stream starts at offset 10
        return data[:4] + struct.pack("<I", 1_591_347_949) + data[8:]
    return unpacked


@pytest.mark.parametrize("how", ["published", "unpacked", "regzipped", "new-header"])
def test_files_placed_by_hand_are_used(tiny: TinyDataset, tmp_path: Path, how: str) -> None:
    directory = _place(tiny, tmp_path, unpacked=how == "unpacked")
    if how in ("regzipped", "new-header"):
        for name, data in tiny.files.items():
            (directory / name).write_bytes(_repacked(data, how))
            assert (directory / name).read_bytes() != data
    dataset = load_fashion_mnist(tmp_path, manifest=tiny.manifest, offline=True)  # offline: no download
    np.testing.assert_array_equal(dataset.x_test, tiny.arrays["test_images"])
    np.testing.assert_array_equal(dataset.y_train, tiny.arrays["train_labels"])
    statuses = file_statuses(tiny.manifest, tmp_path)
    assert {status.state for status in statuses} == {"verified"}
    assert {status.source for status in statuses} == {"cache"}
    expected = {"published": "published .gz: size, MD5 and SHA-256 match", "unpacked": "unpacked IDX file",
                "regzipped": "a gzip other than the published .gz; its unpacked bytes' SHA-256 matches",
                "new-header": "a gzip other than the published .gz; its unpacked bytes' SHA-256 matches"}[how]  # fmt: skip
    assert all(expected in status.detail for status in statuses)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated", r"461 bytes \(the published \.gz: 471\), and its gzip trailer gives [\d,]+ bytes unpacked instead of 448 \(truncated"),
        ("flipped", r"corrupt gzip data after [\d,]+ unpacked bytes"),
        ("flipped-unpacked", r"its unpacked bytes differ \(SHA-256 [0-9a-f]{16}…, expected [0-9a-f]{16}…\)"),
        ("other", r"this is Tiny-MNIST, not Tiny-Fashion \(it is Tiny-MNIST's t10k-images-idx3-ubyte\.gz\)"),
        ("huge", r"8,589,934,592 bytes: no gzip of Tiny-Fashion's t10k-images-idx3-ubyte \(448 bytes unpacked\) is that large"),
        ("huge-zeros", r"8,589,934,592 bytes, neither a gzip nor Tiny-Fashion's unpacked t10k-images-idx3-ubyte \(448 bytes\)"),
        ("joined", r"bytes follow the end of its gzip data"),
    ],
)  # fmt: skip
def test_a_damaged_or_wrong_file_placed_by_hand_is_named(
    tiny: TinyDataset, tmp_path: Path, damage: str, reason: str
) -> None:
    """One line naming the file and what differs, exit 2, and the cache left exactly as it was."""
    directory = _place(tiny, tmp_path)
    target = directory / NAMES["test_images"]
    data = tiny.files[NAMES["test_images"]]
    if damage == "truncated":
        target.write_bytes(data[:-10])
    elif damage == "flipped":
        target.write_bytes(_flip(data, len(data) // 2))
    elif damage == "flipped-unpacked":
        target.unlink()
        (directory / "t10k-images-idx3-ubyte").write_bytes(_flip(gzip.decompress(data), 300))
        target = directory / "t10k-images-idx3-ubyte"
    elif damage == "other":
        target.write_bytes(tiny.other_files[NAMES["test_images"]])
    elif damage.startswith("huge"):  # 8 GiB, sparse: refused from its size alone, before any hashing
        with open(target, "wb") as handle:
            handle.write(data[:10] if damage == "huge" else b"")
            handle.truncate(8 * 2**30)
    elif damage == "joined":
        target.write_bytes(data + data)
    before = {
        path.name: path.read_bytes() if path.stat().st_size < 2**20 else None for path in directory.iterdir()
    }
    started = time.perf_counter()
    with pytest.raises(UsageError, match=reason) as info:
        load_fashion_mnist(tmp_path, manifest=tiny.manifest, offline=True)
    assert time.perf_counter() - started < 5  # the 8 GiB file: never read through
    message = str(info.value)
    assert (
        message.startswith(f"{target}: not Tiny-Fashion's t10k-images-idx3-ubyte.gz: ")
        and "\n" not in message
    )
    assert info.value.exit_code == 2
    after = {
        path.name: path.read_bytes() if path.stat().st_size < 2**20 else None for path in directory.iterdir()
    }
    assert after == before  # nothing written, nothing deleted


def test_no_verify_loads_a_wrong_but_valid_file(tiny: TinyDataset, tmp_path: Path) -> None:
    directory = _place(tiny, tmp_path, other=True)
    with pytest.raises(UsageError, match="this is Tiny-MNIST, not Tiny-Fashion") as info:
        load_fashion_mnist(tmp_path, manifest=tiny.manifest, offline=True)
    assert str(directory) in str(info.value) and "(delete it, or pass --no-verify)" in str(info.value)
    # --no-verify: the user insists, the files load (they are valid IDX files)
    dataset = load_fashion_mnist(tmp_path, manifest=tiny.manifest, offline=True, verify=False)
    np.testing.assert_array_equal(dataset.x_train, tiny.other_arrays["train_images"])


def test_an_unpacked_lookalike_is_recognised_by_its_mean_pixel(tiny: TinyDataset, tmp_path: Path) -> None:
    real_mean = float(tiny.arrays["train_images"].mean()) / 255
    other_mean = float(tiny.other_arrays["train_images"].mean()) / 255
    manifest = dataclasses.replace(
        tiny.manifest, mean=real_mean, std=0.3, lookalike_means=(("Tiny-MNIST", other_mean),)
    )
    _place(tiny, tmp_path, unpacked=True, other=True)
    with pytest.raises(
        UsageError, match=r"this is Tiny-MNIST, not Tiny-Fashion \(mean pixel 0\.1\d\d, not 0\.4\d\d\)"
    ):
        load_fashion_mnist(tmp_path, manifest=manifest, offline=True)


def test_an_unpacked_file_of_the_wrong_shape(tiny: TinyDataset, tmp_path: Path) -> None:
    directory = _place(tiny, tmp_path, unpacked=True)
    write_idx(directory / "t10k-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(
        UsageError,
        match=r"13 bytes, neither a gzip nor Tiny-Fashion's unpacked t10k-labels-idx1-ubyte \(20 bytes\)",
    ):
        load_fashion_mnist(tmp_path, manifest=tiny.manifest, offline=True)


def test_a_mirror_may_serve_a_repacked_copy(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    """A lab mirror of Debian's copy: other .gz bytes, the same content; downloaded and accepted."""
    state, base = mirror
    state.files = {name: _repacked(data, "regzipped") for name, data in tiny.files.items()}
    _fetch(tiny, tmp_path, (base + "a/",))
    directory = dataset_dir(tiny.manifest, tmp_path)
    assert cache_listing(directory) == sorted(NAMES.values())
    for name in NAMES.values():
        assert (directory / name).read_bytes() == state.files[name]


def test_data_dir_holding_the_files_directly(tiny: TinyDataset, tmp_path: Path) -> None:
    """``--data-dir DIR`` with the four files in DIR itself (no DIR/<dataset>/): used as they are."""
    folder = tmp_path / "by-hand"
    folder.mkdir()
    for name, data in tiny.files.items():
        (folder / name).write_bytes(data)
    assert dataset_dir(tiny.manifest, folder) == folder
    dataset = load_fashion_mnist(folder, manifest=tiny.manifest, offline=True)
    np.testing.assert_array_equal(dataset.x_train, tiny.arrays["train_images"])
    assert dataset.source == f"{folder} (cache)"
    assert dataset_dir(tiny.manifest, tmp_path / "empty") == tmp_path / "empty" / "tiny-fashion"


def test_the_system_copy_is_read_in_place(
    tiny: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files under $XDG_DATA_DIRS/datasets/<name>/ are used when the cache has none; nothing is written."""
    system = tmp_path / "share" / "datasets" / "tiny-fashion"
    system.mkdir(parents=True)
    for name, data in tiny.files.items():
        (system / name).write_bytes(_repacked(data, "new-header"))
    system.chmod(0o555)  # as a system folder is to a user: not writable
    monkeypatch.setenv("XDG_DATA_DIRS", f"{tmp_path / 'nowhere'}:{tmp_path / 'share'}")
    cache = tmp_path / "cache"
    dataset = load_fashion_mnist(cache, manifest=tiny.manifest, offline=True)
    np.testing.assert_array_equal(dataset.x_test, tiny.arrays["test_images"])
    assert dataset.source == f"{system} (the system's copy)"
    assert not cache.exists()  # read in place: no copy, no link, not even the cache folder
    statuses = file_statuses(tiny.manifest, cache)
    assert {(status.source, status.state) for status in statuses} == {("system", "verified")}
    # a file in the cache comes first; a damaged system file is passed over for it
    (system.parent).chmod(0o755)
    system.chmod(0o755)
    (system / NAMES["train_labels"]).write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DrlabError, match=r"1 file\(s\) missing .*a damaged system copy"):
        load_fashion_mnist(cache, manifest=tiny.manifest, offline=True)
    _place(tiny, cache)
    assert (
        load_fashion_mnist(cache, manifest=tiny.manifest, offline=True).source
        == f"{cache / 'tiny-fashion'} (cache)"
    )


# --- the real Fashion-MNIST manifest (checked against Zalando's real bytes: test_real_fashion_mnist.py) -----


@pytest.mark.parametrize(
    ("description", "size", "md5"),
    [("train-images-idx3-ubyte.gz", 9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
     ("t10k-labels-idx1-ubyte.gz", 4_542, "ec29112dd5afa0611ce80d1b7f02629c")],
)  # fmt: skip
def test_mnist_served_instead_of_fashion_mnist_is_named(description: str, size: int, md5: str) -> None:
    file = FASHION_MNIST.files["train_images"]
    reason = mismatch_reason(Digest(size, md5, "0" * 64), file, FASHION_MNIST)
    assert reason == f"this is MNIST, not Fashion-MNIST (it is MNIST's {description})"


def test_mismatch_reason_accepts_the_right_file() -> None:
    file = FASHION_MNIST.files["train_labels"]
    assert mismatch_reason(Digest(file.size, file.md5, file.sha256 or ""), file, FASHION_MNIST) is None
    reason = mismatch_reason(Digest(file.size, file.md5, "f" * 64), file, FASHION_MNIST)
    assert reason is not None and reason.startswith("SHA-256")


def test_mirror_order_and_urls() -> None:
    assert mirror_order(["http://lab/x", "https://b/"], ["https://b/", "http://c/"]) == (
        "http://lab/x/", "https://b/", "http://c/",
    )  # fmt: skip
    for bad in ("ftp://host/", "fashion-mnist.s3", "http://"):
        with pytest.raises(UsageError, match="--mirror"):
            check_mirror_url(bad)


def test_a_local_folder_works_as_a_mirror(tiny: TinyDataset, tmp_path: Path) -> None:
    folder = tmp_path / "lab-share"
    folder.mkdir()
    for name, data in tiny.files.items():
        (folder / name).write_bytes(data)
    _fetch(tiny, tmp_path / "data", (folder.as_uri(),))  # file:///…/lab-share, no trailing slash
    _assert_cache_holds_exactly(tiny, tmp_path / "data", list(NAMES.values()))


def test_a_redirect_that_silently_serves_another_dataset(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    state, base = mirror
    state.modes = {"a": "redirect:mnist", "mnist": "other", "b": "ok"}
    with pytest.raises(DrlabError, match=r"a/train-images-idx3-ubyte\.gz \(wrong file: this is Tiny-MNIST"):
        _fetch(tiny, tmp_path, (base + "a/",))
    _assert_cache_holds_exactly(tiny, tmp_path, [])
    _fetch(tiny, tmp_path, (base + "a/", base + "b/"))  # the next mirror is tried and is right
    _assert_cache_holds_exactly(tiny, tmp_path, list(NAMES.values()))


def test_a_mirror_that_trickles_runs_out_of_time(
    tiny: TinyDataset, mirror: tuple[MirrorState, str], tmp_path: Path
) -> None:
    """--timeout is the time the whole file has: 256 bytes every 0.15 s never waits 0.5 s for a read, yet
    the file takes longer than 0.5 s, so the mirror is left (a per-read timeout would wait for ever)."""
    state, base = mirror
    state.modes, state.delay = {"slow": "trickle"}, 0.15
    size = len(tiny.files[NAMES["train_images"]])
    assert size > 256 * 6  # more than 0.9 s of trickling
    start = time.monotonic()
    with pytest.raises(DrlabError, match=r"too slow: [\d,]+ of [\d,]+ bytes in 0.5 s \(--timeout\)"):
        _fetch(tiny, tmp_path, (base + "slow/",), timeout=0.5)
    assert time.monotonic() - start < 0.5 + 0.4  # the deadline, not the whole trickle
    _assert_cache_holds_exactly(tiny, tmp_path, [])


def test_a_local_mirror_that_is_a_fifo_is_refused_not_waited_for(tiny: TinyDataset, tmp_path: Path) -> None:
    import threading

    folder = tmp_path / "share"
    folder.mkdir()
    for name, data in tiny.files.items():
        (folder / name).write_bytes(data)
    fifo = folder / NAMES["train_images"]
    fifo.unlink()
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def fetch() -> None:
        try:
            _fetch(tiny, tmp_path / "data", (folder.as_uri(),), timeout=3)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # blocked in open(): release it (a writer opens the FIFO) before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
        pytest.fail("a FIFO mirror blocked the download")
    assert isinstance(outcome[0], DrlabError) and "not a regular file" in str(outcome[0])
    _assert_cache_holds_exactly(tiny, tmp_path / "data", [])
