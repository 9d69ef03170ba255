"""The verified downloader: a file reaches the cache whole and checked, or not at all.

For each mirror in turn: stream the file into a temporary file *in the target directory*, hashing it
on the way (MD5 and SHA-256) and stopping as soon as it grows past the largest size the right file can
have; check it (the publisher's bytes, or a gzip whose unpacked bytes are the right ones, as a lab
mirror of Debian's copy serves: see :mod:`drlab.data.verify`); then rename it over the final name
(``os.replace``, atomic). Any failure — an HTTP
error, a dropped connection, a stalled server, wrong bytes, another dataset — deletes the temporary
file and moves on to the next mirror; when every mirror failed, one error says why each one did.
A Ctrl-C deletes the temporary file too; a killed process can leave one behind, under a hidden
``.NAME.*.part`` name that is never mistaken for the real file and is swept away by a later download.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from drlab import __version__
from drlab.common.errors import DrlabError, UsageError
from drlab.data.config import DOWNLOAD_TIMEOUT, STALL_SECONDS
from drlab.data.manifest import DatasetFile, Manifest
from drlab.data.verify import Digest, Mismatch, identify, mismatch_reason

USER_AGENT = f"drlab/{__version__} (+Python urllib; verified dataset download)"
CHUNK_BYTES = 1 << 16
STALE_PART_SECONDS = 15 * 60  # a .part file untouched this long belongs to a dead process
MIRROR_SCHEMES = ("http", "https", "file")


class MirrorFailed(Exception):
    """One mirror could not deliver one file; the message says why, in a few words."""


def check_mirror_url(url: str) -> str:
    """Return ``url`` with a trailing slash, or raise :class:`UsageError` if it cannot be a mirror."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in MIRROR_SCHEMES or not (parsed.netloc or parsed.scheme == "file"):
        raise UsageError(f"--mirror {url!r}: expected an http://, https:// or file:// base URL")
    return url if url.endswith("/") else url + "/"


def mirror_order(extra: Sequence[str], official: Sequence[str]) -> tuple[str, ...]:
    """The user's mirrors first, then the official ones, each once, in order."""
    ordered: list[str] = []
    for url in [*map(check_mirror_url, extra), *map(check_mirror_url, official)]:
        if url not in ordered:
            ordered.append(url)
    return tuple(ordered)


def sweep_stale_parts(directory: Path, file: DatasetFile, older_than: float = STALE_PART_SECONDS) -> None:
    """Delete temporary files of ``file`` left by a process killed mid-download."""
    now = time.time()
    for part in directory.glob(f".{file.name}.*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > older_than:
                part.unlink()


def download_file(
    file: DatasetFile,
    mirrors: Sequence[str],
    directory: str | os.PathLike[str],
    manifest: Manifest,
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
    progress: bool | None = None,
) -> Path:
    """Download ``file`` into ``directory`` from the first mirror that delivers it intact.

    ``timeout`` is the time, in seconds, each mirror has to deliver the whole file (a mirror that sends
    nothing for :data:`~drlab.data.config.STALL_SECONDS` is left sooner).
    Raises :class:`DrlabError` listing every mirror and why it failed when none succeeded.
    """
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_parts(target_dir, file)
    target = target_dir / file.name
    show = sys.stderr.isatty() if progress is None else progress
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror + file.name
        try:
            _download_once(url, file, target, manifest, timeout=timeout, progress=show)
            return target
        except MirrorFailed as exc:
            failures.append(f"{url} ({exc})")
    tried = "; ".join(failures) if failures else "no mirror given"
    raise DrlabError(f"could not download {file.name} from any mirror: {tried}")


def _download_once(
    url: str, file: DatasetFile, target: Path, manifest: Manifest, *, timeout: float, progress: bool
) -> None:
    fd, part_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            digest = _fetch(url, handle, file, timeout=timeout, progress=progress)
            handle.flush()
            os.fsync(handle.fileno())
        reason = mismatch_reason(digest, file, manifest)
        if reason is not None and manifest.identify(digest.size, digest.md5) is None:
            try:  # not the publisher's bytes, but perhaps the same content (a re-packed gzip)
                identify(manifest, file, Path(part_name))
                reason = None
            except Mismatch as exc:
                reason = f"{reason}, and {exc}"
        if reason is not None:
            raise MirrorFailed(f"wrong file: {reason}")
        os.replace(part_name, target)  # atomic: the final name only ever holds a verified file
    except BaseException:  # also KeyboardInterrupt: never leave the partial file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part_name)
        raise


def _fetch(url: str, handle: IO[bytes], file: DatasetFile, *, timeout: float, progress: bool) -> Digest:
    """Stream ``url`` into ``handle``, hashing it; within ``timeout`` seconds in all (a deadline for the
    whole file, not for each read: a mirror that trickles a byte a second is left when it runs out),
    and leaving sooner a mirror that sends nothing for :data:`STALL_SECONDS`."""
    from tqdm.auto import tqdm

    deadline = time.monotonic() + timeout
    largest = max(file.size, file.largest_gzip_size)  # a re-packed copy may be a little larger
    md5, sha256, received, answered = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0, False
    announced: int | None = None
    stall = min(timeout, STALL_SECONDS)
    try:
        with _open(url, timeout) as (response, length):
            answered = True
            announced = length
            if announced is not None and announced > largest:
                raise MirrorFailed(
                    f"wrong file: the server announces {announced:,} bytes, expected {file.size:,}"
                )
            # read1: whatever has arrived (up to a chunk), so a stall is seen as soon as the bytes stop
            read = getattr(response, "read1", response.read)
            with tqdm(
                total=file.size, unit="B", unit_scale=True, unit_divisor=1024, desc=file.name,
                disable=not progress, leave=False,
            ) as bar:  # fmt: skip
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise MirrorFailed(
                            f"too slow: {received:,} of {file.size:,} bytes in {timeout:g} s (--timeout)"
                        )
                    _read_timeout(response, min(remaining, stall))
                    chunk = read(CHUNK_BYTES)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > largest:  # stop early: a larger file is the wrong file
                        raise MirrorFailed(f"wrong file: more than the expected {file.size:,} bytes")
                    handle.write(chunk)
                    md5.update(chunk)
                    sha256.update(chunk)
                    bar.update(len(chunk))
    except MirrorFailed:
        raise
    except urllib.error.HTTPError as exc:
        raise MirrorFailed(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise MirrorFailed(f"no answer within {timeout:g} s") from exc
        raise MirrorFailed(f"cannot connect: {exc.reason}") from exc
    except TimeoutError as exc:  # socket.timeout is TimeoutError since Python 3.10
        if not answered:
            raise MirrorFailed(f"no answer within {timeout:g} s") from exc
        if time.monotonic() >= deadline:
            raise MirrorFailed(
                f"too slow: {received:,} of {file.size:,} bytes in {timeout:g} s (--timeout)"
            ) from exc
        raise MirrorFailed(f"stalled: no data for {stall:g} s after {received:,} bytes") from exc
    except http.client.IncompleteRead as exc:
        raise MirrorFailed(
            f"connection dropped after {received + len(exc.partial):,} of {file.size:,} bytes"
        ) from exc
    except (http.client.HTTPException, OSError) as exc:
        raise MirrorFailed(
            f"connection failed after {received:,} bytes: {exc or type(exc).__name__}"
        ) from exc
    if announced is not None and received < announced:  # the server closed before sending all it promised
        raise MirrorFailed(f"connection dropped after {received:,} of {announced:,} bytes")
    return Digest(received, md5.hexdigest(), sha256.hexdigest())


@contextlib.contextmanager
def _open(url: str, timeout: float) -> Iterator[tuple[IO[bytes], int | None]]:
    """The response to ``url`` and the length it announces; a ``file://`` URL must name a regular file.

    urllib would ``open()`` a local path whatever it is: a FIFO blocks until a writer comes (forever,
    whatever the timeout), ``/dev/zero`` never ends. Here the file is opened without blocking and
    refused unless it is a regular file.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(urllib.parse.unquote(parsed.path))
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise MirrorFailed(f"cannot open {path}: {exc.strerror or exc}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise MirrorFailed(f"{path} is not a regular file (a FIFO, a device, a folder or a socket)")
        with os.fdopen(fd, "rb") as local:
            yield local, info.st_size
        return
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    opener = urllib.request.build_opener()  # honours http_proxy/https_proxy/no_proxy from the environment
    with opener.open(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        yield response, int(length) if length is not None and length.isdigit() else None


def _read_timeout(response: IO[bytes], seconds: float) -> None:
    """Let the next read of ``response`` wait at most ``seconds`` (its socket's timeout, when it has one).

    ``urlopen(timeout=…)`` bounds each socket operation alone; the deadline of the whole download needs
    the time left to shrink as the download goes on.
    """
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None and hasattr(sock, "settimeout"):
        sock.settimeout(max(seconds, 0.001))
