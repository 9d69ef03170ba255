"""One sandbox per notebook: bubblewrap (``bwrap``) around the harvester, data back through a pipe.

What the notebook's code sees, with bwrap (Linux; ``apt install bubblewrap``, which ``setup.sh`` does):

- an empty working folder (a small tmpfs) holding a scratch copy of its one notebook — not the
  submissions folder, not the classmates, not the instructor's home;
- the system (``/usr``), Python and drlab's environment, read-only; drlab without ``drlab/check/``
  (the grader's reference cannot be imported); of the dataset, only the grader's copy without its
  private images (``$DRLAB_TP1_DATA``): the dataset's own files (the data folder, the system's
  ``/usr/share/datasets/…``, the digits bundled with drlab and scikit-learn's copy) are hidden;
- no network (``--unshare-net``), a fresh PID namespace (``--unshare-pid --die-with-parent``: it
  cannot see or signal the grader, and nothing it starts outlives the sandbox), no capabilities,
  a minimal environment (none of the instructor's variables);
- one budget for all its processes: a control group (:mod:`.cgroups`: its CPUs, memory, 512 tasks)
  where the kernel lets the grader make one, and in every case per-process limits (``setrlimit``, set
  by the harvester before any student code, soft and hard: address space, file size, processes for a
  non-root grader); every file system it can write has a size (the work folder, ``/tmp``, ``/dev`` and
  ``/dev/shm``; ``/`` is read-only); captured output (the first bytes kept, the rest counted);
- time, counted as the time it computes: its group's CPU time divided by its CPUs (without a group,
  the harvester's own CPU timer). The cells must be reported within start-up + ``--timeout``, the
  grader's steps within their share after that; past either the whole sandbox is killed. One that
  waits instead of computing meets the wall clock at :data:`~drlab.check.channel.WALL_FACTOR` times those (a notebook that
  ignores every signal and sleeps costs 3 × (``--timeout`` + 60 s), not more).

Without bwrap (macOS, Windows, a Linux without it), the harvester runs as a plain child process in a
scratch folder with the same environment and limits, and every report says "not sandboxed".

The pipes are read, and the time counted, by :mod:`.channel`. This module imports no torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import site
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from drlab.check import cgroups
from drlab.check.channel import (
    FRAME_TAG,
    IDLE_SHARE,
    WALL_FACTOR,
    Frame,
    FrameParser,
    SandboxRun,
    collect,
)  # fmt: skip
from drlab.check.scratch import private_folder, write_private

#: where things appear inside the sandbox
SANDBOX_HOME = "/home/student"
SANDBOX_WORK = f"{SANDBOX_HOME}/tp1"
SANDBOX_REQUEST = "/grader"
SANDBOX_DRLAB = "/opt/drlab"
#: the file of a request folder that holds the notebook's data (:func:`drlab.data.tp1.save_tp1_snapshot`)
NOTEBOOK_DATA = "tp1_data.safetensors"
#: /etc files a Python process may want (ld.so, time zone, users' names); nothing else of /etc is shown
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group")
#: the devices a notebook may open, bound into a small /dev of our own (bwrap's --dev has no size)
DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one notebook may use."""

    notebook_seconds: float
    """the notebook's cells, all together"""
    checks_seconds: float
    """the grader's steps, after the cells"""
    startup_seconds: float = 60.0
    """Python, torch and IPython starting in the sandbox"""
    memory_bytes: int = 4 << 30
    """address space of each process (RLIMIT_AS)"""
    disk_bytes: int = 256 << 20
    """size of the working folder and of /tmp (each a tmpfs), and of any one file (RLIMIT_FSIZE)"""
    processes: int = 4096
    """processes and threads of the grader's user (RLIMIT_NPROC; not enforced when the grader runs as root)"""
    tasks: int = 512
    """processes and threads of the whole sandbox (its control group's pids.max)"""
    output_bytes: int = 64 << 10
    """printed bytes kept (the rest is counted, not kept)"""
    threads: int = 1
    """torch / OpenMP threads of the notebook, and the CPUs its sandbox is given (its control group's quota)"""


# --------------------------------------------------------------------------------------------------
# Is bubblewrap here, and does it work?

_bwrap_lock = threading.Lock()
_bwrap_status: dict[str, str | None] = {}


def bwrap_problem() -> str | None:
    """``None`` when bwrap can make a sandbox here; else why not, in a few words (checked once)."""
    with _bwrap_lock:
        if "status" not in _bwrap_status:
            _bwrap_status["status"] = _probe_bwrap()
        return _bwrap_status["status"]


def _probe_bwrap() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux; this is {sys.platform}"
    path = shutil.which("bwrap")
    if path is None:
        return "bwrap is not installed: apt install bubblewrap (setup.sh does it)"
    try:
        done = subprocess.run(
            [path, *_namespace_options(), "--ro-bind", "/", "/", "true"],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        return "bwrap cannot make a sandbox here" + (f" ({reason[-1][:150]})" if reason else "")
    return None


def _namespace_options() -> list[str]:
    return [
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup namespaces: no network, its own PID 1
        "--unshare-user",
        "--disable-userns",  # and no further namespaces inside
        "--cap-drop", "ALL",
        "--die-with-parent",  # if the grader dies, the sandbox dies
        "--new-session",  # no terminal to inject keystrokes into
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The command line


def _drlab_package() -> Path:
    import drlab

    return Path(drlab.__file__).resolve().parent


def _python_roots() -> list[Path]:
    """Folders Python and the installed packages live in (read-only in the sandbox)."""
    roots = {
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(sys.exec_prefix),
        Path(sys.executable).resolve().parent,
    }
    for path in [*site.getsitepackages(), site.getusersitepackages()]:
        roots.add(Path(path))
    found = []
    for root in roots:
        with contextlib.suppress(OSError):
            if root.is_dir() and root.resolve() != Path("/"):
                found.append(root.resolve() if not root.is_symlink() else root)
    return sorted(found)


def _system_mounts() -> list[str]:
    args: list[str] = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def bwrap_command(
    request_dir: Path, channel_fd: int, env: dict[str, str], limits: Limits, empty: Path
) -> list[str]:
    """The full ``bwrap … python harvest.py`` command line of one notebook."""
    package = _drlab_package()
    roots = [root for root in _python_roots() if not _under(root, [Path("/usr")])]
    args = [shutil.which("bwrap") or "bwrap", *_namespace_options(), *_system_mounts()]
    # the scratch file systems first: a venv or a checkout under /tmp is then bound on top of the
    # empty /tmp, not hidden by it
    args += ["--proc", "/proc", *_dev_mounts(limits)]
    args += ["--size", str(limits.disk_bytes), "--tmpfs", "/tmp"]
    for root in roots:
        args += ["--ro-bind", str(root), str(root)]
    # drlab for the notebook, without the grader: drlab/check/ is an empty read-only folder there
    args += [
        "--ro-bind",
        str(package),
        f"{SANDBOX_DRLAB}/drlab",
        "--ro-bind",
        str(empty),
        f"{SANDBOX_DRLAB}/drlab/check",
    ]
    drlab_copies = [Path(SANDBOX_DRLAB) / "drlab"]
    if _under(package, [*roots, Path("/usr")]):
        args += ["--ro-bind", str(empty), str(package / "check")]
        drlab_copies.append(package)
    args += ["--size", str(limits.disk_bytes), "--tmpfs", SANDBOX_HOME, "--dir", SANDBOX_WORK]
    args += _dataset_masks(empty, drlab_copies)
    fonts = _font_cache()
    if fonts is not None:  # matplotlib's font list, so that it is not rebuilt for every notebook
        args += [
            "--dir",
            f"{SANDBOX_HOME}/.cache/matplotlib",
            "--ro-bind",
            str(fonts),
            f"{SANDBOX_HOME}/.cache/matplotlib/{fonts.name}",
        ]
    # the sandbox's own / (a tmpfs bwrap makes, with no size) read-only: files go to the sized folders
    args += ["--ro-bind", str(request_dir), SANDBOX_REQUEST, "--remount-ro", "/"]
    args += ["--chdir", SANDBOX_WORK, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--", sys.executable, f"{SANDBOX_REQUEST}/harvest.py", SANDBOX_REQUEST, str(channel_fd)]
    return args


def _dev_mounts(limits: Limits) -> list[str]:
    """/dev as bwrap's --dev makes it, but sized: a 1 MiB tmpfs holding the usual devices and links,
    and /dev/shm (shared memory, which torch's workers use) a tmpfs of ``disk_bytes``."""
    args = ["--size", str(DEV_BYTES), "--tmpfs", "/dev"]
    for name in DEVICES:
        args += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        args += ["--symlink", target, f"/dev/{link}"]
    return [*args, "--size", str(limits.disk_bytes), "--tmpfs", "/dev/shm"]


def _dataset_masks(empty: Path, drlab_copies: list[Path]) -> list[str]:
    """Hide the datasets' own files (the notebook sees the grader's copy only): an empty folder over each
    system dataset folder; an empty file over the digits bundled with drlab, wherever the notebook sees
    drlab (``drlab_copies``), and over scikit-learn's copy of them. The data folder is not bound at all."""
    import importlib.util

    from drlab.data.datasets import DIGITS_FILE
    from drlab.data.paths import system_dataset_dirs

    args: list[str] = []
    for folder in system_dataset_dirs("fashion-mnist"):
        if folder.is_dir():
            args += ["--ro-bind", str(empty), str(folder)]
    blank = empty.parent / "blank"
    if not blank.exists():
        write_private(blank, b"")  # in the grader's private scratch folder (drlab.check.scratch)
    digits = [copy / "data" / DIGITS_FILE.name for copy in drlab_copies]
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("sklearn")  # a student's environment may hold scikit-learn
        if spec is not None and spec.origin:
            sklearn_digits = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
            if sklearn_digits.is_file():
                digits.append(sklearn_digits)
    for path in digits:
        args += ["--ro-bind", str(blank), str(path)]
    return args


def _font_cache() -> Path | None:
    base = os.environ.get("MPLCONFIGDIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"
    )
    with contextlib.suppress(OSError):
        found = sorted(Path(base).glob("fontlist-*.json"))
        if found and found[-1].is_file() and not found[-1].is_symlink():
            return found[-1]
    return None


def sandbox_environment(
    budget: str, limits: Limits, *, home: str, tp1_data: str | None, pythonpath: str
) -> dict[str, str]:
    """The notebook's whole environment: nothing of the grader's (no tokens, no paths of the instructor)."""
    threads = str(max(1, limits.threads))
    env = {
        "HOME": home,
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp" if home == SANDBOX_HOME else str(Path(home) / "tmp"),
        "PYTHONPATH": pythonpath,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.cache/matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "DRLAB_NOTEBOOK_BUDGET": budget,
        "DRLAB_OFFLINE": "1",
    }
    if tp1_data is not None:
        env["DRLAB_TP1_DATA"] = tp1_data  # drlab.data.tp1.SNAPSHOT_VARIABLE (this module imports no numpy)
    return env


# --------------------------------------------------------------------------------------------------
# Running it


def run_sandboxed(
    request_dir: Path, budget: str, limits: Limits, cancel: threading.Event | None = None
) -> SandboxRun:
    """Run the harvester on the request in ``request_dir`` (made by the grader) and collect what it sends.

    ``request_dir`` must hold ``request.json``, ``request.safetensors``, ``notebook.ipynb`` and
    ``harvest.py``. ``cancel`` (set by Ctrl-C in the grader) kills the sandbox at once.
    """
    problem = bwrap_problem()
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    with private_folder("drlab-check-") as scratch:
        empty = Path(scratch) / "empty"
        empty.mkdir()
        has_data = (request_dir / NOTEBOOK_DATA).is_file()
        if problem is None:
            env = sandbox_environment(
                budget,
                limits,
                home=SANDBOX_HOME,
                tp1_data=f"{SANDBOX_REQUEST}/{NOTEBOOK_DATA}" if has_data else None,
                pythonpath=SANDBOX_DRLAB,
            )
            command = bwrap_command(request_dir, write_end, env, limits, empty)
            cwd = str(scratch)
            note = "bwrap"
        else:
            home = Path(scratch) / "home"
            (home / "tp1").mkdir(parents=True)
            (home / "tmp").mkdir()
            env = sandbox_environment(
                budget, limits, home=str(home), tp1_data=str(request_dir / NOTEBOOK_DATA) if has_data else None,
                pythonpath=str(_drlab_package().parent),
            )  # fmt: skip
            command = [sys.executable, str(request_dir / "harvest.py"), str(request_dir), str(write_end)]
            cwd = str(home / "tp1")
            note = f"not sandboxed ({problem})"
        _write_limits(request_dir, limits)
        group = cgroups.create(cgroups.Budget(limits.threads, limits.memory_bytes, limits.tasks))
        if isinstance(group, cgroups.Group):
            command = cgroups.join_command(group, command)
        try:
            try:
                process = subprocess.Popen(
                    command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, pass_fds=(write_end,), start_new_session=True,
                )  # fmt: skip
            finally:
                os.close(write_end)
            run = collect(
                process, read_end, limits, cancel, group if isinstance(group, cgroups.Group) else None
            )
        finally:
            if isinstance(group, cgroups.Group):
                group.remove()  # and whatever escaped the sandbox's process group with it
    run.sandboxed = problem is None
    run.note = note
    run.limits = group.describe() if isinstance(group, cgroups.Group) else f"no cgroup ({group})"
    return run


def _write_limits(request_dir: Path, limits: Limits) -> None:
    """The limits the harvester sets on itself before any student code runs (read from limits.json)."""
    values: dict[str, float] = {
        "memory_bytes": limits.memory_bytes,
        "disk_bytes": limits.disk_bytes,
        "processes": limits.processes,
        "cpus": max(1, limits.threads),
        "wall_factor": WALL_FACTOR,
        "idle_share": IDLE_SHARE,
    }
    if os.geteuid() == 0:
        values["processes"] = 0  # root is exempt from RLIMIT_NPROC anyway; the PID namespace ends them all
    write_private(request_dir / "limits.json", json.dumps(values).encode())


__all__ = [
    "FRAME_TAG", "IDLE_SHARE", "NOTEBOOK_DATA", "WALL_FACTOR", "Frame", "FrameParser", "Limits", "SandboxRun",
    "bwrap_problem", "run_sandboxed",
]  # fmt: skip
