"""Where each file of a dataset comes from: the cache, the system's copy, or a verified download.

Each file is looked for, in order:

1. **the cache**, ``DATA_DIR/<dataset>/`` (e.g. ``~/.cache/drlab/fashion-mnist/``), or ``DATA_DIR``
   itself when it holds the files directly and has no ``<dataset>/`` folder (``--data-dir`` pointed
   at a folder of the four files);
2. **the system's copy**, ``/usr/local/share/datasets/<dataset>/`` then ``/usr/share/datasets/<dataset>/``
   (``$XDG_DATA_DIRS``; Debian and Ubuntu's ``dataset-fashion-mnist`` package installs there);
3. **the mirrors**, downloaded into the cache (see :mod:`drlab.data.download`).

Every file found is verified by content (:mod:`drlab.data.verify`): the publisher's ``.gz``, a gzip with
another header (Debian's), a re-gzipped copy, or an unpacked IDX file all qualify.

The system's copy is **read in place**, never copied or linked into the cache: verified on each load
like any other file, it costs no disk, stays owned by the package manager (an upgrade or a removal is
seen at the next load, not hidden behind a stale copy), and works when the cache is read-only or on
another file system. A hard link would fail there, and for files owned by root wherever the kernel
protects hard links (``fs.protected_hardlinks``, on by default). drlab never writes into a system folder.

A wrong file in the cache is an error (it is never silently replaced: someone put it there); a wrong
file in a system folder is passed over, and the error says so only if no other source has the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drlab.common.errors import DrlabError, UsageError
from drlab.data.config import DOWNLOAD_TIMEOUT
from drlab.data.download import download_file, mirror_order
from drlab.data.manifest import DatasetFile, Manifest
from drlab.data.paths import offline_from_env, resolve_data_dir, system_dataset_dirs
from drlab.data.verify import Mismatch, identify

Source = Literal["cache", "system", ""]


@dataclass(frozen=True)
class FileStatus:
    """What drlab finds for one file of a dataset."""

    role: str
    """``train_images``, ``train_labels``, ``test_images`` or ``test_labels``"""
    file: DatasetFile
    """the file as published"""
    path: Path | None
    """where it is on disk (``None``: missing)"""
    state: Literal["missing", "verified", "unchecked", "wrong"]
    """``verified``: checked and right; ``unchecked``: present, not checked; ``wrong``: failed the check"""
    detail: str
    """how it was checked, or what is wrong with it"""
    source: Source = ""
    """``cache`` (the data directory) or ``system`` (a system package's copy, read in place)"""


def dataset_dir(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory of ``manifest``'s files: ``DATA_DIR/<name>``, or ``DATA_DIR`` itself when it
    holds the files directly and has no ``<name>`` sub-directory."""
    root = resolve_data_dir(data_dir)
    nested = root / manifest.name
    if not nested.is_dir() and any(locate(root, file) for file in manifest.files.values()):
        return root
    return nested


def system_dirs(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The system folders searched after the cache (the cache itself left out, if it is one of them)."""
    cache = dataset_dir(manifest, data_dir)
    return [folder for folder in system_dataset_dirs(manifest.name) if folder != cache]


def locate(directory: Path, file: DatasetFile) -> Path | None:
    """The published ``.gz`` if present, else the unpacked file if present, else ``None``."""
    for name in (file.name, file.unpacked_name):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def check_file(manifest: Manifest, file: DatasetFile, path: Path) -> str:
    """Verify one file by content; return how it matched, or raise :class:`UsageError` naming it."""
    try:
        return identify(manifest, file, path)
    except Mismatch as exc:
        raise UsageError(f"{path}: not {manifest.title}'s {file.name}: {exc}") from None


def find_file(
    manifest: Manifest, role: str, file: DatasetFile, cache: Path, systems: Sequence[Path], *, verify: bool
) -> FileStatus:
    """Where ``file`` is: the cache first, then each system folder; verified unless ``verify`` is false."""
    wrong: FileStatus | None = None
    places: list[tuple[Path, Source]] = [(cache, "cache"), *((folder, "system") for folder in systems)]
    for folder, source in places:
        path = locate(folder, file)
        if path is None:
            continue
        if not verify:
            return FileStatus(role, file, path, "unchecked", "not checked (--no-verify)", source)
        try:
            return FileStatus(role, file, path, "verified", check_file(manifest, file, path), source)
        except UsageError as exc:
            if source == "cache":  # someone put it there: say so, never pass over it
                return FileStatus(role, file, path, "wrong", str(exc), "cache")
            wrong = wrong or FileStatus(role, file, path, "wrong", f"{exc} (a damaged system copy)", "system")
    return wrong or FileStatus(role, file, None, "missing", f"not in {cache}")


def file_statuses(
    manifest: Manifest, data_dir: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> list[FileStatus]:
    """Where each file of ``manifest`` is, and (with ``verify``) whether it is the right file."""
    cache, systems = dataset_dir(manifest, data_dir), system_dirs(manifest, data_dir)
    return [
        find_file(manifest, role, file, cache, systems, verify=verify)
        for role, file in manifest.files.items()
    ]


def where_to_look(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The places searched, in order, in words (for ``drlab data info`` and the error messages)."""
    systems = ", ".join(map(str, system_dirs(manifest, data_dir))) or "none"
    return f"{dataset_dir(manifest, data_dir)}, then the system's copy ({systems}), then the mirrors"


def missing_message(manifest: Manifest, directory: Path, missing: Sequence[FileStatus], why: str) -> str:
    """One line: which files are missing, where drlab looked, and how to get them."""
    names = ", ".join(status.file.name for status in missing)
    damaged = [status for status in missing if status.state == "wrong"]
    found_wrong = f" ({damaged[0].detail})" if damaged else ""
    package = (
        f"install the system package (sudo apt install {manifest.system_package}), "
        if manifest.system_package
        else ""
    )
    return (
        f"{manifest.title}: {len(missing)} file(s) missing ({why}): {names}{found_wrong}. "
        f"Looked in {directory} and {', '.join(map(str, system_dataset_dirs(manifest.name)))}. "
        f"To get them: {package}run 'drlab data download {manifest.name}' with network access, "
        f"or download them from {manifest.mirrors[0] if manifest.mirrors else manifest.homepage} "
        f"and put them in {directory} (TP1 without them: drlab train --dataset digits)"
    )


def ensure_files(
    manifest: Manifest,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] = (),
    offline: bool | None = None,
    verify: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT,
    progress: bool | None = None,
) -> dict[str, FileStatus]:
    """Every file of ``manifest`` found (cache, then system) or downloaded, and verified: ``{role: status}``.

    Missing files are downloaded into the cache from ``mirrors`` then the manifest's mirrors, unless
    ``download`` is false or offline mode is on: then one :class:`DrlabError` lists them. A wrong file in
    the cache is a :class:`UsageError` (files are never silently replaced: the user put it there).
    """
    cache = dataset_dir(manifest, data_dir)
    ordered_mirrors = mirror_order(mirrors, manifest.mirrors)  # bad --mirror URLs fail before any work
    statuses = file_statuses(manifest, data_dir, verify=verify)
    for status in statuses:
        if status.state == "wrong" and status.source == "cache":
            raise UsageError(f"{status.detail} (delete it, or pass --no-verify)")
    missing = [status for status in statuses if status.path is None or status.state == "wrong"]
    if missing:
        if offline_from_env(offline):
            raise DrlabError(missing_message(manifest, cache, missing, "offline mode"))
        if not download:
            raise DrlabError(missing_message(manifest, cache, missing, "download=False"))
    found = {status.role: status for status in statuses if status not in missing}
    for status in missing:
        path = download_file(
            status.file, ordered_mirrors, cache, manifest, timeout=timeout, progress=progress
        )
        found[status.role] = FileStatus(
            status.role, status.file, path, "verified", "downloaded into the cache, verified", "cache"
        )
    return {role: found[role] for role in manifest.files}
