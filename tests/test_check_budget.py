"""One budget per sandbox, for all its processes (issue 23, item 5).

Limits used to be per process: a notebook that started 24 busy processes in sessions of their own took
the CPU from the classmate graded beside it (the solution fell from 14/14 to 11/14, "timeout", with
``--jobs 2 --timeout 30``); three children held 700 MiB each under ``--memory-gb 1``; the sandbox's
``/`` and ``/dev`` were tmpfs without a size (600 MiB written into each). Now each sandbox has a control
group (:mod:`drlab.check.cgroups`: CPU quota, memory, tasks), its time limit counts its own CPU time,
and every file system it can write has a size (``/`` is read-only).

The oracles are the kernel's own: a child killed for want of memory ends with SIGKILL, a write past a
file system's size fails with ENOSPC, into a read-only one with EROFS; the CPU time of a process's
cgroup is the kernel's accounting.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from safetensors.torch import save_file

from _lookup_notebooks import honest_cells, notebook
from drlab.check import cgroups, harvest, sandbox
from drlab.cli import main

pytestmark = pytest.mark.skipif(
    sandbox.bwrap_problem() is not None, reason=f"no sandbox here: {sandbox.bwrap_problem()}"
)
GROUP = cgroups.create(cgroups.Budget(1, 1 << 30, 64))
if isinstance(GROUP, cgroups.Group):
    GROUP.remove()
needs_cgroups = pytest.mark.skipif(isinstance(GROUP, str), reason=f"no control group here: {GROUP}")


def run_cell(
    tmp_path: Path, source: str, limits: sandbox.Limits
) -> tuple[sandbox.SandboxRun, dict[str, object]]:
    """Run one cell in a real sandbox; what it prints after "SEEN " comes back as JSON."""
    request = tmp_path / "request"
    request.mkdir()
    cells = [{"index": 0, "source": source}]
    settings = {"seed": 0, "budget": "tiny", "notebook_seconds": limits.notebook_seconds, "check_seconds": 5}
    (request / "request.json").write_text(
        json.dumps({**settings, "notebook_name": "notebook.ipynb", "cells": cells})
    )
    save_file({"unused": torch.zeros(1)}, str(request / "request.safetensors"))
    (request / "notebook.ipynb").write_text("{}")
    shutil.copyfile(harvest.__file__, request / "harvest.py")
    run = sandbox.run_sandboxed(request, "tiny", limits)
    line = next((line for line in run.output.decode().splitlines() if line.startswith("SEEN ")), "SEEN {}")
    return run, json.loads(line[5:])


FILL = """
import errno, json, os
def fill(folder, files=3, mib=200):
    written, errors = 0, set()
    for number in range(files):
        try:
            with open(os.path.join(folder, f"big{number}"), "wb") as handle:
                for _ in range(mib):
                    handle.write(b"x" * (1 << 20))
                    written += 1 << 20
        except OSError as exc:
            errors.add(errno.errorcode.get(exc.errno, str(exc.errno)))
    return {"mib": written >> 20, "errors": sorted(errors)}
seen = {folder: fill(folder) for folder in ("/", "/dev", "/dev/shm", "/tmp", ".")}
print("SEEN", json.dumps(seen), flush=True)
"""


def test_every_folder_a_notebook_can_write_has_a_size(tmp_path: Path) -> None:
    limits = sandbox.Limits(
        notebook_seconds=120, checks_seconds=30, memory_bytes=3 << 30, disk_bytes=256 << 20
    )
    run, seen = run_cell(tmp_path, FILL, limits)
    assert seen, run.output.decode()[-2000:]
    assert seen["/"] == {"mib": 0, "errors": ["EROFS"]}  # was 600 MiB in a tmpfs of 12 GiB
    assert seen["/dev"]["mib"] <= 1 and seen["/dev"]["errors"] == ["ENOSPC"]  # was 600 MiB
    for folder in ("/dev/shm", "/tmp", "."):  # torch's shared memory, the temporary folder, the work folder
        assert seen[folder]["mib"] <= 256 and seen[folder]["errors"] == ["ENOSPC"], (folder, seen[folder])


CHILDREN = """
import json, subprocess, sys, time
hold = "b = bytearray(700 << 20); import time; time.sleep(60)"  # 700 MiB, every page touched
children = [subprocess.Popen([sys.executable, "-c", hold]) for _ in range(3)]
time.sleep(15)
seen = {"alive": sum(child.poll() is None for child in children), "codes": [child.poll() for child in children]}
for child in children:
    child.kill()
print("SEEN", json.dumps(seen), flush=True)
"""


@needs_cgroups
@pytest.mark.slow  # 16 s of sandboxed children; the fast tier keeps the budget's units (test_check_sandbox)
def test_children_share_the_notebooks_memory(tmp_path: Path) -> None:
    limits = sandbox.Limits(notebook_seconds=120, checks_seconds=30, memory_bytes=1 << 30)
    run, seen = run_cell(tmp_path, CHILDREN, limits)
    assert seen, run.output.decode()[-2000:]
    assert seen["alive"] <= 1, seen  # were 3, holding 2.1 GB under --memory-gb 1
    assert -9 in seen["codes"] and run.oom_kills >= 2  # killed by the kernel, in the group only
    assert run.limits.startswith("cgroup v") and "1 GiB" in run.limits


def running(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie waiting for its parent to read its status)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@needs_cgroups
def test_a_group_holds_every_process_and_counts_their_cpu() -> None:
    group = cgroups.create(cgroups.Budget(1, 256 << 20, 32))
    assert isinstance(group, cgroups.Group)
    try:
        # a shell that starts a busy child in a session of its own, out of the process group
        script = "setsid sh -c 'while :; do :; done' & echo $!; wait"
        process = subprocess.Popen(
            cgroups.join_command(group, ["sh", "-c", script]), stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        child = int(process.stdout.readline())
        assert child in group.pids()
        started, cpu = time.monotonic(), group.cpu_seconds()
        time.sleep(2)
        used = (group.cpu_seconds() or 0) - (cpu or 0)
        assert 0.3 < used <= 1.1 * (time.monotonic() - started)  # a quota of 1 CPU
    finally:
        group.remove()
    process.wait(timeout=10)
    assert not running(child)  # out of the process group, killed with the group
    assert not any(folder.exists() for folder in group.folders.values())


@needs_cgroups
def test_a_killed_graders_groups_are_removed_by_the_next(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    group = cgroups.create(cgroups.Budget(1, 256 << 20, 32))
    assert isinstance(group, cgroups.Group)
    left = {controller: folder.with_name(f"drlab-{pid}-0") for controller, folder in group.folders.items()}
    for folder in set(group.folders.values()):
        folder.rename(folder.with_name(f"drlab-{pid}-0"))  # as a grader of that process id left it
    assert cgroups.remove_leftovers() >= 1
    assert not any(folder.exists() for folder in left.values())


def test_without_a_control_group_every_row_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        cgroups, "_hierarchy", lambda: "cgroup v1: the controllers' folders are writable by root only"
    )
    (tmp_path / "n.ipynb").write_text(nbformat.writes(notebook(["x = 1"])))
    scores = tmp_path / "scores.csv"
    main(["check", "tp1", str(tmp_path / "n.ipynb"), "--budget", "tiny", "--csv", str(scores)])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "! no cgroup (cgroup v1: the controllers' folders are writable by root only): its limits held each process"
        in out
    )
    with open(scores, newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["limits"].startswith("no cgroup (cgroup v1")


BURNER = """
import os
for _ in range(24):  # busy processes in sessions of their own: out of reach of a process-group kill
    if os.fork() == 0:
        os.setsid()
        while True:
            pass
import time
time.sleep(600)
"""


@pytest.mark.slow
@needs_cgroups
def test_a_classmate_burning_cpu_does_not_make_an_honest_notebook_time_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(notebook([BURNER]), submissions / "a_burner.ipynb")
    nbformat.write(notebook(honest_cells("cnn")), submissions / "b_honest.ipynb")
    scores = tmp_path / "scores.csv"
    started = time.monotonic()
    main(["check", "tp1", str(submissions), "--csv", str(scores), "--budget", "tiny", "--timeout", "30",
          "--jobs", "2", "--seed", "5"])  # fmt: skip
    seconds = time.monotonic() - started
    capsys.readouterr()
    with open(scores, newline="", encoding="utf-8") as handle:
        rows = {Path(row["notebook"]).stem: row for row in csv.DictReader(handle)}
    honest = rows["b_honest"]
    assert honest["score"] == "14" and honest["status"] == "ok", honest["first_problem"]
    assert rows["a_burner"]["status"] in ("timeout", "killed")
    print(f"graded in {seconds:.0f} s; honest notebook {honest['seconds']} s; load {os.getloadavg()}")


SLEEPER = """
import signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGPROF, signal.SIGINT, signal.SIGTERM})
while True:
    time.sleep(1)  # waits, computes nothing, hears no timer
"""


@pytest.mark.slow  # ≥ 55 s of waiting; its fast twin: test_check_sandbox's deadline on a clock of its own
@needs_cgroups
def test_a_notebook_that_waits_costs_its_time_not_three_times_it(tmp_path: Path) -> None:
    """The time limit counts CPU time, so that a slowed-down notebook is not cut short; one that only
    waits (here deaf to every timer) is stopped once its limit has passed on the clock and its group has
    been idle for a minute — not at the 3× backstop."""
    limits = sandbox.Limits(notebook_seconds=10, checks_seconds=10, startup_seconds=20)
    started = time.monotonic()
    run, _ = run_cell(tmp_path, SLEEPER, limits)
    seconds = time.monotonic() - started
    assert run.killed and "cells" not in run.frames
    assert 30 <= seconds < (10 + 20) * sandbox.WALL_FACTOR - 10, seconds  # the limit and a minute idle


SLOW_COMPUTER = """
import time
while True:  # computes a quarter of the time: slowed down, not waiting
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    time.sleep(0.15)
"""


@pytest.mark.slow  # 28 s of real sandboxes; the deadline's logic is test_check_sandbox's, on a clock of its own
@pytest.mark.parametrize(
    ("source", "said"),
    [
        (SLOW_COMPUTER, "within 4 s: 3 times as long passed on the clock though it kept computing"),
        (
            "import time\nwhile True:\n    time.sleep(0.05)",
            "within 4 s (they passed on the clock while it was waiting",
        ),
        # a busy loop meets its CPU limit (4 s x the CPUs it is given), or on a loaded machine the clock's
        ("while True:\n    pass", "computing"),
    ],
)
def test_the_runs_check_says_which_time_limit_came(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, said: str
) -> None:
    (tmp_path / "n.ipynb").write_text(nbformat.writes(notebook([source])))
    main(
        [
            "check",
            "tp1",
            str(tmp_path / "n.ipynb"),
            "--budget",
            "tiny",
            "--timeout",
            "4",
            "--check-seconds",
            "5",
        ]
    )
    out = " ".join(capsys.readouterr().out.split())
    assert said in out
    assert ("waiting" in out) == ("waiting" in said)
