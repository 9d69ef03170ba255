"""Run folders: one folder per run, drlab's only when its marker says so, and one writer at a time.

Every command that writes a run folder (``drlab train``, ``drlab rl dqn``, ``drlab rl qlearning``) goes
through :func:`claim_run_dir`, which:

1. refuses, before touching anything, the folders no run may take: ``""``, a symlink, a path under a
   file, a folder that holds files drlab did not write, a drlab run without ``--resume``/``--force``;
   and with ``--force`` also ``/``, the home folder and any folder that contains the current one;
2. locks the folder (``.drlab-run.lock``, ``flock``): a second run into it is refused with the pid and
   host of the first; the kernel drops the lock when its process dies, so a stale lock never blocks;
3. writes the marker ``.drlab-run.json``: the kind of run and the names of the files it writes.

``--force`` *deletes* the files the previous run's marker lists (and drlab's temporary files), and
nothing else: notes or data a user put beside them stay. It does not move the old run aside: a run is
reproducible from its config (same seed, same numbers on CPU), a moved-aside copy would double the
disk a run takes (a DQN checkpoint holds its replay buffer) on every ``--force`` and pile up unseen; the
danger that matters, deleting what drlab did not write, is the one the marker removes.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from drlab.common.errors import UsageError

CONFIG_NAME = "config.json"
MARKER_NAME = ".drlab-run.json"
#: in a folder of pictures (``drlab linreg --plot``, ``drlab graph --out``): the files drlab wrote there
OUTPUTS_NAME = ".drlab-files.json"
LOCK_NAME = ".drlab-run.lock"
#: how messages name each kind of run
RUN_LABELS = {"train": "training", "dqn": "DQN", "qlearning": "Q-learning", "check": "grading"}
#: what the run folder of each kind of run holds (the marker records it; --force removes only these)
RUN_FILES: dict[str, tuple[str, ...]] = {
    "train": (
        "config.json", "checkpoint.pt", "history.csv", "model.safetensors", "metrics.json",
        "metrics_val.json", "metrics_train.json", "curves.png", "confusion_matrix.png", "predictions.png",
        "confused_pairs.png", "tensorboard/",
    ),
    "dqn": (
        "config.json", "checkpoint.pt", "returns.csv", "learning_curve.png", "metrics.json",
        "model.safetensors", "final_model.safetensors",
    ),
    "qlearning": ("config.json", "returns.csv", "metrics.json", "q_table.png"),
    # drlab check tp1 --out (and drlab check report): the marker also lists the filled worksheet's name
    "check": (
        "scores.csv", "report.html", "scores.png", "checks.png", "seconds.png", "feedback.zip", "feedback/",
    ),
}  # fmt: skip

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no flock on Windows: runs there are not locked
    fcntl = None

#: the locks this process holds: resolved run folder → open file descriptor of its lock file
_held: dict[Path, int] = {}


def _kind_files(kind: str) -> tuple[str, ...]:
    if kind not in RUN_FILES:
        raise ValueError(f"unknown kind of run {kind!r} (known: {', '.join(RUN_FILES)})")
    return RUN_FILES[kind]


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    """The marker of ``run_dir`` (kind and files), ``None`` if there is none; a damaged one is refused."""
    from drlab.common.io import read_json

    marker = run_dir / MARKER_NAME
    if not marker.exists() and not marker.is_symlink():
        return None
    record = read_json(marker)
    files = record.get("files") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("kind"), str)
        or not isinstance(files, list)
        or not all(isinstance(name, str) and _plain_name(name) for name in files)
    ):
        raise UsageError(f"{marker}: damaged drlab marker; remove {run_dir} yourself if it is yours")
    return record


def _plain_name(name: str) -> bool:
    # a marker may only name files directly inside its folder: a hand-edited "../thesis" is refused
    bare = name.removesuffix("/")
    return bool(bare) and "/" not in bare and "\\" not in bare and bare not in (".", "..")


def _check_path(raw: str | Path, force: bool) -> Path:
    """Refuse the paths no run may take (and, with ``force``, those it may not replace)."""
    if not str(raw).strip():  # Path("") is Path("."): look at the text the user gave
        raise UsageError("--out is empty: name the run folder")
    run_dir = Path(raw)
    if run_dir.is_symlink():
        raise UsageError(f"--out {run_dir} is a symbolic link: give the real folder it points to")
    for ancestor in [run_dir, *run_dir.parents]:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                what = "exists and is not a folder" if ancestor == run_dir else f"is under {ancestor}, a file"
                raise UsageError(f"--out {run_dir} {what}")
            break
    if not force:
        return run_dir
    resolved = run_dir.resolve()
    cwd = Path.cwd().resolve()
    if resolved == Path(resolved.anchor):
        raise UsageError(f"--force refused: --out {run_dir} is the root folder")
    if resolved == Path.home().resolve():
        raise UsageError(f"--force refused: --out {run_dir} is your home folder")
    if resolved == cwd or resolved in cwd.parents:
        raise UsageError(f"--force refused: --out {run_dir} contains the current folder ({cwd})")
    return run_dir


def _foreign_files(run_dir: Path) -> list[str]:
    return sorted(entry.name for entry in run_dir.iterdir() if entry.name not in (MARKER_NAME, LOCK_NAME))


def _holder(run_dir: Path) -> str | None:
    """Who holds the lock of ``run_dir`` ("pid 123 on host since …"), or ``None`` if nobody does."""
    lock = run_dir / LOCK_NAME
    if fcntl is None or not lock.is_file():
        return None
    if run_dir.resolve() in _held:
        return None  # this process: re-entrant
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a shared lock fails while a run holds it
        except BlockingIOError:
            text = os.read(fd, 512).decode("utf-8", "replace").strip()
            return text or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def inspect_run_dir(path: str | Path, kind: str, *, resume: bool = False, force: bool = False) -> Path:
    """Raise :class:`UsageError` if a ``kind`` run may not be written to ``path``; touches nothing.

    The checks of :func:`claim_run_dir`, for a command to run first, before it loads data or builds a
    model: a refused folder is refused at once. :func:`claim_run_dir` checks again under the lock.
    """
    _kind_files(kind)
    if resume and force:
        raise UsageError("--resume and --force contradict each other: choose one")
    run_dir = _check_path(path, force)
    if not run_dir.is_dir():
        if resume:
            raise UsageError(f"{run_dir} holds no drlab {RUN_LABELS[kind]} run (it does not exist)")
        return run_dir
    holder = _holder(run_dir)
    if holder is not None:
        raise UsageError(
            f"{run_dir} is in use by another drlab run ({holder}); wait for it to end or choose another --out"
        )
    marker = read_marker(run_dir)
    if marker is None:
        foreign = _foreign_files(run_dir)
        if resume:
            raise UsageError(f"{run_dir} holds no drlab {RUN_LABELS[kind]} run (no {MARKER_NAME})")
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise UsageError(
                f"{run_dir} is not a drlab run folder (it holds {shown}); drlab writes only into a new or "
                "empty folder, or one it marked as its run: choose another --out"
            )
        return run_dir
    if resume:
        if marker["kind"] != kind:
            raise UsageError(
                f"{run_dir} holds a drlab {RUN_LABELS.get(marker['kind'], marker['kind'])} run, "
                f"not a {RUN_LABELS[kind]} run"
            )
        return run_dir
    if not force:
        raise UsageError(
            f"{run_dir} already holds a run (drlab {RUN_LABELS.get(marker['kind'], marker['kind'])}); pass --resume to continue it, --force "
            "to replace it, or choose another --out"
        )
    return run_dir


def _lock(run_dir: Path) -> None:
    """Take the lock of ``run_dir`` for this process, or raise naming who holds it."""
    key = run_dir.resolve()
    if fcntl is None or key in _held:
        return
    lock = run_dir / LOCK_NAME
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 512).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise UsageError(
                f"{run_dir} is in use by another drlab run ({text}); wait for it to end or choose another --out"
            ) from None
        # its previous holder may have removed the file between our open() and flock(): then we hold
        # the lock of a file nobody else can see, so try again on the file that is there now
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
    _held[key] = fd


def release_run_dir(path: str | Path) -> None:
    """Drop this process's lock on ``path`` (and its lock file); nothing if it holds none."""
    run_dir = Path(path)
    fd = _held.pop(run_dir.resolve(), None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(run_dir / LOCK_NAME)  # still locked while we unlink: nobody else holds this file
    os.close(fd)


def _remove_previous_run(run_dir: Path, marker: dict[str, Any]) -> None:
    """``--force``: delete what the previous run's marker lists, and drlab's temporary files; keep the rest."""
    names = [str(name) for name in marker["files"]]
    for name in names:
        entry = run_dir / name.removesuffix("/")
        if name.endswith("/") and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.is_file() or entry.is_symlink():
            entry.unlink()
    bare = {name.removesuffix("/") for name in names}
    for entry in run_dir.iterdir():  # atomic_write's leftovers of a killed run: .NAME.xxxxxx.tmp
        leftover = entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file()
        if leftover and any(entry.name.startswith(f".{name}.") for name in bare):
            entry.unlink()


def prepare_run_dir(
    path: str | Path,
    kind: str,
    *,
    resume: bool = False,
    force: bool = False,
    files: Iterable[str] | None = None,
) -> Path:
    """Check, lock and mark the run folder ``path`` for a ``kind`` run; return it.

    - new or empty folder: created, locked, marked;
    - a drlab run and ``resume``: locked, returned as is for the caller to resume;
    - a drlab run and ``force``: locked; the files its marker lists are deleted; marked anew;
    - anything else: :class:`UsageError` (see :func:`inspect_run_dir`), nothing touched.

    The lock stays until :func:`release_run_dir` (or the end of the process); prefer
    :func:`claim_run_dir`, which releases it. ``files`` overrides the names recorded in the marker
    (default: :data:`RUN_FILES` of ``kind``).
    """
    run_dir = inspect_run_dir(path, kind, resume=resume, force=force)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {run_dir}: cannot create it ({exc.strerror or exc})") from None
    try:
        _lock(run_dir)
        inspect_run_dir(run_dir, kind, resume=resume, force=force)  # again, now that nobody else can write
        marker = read_marker(run_dir)
        if marker is not None and force:
            _remove_previous_run(run_dir, marker)
        if not resume:
            _write_marker(run_dir, kind, files)
    except BaseException:
        release_run_dir(run_dir)
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if still empty: no empty run folder is left behind
        raise
    return run_dir


def _write_marker(run_dir: Path, kind: str, files: Iterable[str] | None) -> None:
    from drlab import __version__
    from drlab.common.io import write_json_atomic

    names = list(files) if files is not None else list(_kind_files(kind))
    write_json_atomic(
        run_dir / MARKER_NAME,
        {
            "kind": kind,
            "files": names,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "drlab_version": __version__,
        },
    )


@contextlib.contextmanager
def claim_run_dir(
    path: str | Path,
    kind: str,
    *,
    resume: bool = False,
    force: bool = False,
    files: Iterable[str] | None = None,
) -> Iterator[Path]:
    """:func:`prepare_run_dir` for the length of a ``with`` block: the lock is released at its end."""
    run_dir = prepare_run_dir(path, kind, resume=resume, force=force, files=files)
    try:
        yield run_dir
    finally:
        release_run_dir(run_dir)


def claim_output_files(folder: str | Path, names: Iterable[str], *, option: str = "--out") -> Path:
    """Make ``folder`` ready for the fixed-name files ``names``, or refuse before touching anything.

    For the commands that drop a few pictures into a folder of the user's choosing (``drlab linreg
    --plot DIR``, ``drlab graph --out DIR``): the folder may hold anything, but a file drlab is about to
    write may only replace a file drlab wrote there before, as recorded in ``folder/.drlab-files.json``.
    Anything else with that name (a thesis figure called ``loss.svg``) is refused in one line. The record
    is updated (atomically) before the files are written, so it never misses a file drlab wrote.
    """
    from drlab.common.io import read_json, write_json_atomic

    wanted = list(dict.fromkeys(names))
    if not str(folder).strip():
        raise UsageError(f"{option} is empty: name the folder")
    out = Path(folder)
    for ancestor in [out, *out.parents]:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                what = "exists and is not a folder" if ancestor == out else f"is under {ancestor}, a file"
                raise UsageError(f"{option} {out} {what}")
            break
    record_path = out / OUTPUTS_NAME
    ours: list[str] = []
    if record_path.is_file():
        record = read_json(record_path)
        files = record.get("files") if isinstance(record, dict) else None
        if not isinstance(files, list) or not all(isinstance(n, str) and _plain_name(n) for n in files):
            raise UsageError(
                f"{record_path}: damaged drlab record; remove it if the files beside it are yours"
            )
        ours = files
    for name in wanted:
        target = out / name
        if not (target.exists() or target.is_symlink()):
            continue
        if name not in ours or target.is_symlink() or not target.is_file():
            raise UsageError(
                f"{target} exists and drlab did not write it: move it, or choose another {option} folder"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {out}: cannot create it ({exc.strerror or exc})") from None
    write_json_atomic(record_path, {"files": sorted(set(ours) | set(wanted))})
    return out
