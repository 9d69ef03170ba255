"""One budget per sandbox, shared by all its processes: the kernel's control groups (cgroups).

Per-process limits (``setrlimit``) let a notebook multiply its share: 24 busy processes took the CPU
from the classmate graded beside it, three children held 700 MiB each under ``--memory-gb 1``. A
control group holds every process a sandbox starts, and the kernel applies its limits to them all:

- CPU: a quota of ``cpus`` CPUs (the grader's cores divided by ``--jobs``), whatever the number of
  processes; the group's CPU time is also what the notebook's time limit counts (:mod:`.sandbox`), so
  a busy machine does not make it time out;
- memory: ``--memory-gb`` for all its processes and the files it writes in its in-memory folders
  (no swap past it); past it the kernel kills a process of the group, not of the machine;
- tasks: at most ``tasks`` processes and threads.

What the kernel offers is used: cgroup v2 (most desktops: systemd delegates a subtree to the user, or
the grader runs as root), else cgroup v1 controllers (``cpu``, ``cpuacct``, ``memory``, ``pids``;
writable by root). Where neither can be written (an unprivileged grader on v1, a v2 session scope that
is not delegated), nothing is set, the reason goes into every report and CSV row, and the per-process
limits remain. A group is named ``drlab-PID-N`` (the grader's process id): one left by a killed
grader is removed by the next grading (:func:`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

CONTROLLERS_V1 = ("cpu", "cpuacct", "memory", "pids")
CONTROLLERS_V2 = ("cpu", "memory", "pids")
PERIOD_US = 100_000
#: how a grader on cgroup v2 without a delegated group can get one (said when nothing could be set)
DELEGATE_HINT = "systemd-run --user --scope -p Delegate=yes drlab check …"
_counter = itertools.count()


@dataclass(frozen=True)
class Budget:
    """What one sandbox may use, all its processes together."""

    cpus: float
    memory_bytes: int
    tasks: int


@dataclass
class Group:
    """One sandbox's control group: a folder per v1 controller, or one v2 folder."""

    version: str
    """"v1" or "v2\""""
    folders: dict[str, Path] = field(default_factory=dict)
    """by controller (v2: one folder for all, under the key "")"""
    budget: Budget | None = None

    def _folder(self, controller: str) -> Path:
        return self.folders.get(controller) or self.folders[""]

    @property
    def procs_files(self) -> list[Path]:
        """The files a process writes its id into to join the group (one per distinct folder)."""
        return sorted({folder / "cgroup.procs" for folder in self.folders.values()})

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process of the group so far (user and system), or None if unreadable."""
        with contextlib.suppress(OSError, ValueError):
            if self.version == "v1":
                return int((self._folder("cpuacct") / "cpuacct.usage").read_text()) / 1e9
            for line in (self._folder("cpu") / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        return None

    def oom_kills(self) -> int:
        """Processes of the group the kernel killed for want of memory."""
        name = "memory.oom_control" if self.version == "v1" else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (self._folder("memory") / name).read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        return 0

    def memory_peak(self) -> int | None:
        """The group's largest memory use so far (bytes), where the kernel says it."""
        name = "memory.max_usage_in_bytes" if self.version == "v1" else "memory.peak"
        with contextlib.suppress(OSError, ValueError):
            return int((self._folder("memory") / name).read_text())
        return None

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(line) for line in procs.read_text().split()}
        return found

    def kill_all(self) -> None:
        """SIGKILL every process in the group (even one that left the sandbox's process group)."""
        if self.version == "v2":
            with contextlib.suppress(OSError):
                (self.folders[""] / "cgroup.kill").write_text("1")
        for _ in range(100):  # a process may fork while we kill: its tasks limit bounds the rounds
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left in the group and remove its folders."""
        self.kill_all()
        for folder in set(self.folders.values()):
            for _ in range(50):  # the kernel releases a group once its last process is reaped
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def describe(self) -> str:
        budget = self.budget
        if budget is None:
            return f"cgroup {self.version}"
        return (
            f"cgroup {self.version}: {budget.cpus:g} CPU, {budget.memory_bytes / 2**30:g} GiB, "
            f"{budget.tasks} tasks for all its processes"
        )


# --------------------------------------------------------------------------------------------------
# Where the hierarchies are


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(file system type, mount root, mount point, super options) of every cgroup mount."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                point = fields[4].replace("\\040", " ")
                found.append((tail[0], fields[3], point, set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's group in each hierarchy: by controller (v1) or under "" (v2)."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _inside(point: str, root: str, path: str) -> Path:
    """The folder of group ``path`` under a mount of the hierarchy's ``root`` at ``point``."""
    relative = os.path.relpath(path, root) if root != "/" else path.lstrip("/")
    return Path(point) / ("" if relative == "." else relative)


def _v1_parents() -> dict[str, Path] | str:
    """The folder of this process's group in each v1 controller we need, or why there is none."""
    own = _own_paths()
    parents = {}
    for controller in CONTROLLERS_V1:
        mount = next((m for m in _mounts() if m[0] == "cgroup" and controller in m[3]), None)
        if mount is None or controller not in own:
            return f"no cgroup v1 {controller} controller is mounted"
        parents[controller] = _inside(mount[2], mount[1], own[controller])
    return parents


def _v2_parent() -> Path | str:
    """The v2 folder the sandboxes' groups are made in, with cpu, memory and pids enabled for its
    children (moving this process into a leaf of its own first, as v2 requires), or why there is none."""
    mount = next((m for m in _mounts() if m[0] == "cgroup2"), None)
    own = _own_paths().get("")
    if mount is None or own is None:
        return "no cgroup v2 hierarchy"
    parent = _inside(mount[2], mount[1], own)
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
    except OSError as exc:
        return f"cgroup v2: {parent} cannot be read ({exc.strerror})"
    missing = [c for c in CONTROLLERS_V2 if c not in available]
    if missing:
        return f"cgroup v2: the {', '.join(missing)} controller(s) are not available to {parent}"
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    if all(c in enabled for c in CONTROLLERS_V2):
        return parent
    if not os.access(parent, os.W_OK):
        return f"cgroup v2: {parent} is not delegated to this user (run under {DELEGATE_HINT})"
    try:
        if own != "/":  # a group with processes cannot give controllers to children: move into a leaf
            leaf = parent / f"drlab-grader-{os.getpid()}"
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS_V2))
    except OSError as exc:
        return (
            f"cgroup v2: cannot enable {', '.join(CONTROLLERS_V2)} under {parent} ({exc.strerror}; other "
            f"processes share its group: run under {DELEGATE_HINT})"
        )
    return parent


def _hierarchy() -> tuple[str, dict[str, Path]] | str:
    """("v2", {"": parent}) or ("v1", parents by controller), or why no group can be made here."""
    if not os.path.exists("/proc/self/cgroup"):
        return "this system has no control groups (Linux only)"
    reasons = []
    mounts = _mounts()
    if any(m[0] == "cgroup2" for m in mounts):
        parent = _v2_parent()
        if isinstance(parent, Path):
            return "v2", {"": parent}
        reasons.append(parent)
    if any(m[0] == "cgroup" for m in mounts):
        parents = _v1_parents()
        if isinstance(parents, dict):
            if all(os.access(folder, os.W_OK) for folder in parents.values()):
                return "v1", parents
            reasons.append("cgroup v1: the controllers' folders are writable by root only")
        else:
            reasons.append(parents)
    return "; ".join(reasons) or "no control groups are mounted"


# --------------------------------------------------------------------------------------------------
# Making, joining and removing groups


def create(budget: Budget) -> Group | str:
    """A new group with ``budget`` set, or why none could be made (one line for the report)."""
    found = _hierarchy()
    if isinstance(found, str):
        return found
    version, parents = found
    name = f"drlab-{os.getpid()}-{next(_counter)}"
    group = Group(version, budget=budget)
    try:
        for controller, parent in parents.items():
            folder = parent / name
            if folder not in group.folders.values():  # co-mounted controllers (cpu,cpuacct) share one
                folder.mkdir()
            group.folders[controller] = folder
        _set_budget(group, budget)
    except OSError as exc:
        group.remove()
        return f"cgroup {version}: cannot make a group ({exc.strerror or exc})"
    return group


def _set_budget(group: Group, budget: Budget) -> None:
    quota = max(1000, int(budget.cpus * PERIOD_US))
    if group.version == "v1":
        cpu, memory = group.folders["cpu"], group.folders["memory"]
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(quota))
        (memory / "memory.limit_in_bytes").write_text(str(budget.memory_bytes))
        with contextlib.suppress(OSError):  # no swap past the limit, where the kernel accounts it
            (memory / "memory.memsw.limit_in_bytes").write_text(str(budget.memory_bytes))
        (group.folders["pids"] / "pids.max").write_text(str(budget.tasks))
    else:
        folder = group.folders[""]
        (folder / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        (folder / "memory.max").write_text(str(budget.memory_bytes))
        with contextlib.suppress(OSError):
            (folder / "memory.swap.max").write_text("0")
        (folder / "pids.max").write_text(str(budget.tasks))


#: the first process of a sandbox joins its group, then becomes the sandbox (``exec``): everything it
#: starts is born inside the group (adding the process after it started would miss its children)
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def join_command(group: Group, command: list[str]) -> list[str]:
    """``command``, started inside ``group``."""
    return ["/bin/sh", "-c", JOIN, "drlab-cgroup", *map(str, group.procs_files), "--", *command]


def remove_leftovers() -> int:
    """Remove the groups of graders that are gone (``drlab-PID-N`` with no process PID); how many."""
    found = _hierarchy()
    if isinstance(found, str):
        return 0
    version, parents = found
    removed = 0
    for controller, parent in parents.items():
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                parts = entry.name.split("-")
                if len(parts) != 3 or parts[0] != "drlab" or not parts[1].isdigit() or not entry.is_dir():
                    continue
                pid = int(parts[1])
                if pid == os.getpid() or _alive(pid):
                    continue
                Group(version, {controller: Path(entry.path)}).remove()
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
