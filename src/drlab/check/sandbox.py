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
- limits: address space and file size (``setrlimit``, set by the harvester before any student code,
  soft and hard), processes (for a non-root grader), wall time, and captured output (the first bytes
  kept, the rest counted). Wall time: the cells must be reported within start-up + ``--timeout``
  seconds, the grader's steps within their share after that; past either deadline the whole sandbox
  is killed (a notebook that ignores every signal costs ``--timeout`` + 60 s, not more).

Without bwrap (macOS, Windows, a Linux without it), the harvester runs as a plain child process in a
scratch folder with the same environment and limits, and every report says "not sandboxed".

This module imports no torch: the frames come back as JSON and raw safetensors bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: where things appear inside the sandbox
SANDBOX_HOME = "/home/student"
SANDBOX_WORK = f"{SANDBOX_HOME}/tp1"
SANDBOX_REQUEST = "/grader"
SANDBOX_DRLAB = "/opt/drlab"
#: the file of a request folder that holds the notebook's data (:func:`drlab.data.tp1.save_tp1_snapshot`)
NOTEBOOK_DATA = "tp1_data.safetensors"
FRAME_TAG = b"DRLAB-FRAME"  # the same as drlab.check.harvest.FRAME_TAG (that module imports torch)
#: most bytes of one frame's JSON, of one frame's tensors, and of all the frames of a notebook
MAX_META_BYTES = 1 << 20
MAX_FRAME_BYTES = 96 << 20
MAX_CHANNEL_BYTES = 384 << 20
#: /etc files a Python process may want (ld.so, time zone, users' names); nothing else of /etc is shown
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group")


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
    output_bytes: int = 64 << 10
    """printed bytes kept (the rest is counted, not kept)"""
    threads: int = 1
    """torch / OpenMP threads of the notebook"""


@dataclass
class Frame:
    """One step's data: its JSON, and its tensors as safetensors bytes (decoded by the grader)."""

    data: dict[str, Any]
    tensors: bytes = b""


@dataclass
class SandboxRun:
    """What came back from one notebook's sandbox."""

    frames: dict[str, Frame] = field(default_factory=dict)
    """the first well-formed frame of each name"""
    sandboxed: bool = True
    note: str = ""
    """how it ran: "bwrap", or "not sandboxed (why)\""""
    output: bytes = b""
    """the first ``Limits.output_bytes`` bytes the notebook printed"""
    output_total: int = 0
    """all the bytes it printed"""
    killed: bool = False
    """it was still running at the wall-clock deadline (or the grading was interrupted)"""
    exit_code: int | None = None
    seconds: float = 0.0
    channel_problem: str = ""
    """why some frames were not read (malformed, too large), when that happened"""


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
    args += ["--proc", "/proc", "--dev", "/dev"]
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
    args += ["--ro-bind", str(request_dir), SANDBOX_REQUEST, "--chdir", SANDBOX_WORK, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--", sys.executable, f"{SANDBOX_REQUEST}/harvest.py", SANDBOX_REQUEST, str(channel_fd)]
    return args


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
    blank.touch()
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
    with tempfile.TemporaryDirectory(prefix="drlab-check-") as scratch:
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
            cwd = scratch
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
        try:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, pass_fds=(write_end,), start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(write_end)
        run = _collect(process, read_end, limits, cancel)
    run.sandboxed = problem is None
    run.note = note
    return run


def _write_limits(request_dir: Path, limits: Limits) -> None:
    """The limits the harvester sets on itself before any student code runs (read from limits.json)."""
    values = {
        "memory_bytes": limits.memory_bytes,
        "disk_bytes": limits.disk_bytes,
        "processes": limits.processes,
    }
    if os.geteuid() == 0:
        values["processes"] = 0  # root is exempt from RLIMIT_NPROC anyway; the PID namespace ends them all
    (request_dir / "limits.json").write_text(json.dumps(values), encoding="utf-8")


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the sandbox's process group (bwrap: then its PID namespace goes, and all in it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _collect(
    process: subprocess.Popen[bytes], channel: int, limits: Limits, cancel: threading.Event | None
) -> SandboxRun:
    """Read the output (capped) and the frames until the sandbox ends or its deadline comes."""
    assert process.stdout is not None
    run = SandboxRun()
    started = time.monotonic()
    deadline = started + limits.startup_seconds + limits.notebook_seconds  # until the cells are reported
    cells_reported = False
    parser = FrameParser()
    selector = selectors.DefaultSelector()
    output_fd = process.stdout.fileno()
    for fd in (output_fd, channel):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline or (cancel is not None and cancel.is_set()):
                run.killed = True
                _kill(process)
                break
            if exited_at is None and process.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 2.0:
                break  # its main process is gone; a leftover holding the pipes open is not waited for
            for key, _ in selector.select(timeout=0.2):
                fd = int(key.fd)
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(fd)
                    continue
                if fd == output_fd:
                    keep = limits.output_bytes - len(run.output)
                    if keep > 0:
                        run.output += chunk[:keep]
                    run.output_total += len(chunk)
                else:
                    parser.feed(chunk)
                    if not cells_reported and "cells" in parser.frames:
                        cells_reported = True
                        deadline = time.monotonic() + limits.checks_seconds  # then the steps' share
    finally:
        selector.close()
        _kill(process)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        process.stdout.close()
        os.close(channel)
    run.exit_code = process.returncode
    run.frames = parser.frames
    run.channel_problem = parser.problem
    run.seconds = time.monotonic() - started
    return run


class FrameParser:
    """Cuts the channel's bytes into frames; keeps the first good frame of each name; never trusts a size."""

    def __init__(self) -> None:
        self.frames: dict[str, Frame] = {}
        self.problem = ""
        self._buffer = bytearray()
        self._total = 0

    def feed(self, chunk: bytes) -> None:
        if self.problem:
            return  # a broken stream cannot be re-synchronised: the rest is drained and dropped
        self._total += len(chunk)
        if self._total > MAX_CHANNEL_BYTES:
            self.problem = f"the sandbox sent more than {MAX_CHANNEL_BYTES >> 20} MiB of data"
            self._buffer.clear()
            return
        self._buffer += chunk
        while self._parse_one():
            pass

    def _parse_one(self) -> bool:
        newline = self._buffer.find(b"\n", 0, 200)
        if newline < 0:
            if len(self._buffer) >= 200:
                self.problem = "malformed data from the sandbox"
                self._buffer.clear()
            return False
        parts = bytes(self._buffer[:newline]).split(b" ")
        if len(parts) != 4 or parts[0] != FRAME_TAG or not (parts[2].isdigit() and parts[3].isdigit()):
            self.problem = "malformed data from the sandbox"
            self._buffer.clear()
            return False
        name = parts[1].decode("ascii", errors="replace")[:40]
        meta_size, tensor_size = int(parts[2]), int(parts[3])
        if meta_size > MAX_META_BYTES or tensor_size > MAX_FRAME_BYTES:
            self.problem = f"a frame of the sandbox was too large ({name})"
            self._buffer.clear()
            return False
        end = newline + 1 + meta_size + tensor_size
        if len(self._buffer) < end:
            return False
        meta = bytes(self._buffer[newline + 1 : newline + 1 + meta_size])
        tensors = bytes(self._buffer[newline + 1 + meta_size : end])
        del self._buffer[:end]
        try:
            data = json.loads(meta)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and name not in self.frames:
            self.frames[name] = Frame(data, tensors)
        return True
