"""The lock of a run folder: one writer at a time (``.drlab-run.lock``, ``flock``, opened without
following links). The lock file holds who took it ("pid 123 on host since …") for the message a second
run gets; the kernel drops the lock when its process dies, so a stale lock never blocks."""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import socket
import stat
import sys

from drlab.common.errors import UsageError
from drlab.common.folders import Dir
from drlab.common.io import no_room_error

LOCK_NAME = ".drlab-run.lock"

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no flock on Windows: runs there are not locked
    fcntl = None


def lock_holder(directory: Dir) -> str | None:
    """Who holds the lock of the folder ("pid 123 on host since …"), or ``None`` if nobody does.

    A lock file that is not a regular file (a link, a FIFO) is refused: drlab never makes one.
    """
    info = directory.lstat(LOCK_NAME)
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a plain file"
        raise UsageError(
            f"{directory.path / LOCK_NAME} is {kind}, not drlab's lock: remove it (drlab writes nothing "
            "through it)"
        )
    if fcntl is None:
        return None
    try:
        fd = directory.open(LOCK_NAME, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a shared lock fails while a run holds it
        except BlockingIOError:
            text = os.read(fd, 512).decode("utf-8", "replace").strip()
            return printable(text) or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def printable(text: str) -> str:
    # the lock file's text reaches the terminal: no escape sequence from a hand-made file
    first = text.strip().splitlines()[0] if text.strip() else ""
    return "".join(c if c.isprintable() else "?" for c in first)[:200]


def take_lock(directory: Dir) -> int | None:
    """Take the lock of the folder for this process (the lock file's descriptor), or raise naming who
    holds it. The lock file is opened without following links and must be a plain file of its own."""
    if fcntl is None:
        return None
    where = directory.path / LOCK_NAME
    while True:
        try:
            fd = directory.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o666)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP):
                raise UsageError(
                    f"{where} is not drlab's lock (a link, folder or device): remove it"
                ) from None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise UsageError(f"{where} is not a plain file of its own, not drlab's lock: remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = printable(os.read(fd, 512).decode("utf-8", "replace")) or "another process"
            os.close(fd)
            raise UsageError(
                f"{directory.path} is in use by another drlab run ({text}); wait for it to end or choose "
                "another --out"
            ) from None
        # its previous holder may have removed the file between our open() and flock(): then we hold
        # the lock of a file nobody else can see, so try again on the file that is there now
        now = directory.lstat(LOCK_NAME)
        if now is not None and now.st_ino == info.st_ino:
            break
        os.close(fd)
    since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:  # who holds it, for the message a second run gets
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
    except OSError as exc:
        drop_lock(fd, directory)
        raise no_room_error(exc, where, kept=False) or exc from None
    return fd


def drop_lock(fd: int, directory: Dir) -> None:
    with contextlib.suppress(OSError):  # still locked while we unlink: nobody else holds this file
        now = directory.lstat(LOCK_NAME)
        if now is not None and now.st_ino == os.fstat(fd).st_ino:
            directory.unlink(LOCK_NAME)
    os.close(fd)
