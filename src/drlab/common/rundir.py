"""Run folders: one folder per run, drlab's only when its marker says so, one writer at a time, and
``--force`` deletes only what the previous run wrote.

Every command that writes into a run folder (``drlab train``, ``drlab evaluate``, ``drlab rl dqn``,
``drlab rl reinforce|a2c|ppo``, ``drlab rl qlearning``, and the library calls behind them) claims it with :func:`claim_run_dir` and
writes through the :class:`RunDir` it returns (a :class:`~drlab.common.folders.RecordedFolder`).
:func:`inspect_run_dir` runs the same checks without touching anything, for a command to call before it
loads data or builds a model. A claim:

1. refuses, before touching anything, the folders no run may take: ``""``, a symbolic link, a path
   under a file, a folder that holds files drlab did not write, a drlab run without
   ``--resume``/``--force``, a run of another kind, a run marked by an older drlab whose marker does not
   record what it wrote, and a file the run would replace that is not what drlab wrote there; with
   ``--force`` also ``/``, the home folder and any folder that contains the current one;
2. locks the folder (:mod:`drlab.common.runlock`: ``.drlab-run.lock``, ``flock``, opened without following links): a second run into
   it is refused with the pid and host of the first; the kernel drops the lock when its process dies, so
   a stale lock never blocks;
3. with ``--force``, deletes the files the previous run wrote that are still what it wrote (size and
   SHA-256 as its marker records them), its leftover temporary files, and the subfolders it made if they
   are then empty; a file changed since, or one drlab never wrote, stays (and is named on stderr);
4. writes the marker ``.drlab-run.json``: the kind of run, then every file it writes, with its size and
   SHA-256, recorded before the file is renamed into place.

``--force`` does not move the old run aside: a run is reproducible from its config (same seed, same
numbers on CPU), and a moved-aside copy would double the disk a run takes (a DQN checkpoint holds its
replay buffer) on every ``--force``; the danger that matters, deleting what drlab did not write, is the
one the marker removes.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from drlab.common.errors import UsageError
from drlab.common.folders import (
    Dir,
    RecordedFolder,
    check_folder_path,
    make_folder,
)
from drlab.common.runlock import LOCK_NAME, drop_lock, lock_holder, take_lock

CONFIG_NAME = "config.json"
MARKER_NAME = ".drlab-run.json"
MARKER_FORMAT = "drlab-run/2"
#: how messages name each kind of run
RUN_LABELS = {
    "train": "training", "dqn": "DQN", "reinforce": "REINFORCE", "a2c": "A2C", "ppo": "PPO",
    "qlearning": "Q-learning", "check": "grading",
}  # fmt: skip
#: the kinds whose label is read with "an" ("an A2C run"); every other takes "a"
_AN = frozenset({"a2c"})
#: the commands that read each kind of run, for the messages that meet the wrong kind
RUN_READERS = {
    "train": "drlab evaluate RUN and drlab predict RUN IMAGE read it",
    "dqn": "drlab rl evaluate RUN reads it",
    "reinforce": "drlab rl evaluate RUN reads it",
    "a2c": "drlab rl evaluate RUN reads it",
    "ppo": "drlab rl evaluate RUN reads it",
    "qlearning": "its metrics.json and q_table.png hold its results",
    "check": "its report.html and scores.csv hold its results",
}
#: the kinds of run that ``--resume`` can continue
RESUMABLE = ("train", "dqn", "reinforce", "a2c", "ppo")
#: what a resumed run reads before it rewrites them: :func:`inspect_run_dir` leaves them to the caller,
#: which checks their content first (a damaged checkpoint is named as such); the claim checks them after
RESUME_INPUTS = ("config.json", "checkpoint.pt")
#: the files each kind of run writes, checked before it starts (a subfolder ends in "/")
RUN_FILES: dict[str, tuple[str, ...]] = {
    "train": (
        "config.json", "checkpoint.pt", "history.csv", "model.safetensors", "metrics.json", "curves.png",
        "confusion_matrix.png", "predictions.png", "confused_pairs.png",
    ),
    "dqn": (
        "config.json", "checkpoint.pt", "returns.csv", "learning_curve.png", "metrics.json",
        "model.safetensors", "final_model.safetensors",
    ),
    **dict.fromkeys(
        ("reinforce", "a2c", "ppo"),
        (
            "config.json", "checkpoint.pt", "returns.csv", "updates.csv", "learning_curve.png",
            "metrics.json", "model.safetensors", "final_model.safetensors",
        ),
    ),
    "qlearning": ("config.json", "returns.csv", "metrics.json", "q_table.png"),
    # drlab check tp1 --out (and drlab check report): the claim also names the filled worksheet's file
    "check": (
        "scores.csv", "report.html", "scores.png", "checks.png", "seconds.png", "feedback.zip", "feedback/",
    ),
}  # fmt: skip


class RunDir(RecordedFolder):
    """A claimed run folder: locked, marked, written through its marker (see the module's docstring).

    Use it in a ``with`` block, or call :meth:`close`: the marker is saved and the lock released. A claim
    that made the folder, and ends by an exception before anything was written, removes the folder.
    """

    def __init__(
        self,
        directory: Dir,
        header: dict[str, Any],
        option: str,
        *,
        kind: str,
        created: bool,
        lock: int | None,
    ) -> None:
        super().__init__(directory, MARKER_NAME, header, option)
        self.kind = kind
        """the kind of run (train, dqn, qlearning)"""
        self.created = created
        """whether this claim made the folder"""
        self._lock = lock
        self._expected: dict[str, tuple[bool, tuple[int, int, int] | None]] = {}

    def expect(self, names: Iterable[str]) -> None:
        """Remember the files (``name/``: subfolders) this run declared, as they are now: those a writer
        that takes a path (a library's) makes or rewrites during the claim are recorded at :meth:`close`."""
        for name in names:
            bare = name.removesuffix("/")
            info = self.dir.lstat(bare)
            self._expected[bare] = (name.endswith("/"), None if info is None else _stamp(info))

    def close(self) -> None:
        """Record what path-based writers made of the declared files, save the marker, release the lock."""
        try:
            self._adopt()
            if self._dirty:
                self.save()
        finally:
            self._unlock()
            self.dir.close()

    def _adopt(self) -> None:
        for name, (is_folder, before) in self._expected.items():
            info = self.dir.lstat(name)
            if info is None or (before is not None and _stamp(info) == before):
                continue  # absent, or as it was before the claim: not this run's doing
            if is_folder and stat.S_ISDIR(info.st_mode):
                if before is None:  # made during the claim: drlab's, with all it holds
                    self.folders.add(name)
                    self._foreign[name] = set()
                if name in self.folders:
                    self.record_folder(name)
            elif not is_folder and stat.S_ISREG(info.st_mode) and not self.owns(name):
                with contextlib.suppress(OSError):
                    self.files[name] = [{"size": info.st_size, "sha256": self.dir.sha256(name, info)}]
                    self._dirty = True

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and self.created and set(self.dir.names()) <= {MARKER_NAME, LOCK_NAME}:
            self.abandon()
        else:
            self.close()

    def abandon(self) -> None:
        """Undo a claim that wrote nothing: its marker, its lock and the folder it made go."""
        with contextlib.suppress(OSError):
            self.dir.unlink(MARKER_NAME)
        self._unlock()
        self.dir.close()
        with contextlib.suppress(OSError):
            self.path.rmdir()  # only if empty: nothing but drlab's marker was ever there

    def _unlock(self) -> None:
        fd, self._lock = self._lock, None
        if fd is not None:
            drop_lock(fd, self.dir)


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_ino, info.st_size, info.st_mtime_ns


@dataclass
class _Plan:
    """What a claim will do, decided before anything is touched."""

    run_dir: Path
    marker: RecordedFolder | None = None
    delete: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)


def _check_path(raw: str | Path, force: bool, option: str) -> Path:
    """Refuse the paths no run may take (and, with ``force``, those it may not replace)."""
    run_dir = check_folder_path(raw, option)
    if run_dir.is_symlink():
        raise UsageError(f"{option} {run_dir} is a symbolic link: give the real folder it points to".strip())
    if not force:
        return run_dir
    resolved = run_dir.resolve()
    cwd = Path.cwd().resolve()
    if resolved == Path(resolved.anchor):
        raise UsageError(f"--force refused: {option} {run_dir} is the root folder")
    if resolved == Path.home().resolve():
        raise UsageError(f"--force refused: {option} {run_dir} is your home folder")
    if resolved == cwd or resolved in cwd.parents:
        raise UsageError(f"--force refused: {option} {run_dir} contains the current folder ({cwd})")
    return run_dir


def a_run(kind: str) -> str:
    """How a message names a run of ``kind``, with its article: "a DQN run", "an A2C run"."""
    return f"{'an' if kind in _AN else 'a'} {RUN_LABELS[kind]} run"


def _kind_files(kind: str) -> tuple[str, ...]:
    if kind not in RUN_FILES:
        raise ValueError(f"unknown kind of run {kind!r} (known: {', '.join(RUN_FILES)})")
    return RUN_FILES[kind]


def _plan(
    raw: str | Path,
    directory: Dir | None,
    kind: str,
    *,
    resume: bool,
    force: bool,
    files: Iterable[str] | None,
    option: str,
    locked: bool = False,
) -> _Plan:
    """Every check of a claim, on the open folder ``directory`` (``None``: it does not exist yet)."""
    wanted = list(_kind_files(kind) if files is None else files)
    label = RUN_LABELS[kind]
    if resume and force:
        raise UsageError("--resume and --force contradict each other: choose one")
    run_dir = _check_path(raw, force, option)
    if directory is None:
        if resume:
            raise UsageError(f"{run_dir} holds no drlab {label} run (it does not exist)")
        return _Plan(run_dir)
    holder = None if locked else lock_holder(directory)
    if holder is not None:
        raise UsageError(
            f"{run_dir} is in use by another drlab run ({holder}); wait for it to end or choose another --out"
        )
    marker = RecordedFolder.open(directory, MARKER_NAME, option, MARKER_FORMAT)
    if not marker.recorded:
        foreign = [name for name in directory.names() if name not in (MARKER_NAME, LOCK_NAME)]
        if resume:
            raise UsageError(f"{run_dir} holds no drlab {label} run (no {MARKER_NAME})")
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise UsageError(
                f"{run_dir} is not a drlab run folder (it holds {shown}); drlab writes only into a new or "
                f"empty folder, or one it marked as its run: choose another {option}".strip()
            )
        return _Plan(run_dir, marker)
    had = marker.header.get("kind")
    had_label = RUN_LABELS.get(had, str(had)) if isinstance(had, str) else "unknown"
    if marker.legacy is not None:
        raise UsageError(
            f"{run_dir} holds a drlab {had_label} run marked by an older drlab, whose marker lists file names "
            "but not their content: drlab cannot prove which files there it wrote, so it replaces and deletes "
            f"none of them; move the folder aside (or delete it yourself) and choose it again, or another {option}".strip()
        )
    if had not in RUN_LABELS:
        raise UsageError(f"{run_dir / MARKER_NAME}: damaged drlab marker (no known kind of run)")
    if resume:
        if had != kind:
            readers = RUN_READERS[had].replace("RUN", str(run_dir))
            raise UsageError(f"{run_dir} holds a drlab {had_label} run, not {a_run(kind)} ({readers})")
        marker.check_writable(wanted)
        return _Plan(run_dir, marker)
    if not force:
        resume_hint = "pass --resume to continue it, " if had in RESUMABLE and had == kind else ""
        raise UsageError(
            f"{run_dir} already holds a run (drlab {had_label}); {resume_hint}pass --force to replace it, "
            f"or choose another {option}".strip()
        )
    delete, keep = marker.removable()
    for name in wanted:  # what this run writes must be drlab's to delete, or absent
        bare = name.removesuffix("/")
        if name.endswith("/"):
            foreign_inside = any(kept.startswith(f"{bare}/") for kept in keep)
            info = directory.lstat(bare)
            if info is not None and (
                foreign_inside or bare not in marker.folders or not stat.S_ISDIR(info.st_mode)
            ):
                raise UsageError(
                    f"--force: {run_dir / bare} holds files drlab did not write (or changed since): --force "
                    "deletes only what drlab wrote; move it aside and rerun"
                )
        elif bare not in delete:
            refusal = marker.refusal(bare, why="delete")
            if refusal is not None:
                raise UsageError(f"--force: {refusal}")
    return _Plan(run_dir, marker, delete, keep)


def _open_existing(run_dir: Path) -> Dir | None:
    return Dir(run_dir) if run_dir.is_dir() and not run_dir.is_symlink() else None


def inspect_run_dir(
    path: str | Path,
    kind: str,
    *,
    resume: bool = False,
    force: bool = False,
    files: Iterable[str] | None = None,
    option: str = "--out",
) -> Path:
    """Raise :class:`UsageError` if a ``kind`` run may not be written to ``path``; touches nothing.

    The checks of :func:`claim_run_dir`, for a command to run first, before it loads data or builds a
    model: a refused folder is refused at once. :func:`claim_run_dir` checks again under the lock, and
    then also the files a resume reads (:data:`RESUME_INPUTS`), whose content the command checks first.
    """
    wanted = list(_kind_files(kind) if files is None else files)
    if resume:
        wanted = [name for name in wanted if name not in RESUME_INPUTS]
    return _inspect(path, kind, resume=resume, force=force, files=wanted, option=option)


def _inspect(
    path: str | Path, kind: str, *, resume: bool, force: bool, files: list[str], option: str
) -> Path:
    run_dir = check_folder_path(path, option)
    directory = _open_existing(run_dir)
    try:
        return _plan(path, directory, kind, resume=resume, force=force, files=files, option=option).run_dir
    finally:
        if directory is not None:
            directory.close()


def claim_run_dir(
    path: str | Path,
    kind: str,
    *,
    resume: bool = False,
    force: bool = False,
    files: Iterable[str] | None = None,
    option: str = "--out",
) -> RunDir:
    """Check, lock and mark the run folder ``path`` for a ``kind`` run; write into it through the result.

    - a new or empty folder: created, locked, marked;
    - a drlab run of this kind and ``resume``: locked, returned as it is, to continue (or re-measure) it;
    - a drlab run and ``force``: locked; what its marker proves drlab wrote is deleted; marked anew;
    - anything else: :class:`UsageError` (see :func:`inspect_run_dir`), nothing touched.

    ``files`` names the files (``name/`` for a subfolder) the run will write, checked now (default:
    :data:`RUN_FILES` of ``kind``). Close the result, or use it in a ``with`` block.
    """
    files = list(_kind_files(kind) if files is None else files)
    run_dir = _inspect(path, kind, resume=resume, force=force, files=files, option=option)
    created = make_folder(run_dir, option)
    directory: Dir | None = None
    lock: int | None = None
    try:
        directory = Dir(run_dir)
        lock = take_lock(directory)
        plan = _plan(
            path, directory, kind, resume=resume, force=force, files=files, option=option, locked=True
        )
        assert plan.marker is not None
        if force:
            plan.marker.remove(plan.delete)
            if plan.keep:
                shown = ", ".join(plan.keep[:5]) + (" …" if len(plan.keep) > 5 else "")
                _note(f"--force kept what changed since drlab wrote it in {run_dir}: {shown}")
        header = (
            plan.marker.header
            if resume
            else {
                "format": MARKER_FORMAT,
                "kind": kind,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "drlab_version": _version(),
            }
        )
        run = RunDir(directory, header, option, kind=kind, created=created, lock=lock)
        run.expect(files)
        if resume:
            run.files, run.folders, run.temporary = (
                plan.marker.files,
                plan.marker.folders,
                plan.marker.temporary,
            )
        else:
            run.save()
        return run
    except BaseException:
        if lock is not None and directory is not None:
            drop_lock(lock, directory)
        if directory is not None:
            directory.close()
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if still empty: no empty run folder is left behind
        raise


def _note(message: str) -> None:
    """A note for the person at the terminal (stderr), from a library that otherwise prints nothing."""
    print(f"note: {message}", file=sys.stderr)


def _version() -> str:
    from drlab import __version__

    return __version__


def read_marker(run_dir: str | Path) -> dict[str, Any] | None:
    """What the marker of ``run_dir`` says (its kind, its dates, the files it lists), ``None`` if the
    folder holds no marker; a damaged marker is a one-line :class:`UsageError`."""
    directory = Dir(Path(run_dir))
    try:
        marker = RecordedFolder.open(directory, MARKER_NAME, "", MARKER_FORMAT)
    finally:
        directory.close()
    return {**marker.header, "files": marker.files} if marker.recorded else None


def run_kind(run_dir: str | Path) -> str | None:
    """The kind of run its marker says ``run_dir`` holds (``None``: no readable drlab marker)."""
    run = Path(run_dir)
    if not run.is_dir():
        return None
    try:
        directory = Dir(run)
    except (UsageError, OSError):
        return None
    try:
        kind = RecordedFolder.open(directory, MARKER_NAME, "", MARKER_FORMAT).header.get("kind")
    except UsageError:
        return None
    finally:
        directory.close()
    return kind if isinstance(kind, str) and kind in RUN_LABELS else None


def require_run_kind(run_dir: str | Path, *kinds: str) -> None:
    """Raise a one-line :class:`UsageError` if ``run_dir`` holds another kind of drlab run than ``kinds``,
    naming the command that reads it (a folder without a marker is left to the caller's own checks)."""
    found = run_kind(run_dir)
    if found is not None and found not in kinds:
        readers = RUN_READERS[found].replace("RUN", str(run_dir))
        wanted = a_run(kinds[0]) if len(kinds) == 1 else "a " + _or([RUN_LABELS[k] for k in kinds]) + " run"
        raise UsageError(f"{run_dir} holds a drlab {RUN_LABELS[found]} run, not {wanted} ({readers})")


def _or(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


__all__ = [
    "CONFIG_NAME",
    "MARKER_NAME",
    "RUN_FILES",
    "RunDir",
    "claim_run_dir",
    "inspect_run_dir",
    "read_marker",
    "require_run_kind",
    "run_kind",
]
