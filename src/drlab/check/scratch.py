"""The grader's temporary files: private, recognisable, and removed by the next grading after a kill.

A grading writes into the system's temporary folder (``$TMPDIR``): the dataset a notebook may see, its
private images included (``drlab-data-*``), one request per notebook with a copy of the notebook
(``drlab-request-*``), the sandbox's scratch (``drlab-check-*``). Each folder is

- private: ``0700``, and the files drlab writes in it ``0600`` (nobody else on the machine reads a
  student's notebook or the private images, whatever the umask);
- marked: a file ``.drlab-grader`` holds the grader's process id, its start time and the boot's id.

The grader removes its folders when it ends; a grader killed with SIGKILL cannot. So every grading
first removes the leftovers of graders that are gone (:func:`remove_leftovers`): only folders whose
name has one of the prefixes, that belong to this user, are not links, and hold a marker naming a
process that no longer runs (or another boot). Nothing else is ever deleted.

A full temporary folder is the grader's problem, not the notebook's: it stops the grading with one line
(:func:`no_room`), the rows graded so far kept, instead of a traceback or a 0/14 for every student.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from drlab.common.errors import DrlabError

PREFIXES = ("drlab-data-", "drlab-request-", "drlab-check-")
MARKER = ".drlab-grader"
#: write errors that mean the temporary folder has no room left
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _boot_id() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    return ""


def _start_time(pid: int) -> str:
    """The process's start time since boot (``/proc/PID/stat``, field 22), or "" where unknown."""
    with contextlib.suppress(OSError, IndexError):
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat_line.rsplit(")", 1)[1].split()[19]
    return ""


def _identity(pid: int) -> str:
    return f"{pid} {_start_time(pid)} {_boot_id()}"


def make_folder(prefix: str) -> Path:
    """A new private folder (``0700``) in the temporary folder, marked as this grader's."""
    assert prefix in PREFIXES
    folder = Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp: 0700, whatever the umask
    write_private(folder / MARKER, _identity(os.getpid()).encode())
    return folder


def remove_folder(folder: Path) -> None:
    """Remove ``folder`` and what is in it, even files a notebook made read-only (not sandboxed)."""

    def make_writable(function: object, path: str, info: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder, onerror=make_writable)


@contextlib.contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """:func:`make_folder`, removed at the end of the block."""
    folder = make_folder(prefix)
    try:
        yield folder
    finally:
        remove_folder(folder)


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only (``0600``); a full disk is a :class:`DrlabError`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as exc:
        raise no_room(exc) or exc from None


def no_room(exc: BaseException) -> DrlabError | None:
    """The one-line error of a temporary folder without room, when ``exc`` is one (else None)."""
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        where = tempfile.gettempdir()
        free = ""
        with contextlib.suppress(OSError):
            free = f", {shutil.disk_usage(where).free / 2**20:.0f} MiB free"
        return DrlabError(
            f"the temporary folder {where} is full ({exc.strerror}{free}): the grader needs about 120 MB "
            "there (the dataset a notebook sees and the checker's images, written once per grading); free "
            "some space or set TMPDIR to a folder with room. The rows graded so far are kept"
        )
    return None


def _gone(marker: Path) -> bool:
    """Does the marker name a grader that no longer runs?"""
    try:
        pid_text, start, boot = [*marker.read_text(encoding="ascii").split(" "), "", ""][:3]
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # unreadable: not ours to judge
    if boot and boot != _boot_id():
        return True  # written before the last reboot
    if pid == os.getpid():
        return start != _start_time(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # a live process of another user: the number was reused
    return bool(start) and start != _start_time(pid)


def remove_leftovers(folder: Path | None = None) -> list[Path]:
    """Remove the folders that killed graders left in ``folder`` (the temporary folder); return them."""
    where = Path(folder or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(where):
            if not entry.name.startswith(PREFIXES):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                marker = Path(entry.path) / MARKER
                marker_info = marker.lstat()
                if (
                    stat.S_ISDIR(info.st_mode)
                    and info.st_uid == os.geteuid()
                    and stat.S_ISREG(marker_info.st_mode)
                    and marker_info.st_uid == os.geteuid()
                    and _gone(marker)
                ):
                    remove_folder(Path(entry.path))
                    removed.append(Path(entry.path))
    return removed
