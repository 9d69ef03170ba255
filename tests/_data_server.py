"""Test helpers for drlab.data: tiny generated IDX datasets, their manifest, and a faulty HTTP mirror on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from drlab.data.idx import write_idx
from drlab.data.manifest import DatasetFile, Impostor, Manifest

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def make_arrays(
    seed: int, high: int = 256, n_train: int = 48, n_test: int = 12, side: int = 6
) -> dict[str, np.ndarray]:
    """Random uint8 images below ``high`` (a darker look-alike has a lower mean pixel) and labels 0–9."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, high, (n_train, side, side), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_images": rng.integers(0, high, (n_test, side, side), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def gz_bytes(tmp_dir: Path, arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The published (.gz) bytes of each file, by file name."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for role, array in arrays.items():
        path = tmp_dir / NAMES[role]
        write_idx(path, array)
        out[NAMES[role]] = path.read_bytes()
    return out


@dataclass
class TinyDataset:
    """A generated 'Fashion-MNIST' and a generated look-alike ('MNIST') with its manifest."""

    arrays: dict[str, np.ndarray]
    other_arrays: dict[str, np.ndarray]
    files: dict[str, bytes]
    other_files: dict[str, bytes]
    manifest: Manifest


def make_tiny_dataset(tmp_dir: Path, mirrors: tuple[str, ...] = ()) -> TinyDataset:
    arrays = make_arrays(seed=1)
    files = gz_bytes(tmp_dir / "real", arrays)
    other_arrays = make_arrays(seed=2, high=80)
    other_files = gz_bytes(tmp_dir / "other", other_arrays)
    manifest = Manifest(
        name="tiny-fashion",
        title="Tiny-Fashion",
        files={
            role: DatasetFile(
                name=NAMES[role],
                size=len(files[NAMES[role]]),
                md5=hashlib.md5(files[NAMES[role]]).hexdigest(),
                sha256=hashlib.sha256(files[NAMES[role]]).hexdigest(),
                shape=arrays[role].shape,
                unpacked_sha256=hashlib.sha256(gzip.decompress(files[NAMES[role]])).hexdigest(),
            )
            for role in ROLES
        },
        mirrors=mirrors,
        classes=tuple(f"class {i}" for i in range(10)),
        impostors=tuple(
            Impostor(f"Tiny-MNIST's {name}", "Tiny-MNIST", len(data), hashlib.md5(data).hexdigest())
            for name, data in other_files.items()
        ),
        homepage="http://example.invalid/tiny-fashion",
    )
    return TinyDataset(arrays, other_arrays, files, other_files, manifest)


@dataclass
class MirrorState:
    """What each mirror prefix does: ``modes[prefix]`` is one of ok, 403, 404, 500, drop, slow, stall,
    trickle, wrong, other."""

    files: dict[str, bytes]
    other_files: dict[str, bytes]
    modes: dict[str, str] = field(default_factory=dict)
    delay: float = 1.0
    requests: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append(self.path)
        state.user_agents.append(self.headers.get("User-Agent", ""))
        path = urllib.parse.urlsplit(self.path).path  # absolute URLs arrive when we act as a proxy
        prefix, _, name = path.strip("/").partition("/")
        mode = state.modes.get(prefix, "ok")
        body = state.files.get(name)
        if mode in ("403", "404", "500"):
            self.send_error(int(mode))
            return
        if body is None:
            self.send_error(404)
            return
        if mode.startswith("redirect:"):  # e.g. "redirect:mnist": a 302 to the same file under /mnist/
            self.send_response(302)
            self.send_header("Location", f"/{mode.split(':', 1)[1]}/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "slow":  # the answer comes after the client's timeout
            time.sleep(state.delay)
        if mode == "wrong":
            body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
        if mode == "other":
            body = state.other_files[name]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "trickle":  # every byte comes, but slowly: `delay` seconds between small pieces
            try:
                for start in range(0, len(body), 256):
                    self.wfile.write(body[start : start + 256])
                    self.wfile.flush()
                    time.sleep(state.delay)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                pass
            return
        if mode in ("drop", "stall"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if mode == "stall":
                time.sleep(state.delay)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: MirrorState


@contextmanager
def serve(state: MirrorState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1 (a free port) in a thread; yield the base URL ``http://127.0.0.1:PORT/``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def cache_listing(directory: Path) -> list[str]:
    """Every entry of a dataset's cache directory, hidden ones included (a .part file must never stay)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
