"""Folders drlab writes into, and the record of what it wrote there: drlab replaces or deletes a file
only when it can prove the file is still what it wrote.

A folder drlab writes (a run folder, a folder of pictures) holds a record, ``.drlab-run.json`` or
``.drlab-files.json``, that lists every file drlab wrote there with its size and SHA-256. Through
:class:`RecordedFolder`:

- a file is written atomically (a temporary file beside it, flushed, then renamed over it) with the
  umask's permissions, and recorded *before* it is renamed into place: whatever kills the process,
  the file on disk is either absent or one the record lists;
- a name that already exists may be replaced only if it is a regular file whose size and SHA-256 are
  in the record: a user's own file of that name, a file changed since drlab wrote it, a symbolic link
  or a folder is refused in one line, and nothing is written;
- nothing follows a symbolic link: the folder is opened once and every file is opened, created,
  renamed and deleted relative to it (``openat``), without following links (``O_NOFOLLOW``);
- the temporary names (``.NAME.drlab-tmp``) are recorded too, so that the leftovers of a killed
  process can be told from a user's files.

Records written by drlab 0.x before this one list file names without their content; drlab cannot
prove which of those files it wrote, so it replaces and deletes none of them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from drlab.common.errors import UsageError

#: in a folder of pictures (``drlab linreg --plot``, ``drlab graph --out``): the files drlab wrote there
OUTPUTS_NAME = ".drlab-files.json"
OUTPUTS_FORMAT = "drlab-files/2"
#: the temporary file of ``NAME`` while it is written: ``.NAME.drlab-tmp``
TEMP_SUFFIX = ".drlab-tmp"
#: a record larger than this is not drlab's (it holds a few hundred names at most)
_RECORD_LIMIT = 4 << 20

_Folder = TypeVar("_Folder", bound="RecordedFolder")
Fingerprint = dict[str, Any]
"""``{"size": bytes, "sha256": hex digest}`` of a file's content"""

_POSIX = os.open in os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def fingerprint(data: bytes) -> Fingerprint:
    """The size and SHA-256 of ``data``, as a record holds them."""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def plain_name(name: str) -> bool:
    """Whether ``name`` names an entry directly inside a folder (no ``/``, ``..``, NUL…)."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def _record_name_ok(name: str) -> bool:
    # a file directly in the folder, or in one of its subfolders (tensorboard/events…)
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(plain_name(part) for part in parts)


class Dir:
    """An open folder: every operation is relative to it and follows no symbolic link (``openat``).

    Where the platform has no ``dir_fd`` (Windows), the same operations run on joined paths.
    """

    def __init__(self, path: Path, *, follow: bool = False, parent: Dir | None = None) -> None:
        self.path = path
        self.fd: int | None = None
        if _POSIX:
            flags = os.O_RDONLY | _DIRECTORY | _CLOEXEC | (0 if follow else _NOFOLLOW)
            at = {"dir_fd": parent.fd} if parent is not None and parent.fd is not None else {}
            try:
                self.fd = os.open(path.name if at else path, flags, **at)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UsageError(f"{path} is a symbolic link or not a folder") from None
                raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _at(self, name: str) -> tuple[str, dict[str, Any]]:
        return (name, {"dir_fd": self.fd}) if self.fd is not None else (str(self.path / name), {})

    @contextlib.contextmanager
    def _naming(self, name: str) -> Iterator[None]:
        """An OSError names the file by its whole path, not by the name relative to this folder."""
        try:
            yield
        except OSError as exc:
            if isinstance(exc.filename, str) and not os.path.isabs(exc.filename):
                exc.filename = str(self.path / name)
            raise

    def lstat(self, name: str) -> os.stat_result | None:
        target, at = self._at(name)
        try:
            return os.stat(target, follow_symlinks=False, **at)
        except FileNotFoundError:
            return None

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        target, at = self._at(name)
        with self._naming(name):
            return os.open(target, flags | _NOFOLLOW | _CLOEXEC, mode, **at)

    def replace(self, source: str, target: str) -> None:
        with self._naming(target):
            if self.fd is not None:
                os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)  # atomic, replaces
            else:
                os.replace(self.path / source, self.path / target)

    def unlink(self, name: str) -> None:
        target, at = self._at(name)
        with self._naming(name):
            os.unlink(target, **at)

    def mkdir(self, name: str) -> None:
        target, at = self._at(name)
        with self._naming(name):
            os.mkdir(target, 0o777, **at)

    def rmdir(self, name: str) -> None:
        target, at = self._at(name)
        with self._naming(name):
            os.rmdir(target, **at)

    def names(self) -> list[str]:
        with os.scandir(self.fd if self.fd is not None else self.path) as entries:
            return sorted(entry.name for entry in entries)

    def sub(self, name: str) -> Dir:
        """The subfolder ``name``, opened from this one (refused if it is a link)."""
        return Dir(self.path / name, parent=self)

    def read(self, name: str, limit: int) -> bytes:
        """The content of the regular file ``name`` (not a link, a FIFO or a device), at most ``limit`` bytes."""
        fd = self.open(name, os.O_RDONLY | _NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                raise OSError(errno.EINVAL, "not a regular file of a sensible size")
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read(limit + 1)
        finally:
            os.close(fd)

    def sha256(self, name: str, expected: os.stat_result) -> str:
        """The SHA-256 of the regular file ``name``, which must still be the one ``expected`` describes."""
        fd = self.open(name, os.O_RDONLY | _NONBLOCK)
        try:
            info = os.fstat(fd)
            if (info.st_ino, info.st_dev) != (expected.st_ino, expected.st_dev):
                raise OSError(errno.EAGAIN, "the file changed while it was read")
            digest = hashlib.sha256()
            with os.fdopen(os.dup(fd), "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            return digest.hexdigest()
        finally:
            os.close(fd)

    def put(self, name: str, data: bytes, temp: str) -> None:
        """Write ``data`` to ``temp`` (created, never opened if it exists), flush it, rename it to ``name``."""
        fd = self.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.replace(temp, name)
        except BaseException:
            with contextlib.suppress(OSError):
                self.unlink(temp)
            raise


def _what(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if stat.S_ISDIR(info.st_mode):
        return "a folder"
    return "a regular file" if stat.S_ISREG(info.st_mode) else "a FIFO, socket or device"


class RecordedFolder:
    """A folder drlab writes into, with the record (``record_name``) of every file it wrote there.

    Write with :meth:`write` (or the helpers of :mod:`drlab.common.runfiles`); a subfolder that
    another library fills (TensorBoard's) comes from :meth:`folder` and is recorded by
    :meth:`record_folder`. :meth:`close` saves the record and closes the folder.
    """

    def __init__(self, directory: Dir, record_name: str, header: dict[str, Any], option: str) -> None:
        self.path = directory.path
        self.dir = directory
        self.record_name = record_name
        self.header = header
        """the record's other fields (format, kind, dates)"""
        self.option = option
        """how messages name the folder's option (``--out``, ``--plot``)"""
        self.files: dict[str, list[Fingerprint]] = {}
        """each recorded file, and the contents it may hold (one, or two while it is rewritten)"""
        self.temporary: set[str] = set()
        self.folders: set[str] = set()
        self.legacy: list[str] | None = None
        """the names an older drlab's record lists without their content (then nothing is replaced)"""
        self.recorded = False
        """whether the folder held a record when it was opened"""
        self.written: list[str] = []
        """what this process wrote, in order"""
        self._known: dict[str, tuple[int, int, int, str]] = {}
        self._foreign: dict[str, set[str]] = {}
        self._dirty = False

    # --- the record -------------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: Dir, record_name: str, option: str, form: str) -> RecordedFolder:
        """``directory`` and what its record says (an empty record if it has none)."""
        folder = cls(directory, record_name, {"format": form}, option)
        info = directory.lstat(record_name)
        if info is None:
            return folder
        folder.recorded = True
        where = directory.path / record_name
        damaged = UsageError(f"{where}: damaged drlab record; remove it if the files beside it are yours")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{where} is {_what(info)}, not a drlab record; remove it if it is yours")
        try:
            record = json.loads(directory.read(record_name, _RECORD_LIMIT))
        except (OSError, ValueError, RecursionError):
            raise damaged from None
        files = record.get("files") if isinstance(record, dict) else None
        if isinstance(files, list):  # drlab 0.x: names only
            if not all(isinstance(name, str) for name in files):
                raise damaged
            folder.legacy = [name.removesuffix("/") for name in files]
            folder.header = {k: v for k, v in record.items() if k != "files"}
            return folder
        temporary, folders = record.get("temporary", []), record.get("folders", [])
        if not (
            isinstance(files, dict)
            and all(_record_name_ok(name) and _fingerprints_ok(fps) for name, fps in files.items())
            and isinstance(temporary, list)
            and all(isinstance(n, str) and plain_name(n) and n.endswith(TEMP_SUFFIX) for n in temporary)
            and isinstance(folders, list)
            and all(isinstance(n, str) and plain_name(n) for n in folders)
            and all("/" not in name or name.split("/")[0] in folders for name in files)
        ):
            raise damaged
        folder.header = {k: v for k, v in record.items() if k not in ("files", "temporary", "folders")}
        folder.files = {name: list(fps) for name, fps in files.items()}
        folder.temporary, folder.folders = set(temporary), set(folders)
        return folder

    def save(self) -> None:
        """Write the record (atomically, replacing whatever sits at its temporary name)."""
        record = {
            **self.header,
            "files": self.files,
            "folders": sorted(self.folders),
            "temporary": sorted(self.temporary),
        }
        from drlab.common.io import json_bytes

        temp = self.record_name + TEMP_SUFFIX
        info = self.dir.lstat(temp)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{self.path / temp} is a folder that drlab did not make: move it aside")
        if info is not None:
            self.dir.unlink(temp)  # drlab's own leftover beside its own record (a link is only unlinked)
        self._put(self.record_name, json_bytes(record), temp)
        self._dirty = False

    def close(self) -> None:
        """Save the record if it changed, and close the folder."""
        try:
            if self._dirty:
                self.save()
        finally:
            self.dir.close()

    def __enter__(self: _Folder) -> _Folder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- what is drlab's -----------------------------------------------------------------------------
    def owns(self, name: str, directory: Dir | None = None) -> bool:
        """Whether ``name`` is a regular file whose size and SHA-256 the record lists."""
        base, leaf = (directory, name.rpartition("/")[2]) if directory is not None else (self.dir, name)
        info = base.lstat(leaf)
        if info is None or not stat.S_ISREG(info.st_mode):
            return False
        expected = self.files.get(name, [])
        if not any(fp["size"] == info.st_size for fp in expected):
            return False
        known = self._known.get(name)
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        if known is not None and known[:3] == key:
            digest = known[3]
        else:
            try:
                digest = base.sha256(leaf, info)
            except OSError:
                return False
            self._known[name] = (*key, digest)
        return any(fp["sha256"] == digest for fp in expected)

    def refusal(self, name: str, why: str = "") -> UsageError | None:
        """Why ``name`` may not be written (or deleted) here, or ``None`` if it is absent or drlab's
        (and so is whatever sits at its temporary name)."""
        fix = f"move it aside, or choose another {self.option}".strip()
        temp = f".{name}{TEMP_SUFFIX}"
        info = self.dir.lstat(temp)
        if info is not None and not (temp in self.temporary and stat.S_ISREG(info.st_mode)):
            return UsageError(f"{self.path / temp} exists and drlab did not write it: {fix}")
        info = self.dir.lstat(name)
        if info is None or self.owns(name):
            return None
        where = self.path / name
        if self.legacy is not None and name in self.legacy:
            return UsageError(
                f"{where} is listed by an older drlab's {self.record_name}, which does not record content: "
                f"drlab cannot prove it wrote this file, so it will not {why or 'replace'} it; {fix}"
            )
        if not stat.S_ISREG(info.st_mode):
            return UsageError(f"{where} is {_what(info)} that drlab did not make: {fix}")
        if name in self.files:
            return UsageError(
                f"{where} changed since drlab wrote it, so drlab will not {why or 'replace'} it; {fix}"
            )
        return UsageError(f"{where} exists and drlab did not write it: {fix}")

    def check_writable(self, names: Iterable[str]) -> None:
        """Raise the first :meth:`refusal` among ``names`` (a name ending in ``/``: a subfolder)."""
        for name in names:
            if name.endswith("/"):
                self._check_subfolder(name.removesuffix("/"))
                continue
            refusal = self.refusal(name)
            if refusal is not None:
                raise refusal

    # --- writing ---------------------------------------------------------------------------------------
    def write(self, contents: Mapping[str, bytes]) -> list[str]:
        """Write each ``{name: content}`` atomically; return the names, in order.

        Every name is checked first (:meth:`refusal`): one refused name and nothing is written.
        """
        names = list(contents)
        for name in names:
            if not plain_name(name):
                raise ValueError(f"not a file name: {name!r}")
            refusal = self.refusal(name)
            if refusal is not None:
                raise refusal
        temps = {name: f".{name}{TEMP_SUFFIX}" for name in names}
        for temp in temps.values():
            self._clear_temporary(temp)
        new = {name: fingerprint(data) for name, data in contents.items()}
        for name in names:  # recorded before the rename: the record lists what the file may hold
            before = self.files.get(name, []) if self.dir.lstat(name) is not None else []
            self.files[name] = [fp for fp in before if fp != new[name]] + [new[name]]
        self.temporary |= set(temps.values())
        self.save()
        for name in names:
            self._put(name, contents[name], temps[name])
            self.files[name] = [new[name]]
            self.temporary.discard(temps[name])
            info = self.dir.lstat(name)
            if info is not None:
                self._known[name] = (info.st_ino, info.st_size, info.st_mtime_ns, new[name]["sha256"])
            self.written.append(name)
            self._dirty = True
        return names

    def _put(self, name: str, data: bytes, temp: str) -> None:
        from drlab.common.io import no_room_error

        try:
            self.dir.put(name, data, temp)
        except OSError as exc:
            error = no_room_error(exc, self.path / name, kept=self.dir.lstat(name) is not None)
            if error is not None:
                raise error from None
            raise

    def _clear_temporary(self, temp: str) -> None:
        info = self.dir.lstat(temp)  # checked by refusal(): absent, or drlab's own leftover
        if info is not None:
            self.dir.unlink(temp)  # a killed process was writing it

    # --- subfolders that another library fills --------------------------------------------------------
    def _check_subfolder(self, name: str) -> None:
        info = self.dir.lstat(name)
        if info is not None and not (stat.S_ISDIR(info.st_mode) and name in self.folders):
            what = _what(info) if not stat.S_ISDIR(info.st_mode) else "a folder"
            raise UsageError(
                f"{self.path / name} is {what} that drlab did not make: move it aside, or choose another "
                f"{self.option}"
            )

    def folder(self, name: str) -> Path:
        """The subfolder ``name``, made by drlab (or made by it earlier), for another library to fill;
        record what it wrote there with :meth:`record_folder`."""
        self._check_subfolder(name)
        if self.dir.lstat(name) is None:
            self.folders.add(name)
            self.save()
            self.dir.mkdir(name)
        sub = self.dir.sub(name)
        try:  # files already there that the record does not list stay someone else's
            self._foreign[name] = {n for n in sub.names() if f"{name}/{n}" not in self.files}
        finally:
            sub.close()
        return self.path / name

    def record_folder(self, name: str) -> None:
        """Record the size and SHA-256 of the regular files drlab's library wrote in subfolder ``name``."""
        sub = self.dir.sub(name)
        try:
            for leaf in sub.names():
                info = sub.lstat(leaf)
                if leaf in self._foreign.get(name, set()) or info is None or not stat.S_ISREG(info.st_mode):
                    continue
                with contextlib.suppress(OSError):
                    self.files[f"{name}/{leaf}"] = [{"size": info.st_size, "sha256": sub.sha256(leaf, info)}]
        finally:
            sub.close()
        self.save()

    # --- deleting (``--force``) -------------------------------------------------------------------------
    def removable(self) -> tuple[list[str], list[str]]:
        """The recorded files still as drlab wrote them (to delete), and those changed since (to keep)."""
        delete, keep = [], []
        for name in sorted(self.files):
            if "/" in name:
                folder = name.split("/")[0]
                info = self.dir.lstat(folder)
                if info is None or not stat.S_ISDIR(info.st_mode):
                    continue
                sub = self.dir.sub(folder)
                try:
                    present, ours = sub.lstat(name.split("/")[1]) is not None, self.owns(name, sub)
                finally:
                    sub.close()
            else:
                present, ours = self.dir.lstat(name) is not None, self.owns(name)
            if ours:
                delete.append(name)
            elif present:
                keep.append(name)
        return delete, keep

    def remove(self, names: Iterable[str]) -> None:
        """Delete ``names`` (from :meth:`removable`), drlab's leftover temporary files and, if they are
        then empty, the subfolders drlab made."""
        for name in names:
            if "/" in name:
                folder, leaf = name.split("/")
                sub = self.dir.sub(folder)
                try:
                    sub.unlink(leaf)
                finally:
                    sub.close()
            else:
                self.dir.unlink(name)
        for temp in sorted(self.temporary):
            info = self.dir.lstat(temp)
            if info is not None and stat.S_ISREG(info.st_mode):
                self.dir.unlink(temp)
        for folder in sorted(self.folders):
            with contextlib.suppress(OSError):  # not empty: a file drlab did not write (or changed) stays
                self.dir.rmdir(folder)


def _fingerprints_ok(fps: Any) -> bool:
    return isinstance(fps, list) and all(
        isinstance(fp, dict)
        and isinstance(fp.get("size"), int)
        and not isinstance(fp.get("size"), bool)
        and isinstance(fp.get("sha256"), str)
        and len(fp["sha256"]) == 64
        for fp in fps
    )


def check_folder_path(raw: str | Path, option: str) -> Path:
    """``raw`` as a folder path, refused if empty or under (or at) a file; nothing is touched."""
    if not str(raw).strip():  # Path("") is Path("."): look at the text the user gave
        raise UsageError(f"{option} is empty: name the folder".strip())
    if "\0" in str(raw):
        raise UsageError(f"{option} {raw!r}: a path cannot hold a NUL character".strip())
    folder = Path(raw)
    try:
        for ancestor in [folder, *folder.parents]:
            if ancestor.exists() or ancestor.is_symlink():
                if not ancestor.is_dir():
                    what = (
                        "exists and is not a folder" if ancestor == folder else f"is under {ancestor}, a file"
                    )
                    raise UsageError(f"{option} {folder} {what}".strip())
                break
    except OSError as exc:  # a name too long, a folder that may not be looked into
        raise UsageError(f"{option} {folder}: cannot use this path ({exc.strerror or exc})".strip()) from None
    return folder


def make_folder(folder: Path, option: str) -> bool:
    """Create ``folder`` (and its parents); whether it was created. A failure is one line."""
    created = not (folder.exists() or folder.is_symlink())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {folder}: cannot create it ({exc.strerror or exc})".strip()) from None
    return created


__all__ = [
    "OUTPUTS_NAME",
    "RecordedFolder",
    "check_folder_path",
    "fingerprint",
    "make_folder",
    "plain_name",
]
