"""The dataset cache: find each file (downloaded, or placed there by hand), verify it, fetch what is missing.

Layout: ``DATA_DIR/<dataset>/<file>``, e.g. ``~/.cache/drlab/fashion-mnist/train-images-idx3-ubyte.gz``.
A file placed by hand may be the ``.gz`` as published (checked against its size, MD5 and SHA-256) or
already unpacked (``train-images-idx3-ubyte``: checked for its format, shape and label range, and its
mean pixel, which tells Fashion-MNIST from MNIST). The cache only ever receives files through an
atomic rename (see :mod:`drlab.data.download`), so whatever holds a final name is complete.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drlab.common.errors import DrlabError, UsageError
from drlab.data.download import download_file, file_digest, mirror_order, mismatch_reason
from drlab.data.manifest import DatasetFile, Manifest
from drlab.data.paths import offline_from_env, resolve_data_dir

MEAN_TOLERANCE = 0.03  # mean pixel/255 of the right file is within this of the manifest's mean


@dataclass(frozen=True)
class FileStatus:
    """What the cache holds for one file of a dataset."""

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


def dataset_dir(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory that holds ``manifest``'s files."""
    return resolve_data_dir(data_dir) / manifest.name


def locate(directory: Path, file: DatasetFile) -> Path | None:
    """The published ``.gz`` if present, else the unpacked file if present, else ``None``."""
    for name in (file.name, file.unpacked_name):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def check_file(manifest: Manifest, file: DatasetFile, path: Path) -> str:
    """Check one cached file; return how it was checked, or raise :class:`UsageError` saying what it is."""
    if path.name == file.name and file.name != file.unpacked_name:
        reason = mismatch_reason(file_digest(path), file, manifest)
        if reason is not None:
            raise UsageError(
                f"{path}: not {manifest.title}'s {file.name}: {reason} (delete it, or pass --no-verify)"
            )
        return "size, MD5 and SHA-256 match" if file.sha256 else "size and MD5 match"
    return _check_unpacked(manifest, file, path)


def _check_unpacked(manifest: Manifest, file: DatasetFile, path: Path) -> str:
    from drlab.data.idx import read_idx

    array = read_idx(path, num_classes=len(manifest.classes) if file.is_labels else None)
    if array.shape != file.shape:
        raise UsageError(
            f"{path}: shape {array.shape}, but {manifest.title}'s {file.unpacked_name} is {file.shape}"
        )
    if file.is_labels or manifest.mean is None:
        return "unpacked: format, shape and labels checked (no checksum for unpacked files)"
    mean = float(array.mean()) / 255.0
    if abs(mean - manifest.mean) > MEAN_TOLERANCE:
        guess = next(
            (
                f": this is {name}, not {manifest.title}"
                for name, m in manifest.lookalike_means
                if abs(mean - m) < 0.01
            ),
            f": probably not {manifest.title}",
        )
        raise UsageError(
            f"{path}: mean pixel {mean:.3f}, {manifest.title}'s is {manifest.mean:.3f}{guess} (delete it, or pass --no-verify)"
        )
    return "unpacked: format, shape and mean pixel checked (no checksum for unpacked files)"


def file_statuses(
    manifest: Manifest, data_dir: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> list[FileStatus]:
    """Where each file of ``manifest`` is, and (with ``verify``) whether it is the right file."""
    directory = dataset_dir(manifest, data_dir)
    statuses = []
    for role, file in manifest.files.items():
        path = locate(directory, file)
        if path is None:
            statuses.append(FileStatus(role, file, None, "missing", f"not in {directory}"))
        elif not verify:
            statuses.append(FileStatus(role, file, path, "unchecked", "not checked (--no-verify)"))
        else:
            try:
                statuses.append(FileStatus(role, file, path, "verified", check_file(manifest, file, path)))
            except UsageError as exc:
                statuses.append(FileStatus(role, file, path, "wrong", str(exc)))
    return statuses


def missing_message(manifest: Manifest, directory: Path, missing: Sequence[DatasetFile], why: str) -> str:
    """One line: which files are missing, where they go, and where to get them."""
    names = ", ".join(file.name for file in missing)
    return (
        f"{manifest.title}: {len(missing)} file(s) missing from {directory} ({why}): {names}. "
        f"Download them from {manifest.mirrors[0] if manifest.mirrors else manifest.homepage} "
        f"(or {manifest.homepage}) and put them there, or run 'drlab data download {manifest.name}' "
        "with network access"
    )


def ensure_files(
    manifest: Manifest,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] = (),
    offline: bool | None = None,
    verify: bool = True,
    timeout: float = 30.0,
    progress: bool | None = None,
) -> dict[str, Path]:
    """Every file of ``manifest`` on disk and (with ``verify``) checked: ``{role: path}``.

    Missing files are downloaded from ``mirrors`` then the manifest's mirrors, unless ``download`` is
    false or offline mode is on: then one :class:`DrlabError` lists them. A file present but wrong is a
    :class:`UsageError` (files are never silently replaced: the user put it there, or something is off).
    """
    directory = dataset_dir(manifest, data_dir)
    ordered_mirrors = mirror_order(mirrors, manifest.mirrors)  # bad --mirror URLs fail before any work
    paths: dict[str, Path] = {}
    missing: dict[str, DatasetFile] = {}
    for role, file in manifest.files.items():
        path = locate(directory, file)
        if path is None:
            missing[role] = file
            continue
        if verify:
            check_file(manifest, file, path)
        paths[role] = path
    if missing:
        if offline_from_env(offline):
            raise DrlabError(missing_message(manifest, directory, list(missing.values()), "offline mode"))
        if not download:
            raise DrlabError(missing_message(manifest, directory, list(missing.values()), "download=False"))
        for role, file in missing.items():
            paths[role] = download_file(
                file, ordered_mirrors, directory, manifest, timeout=timeout, progress=progress
            )
    return paths
