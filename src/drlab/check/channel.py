"""The sandbox's pipes, read by the grader: its printed output (capped) and its data frames, until it
ends, is cancelled, or its time is up (:class:`Deadline`); then everything in it is killed.

The frames are cut by :class:`FrameParser`, which trusts no size the sandbox announces. This module
imports no torch: the frames come back as JSON and raw safetensors bytes.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drlab.check import cgroups

if TYPE_CHECKING:
    from drlab.check.sandbox import Limits

FRAME_TAG = b"DRLAB-FRAME"  # the same as drlab.check.harvest.FRAME_TAG (that module imports torch)
#: most bytes of one frame's JSON, of one frame's tensors, and of all the frames of a notebook
MAX_META_BYTES = 1 << 20
MAX_FRAME_BYTES = 96 << 20
MAX_CHANNEL_BYTES = 384 << 20
#: a time limit counts the time the sandbox computes (its CPU time, divided by its CPUs); a sandbox that
#: waits instead is stopped once the wall clock has run this many times its limit
WALL_FACTOR = 3.0
#: a sandbox that used less than this share of a CPU over the last minute is waiting, not computing:
#: it meets the wall clock at its limit itself
IDLE_SHARE = 0.02


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
    limits: str = ""
    """how its budget was held: "cgroup v1: 1 CPU, 4 GiB, 512 tasks for all its processes", or why
    only per-process limits were"""
    cpu_seconds: float | None = None
    """CPU time of all its processes (None without a control group)"""
    oom_kills: int = 0
    """its processes the kernel killed for want of memory (the control group's budget)"""


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the sandbox's process group (bwrap: then its PID namespace goes, and all in it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


class Deadline:
    """A time limit on the sandbox, as the harvester counts its own (:func:`~drlab.check.harvest.time_limit`):
    its control group's CPU time divided by its CPUs (what it computed, whatever else runs on the
    machine); on the wall clock, the limit itself once the group has been idle (under
    :data:`IDLE_SHARE` of a CPU over the last minute), and :data:`WALL_FACTOR` times it in any case.
    Without a group, only the latter: the harvester's own timers stop the cells first."""

    def __init__(self, seconds: float, group: cgroups.Group | None, cpus: int) -> None:
        self.seconds, self.group, self.cpus = seconds, group, max(1, cpus)
        self.wall_start = time.monotonic()
        self.samples: collections.deque[tuple[float, float]] = collections.deque()
        self.cpu_start = self._sample()

    def _sample(self) -> float | None:
        cpu = self.group.cpu_seconds() if self.group is not None else None
        if cpu is not None:
            now = time.monotonic()
            if not self.samples or now - self.samples[-1][0] >= 1.0:
                self.samples.append((now, cpu))
            while now - self.samples[0][0] > 60.0:
                self.samples.popleft()
        return cpu

    def passed(self) -> bool:
        wall = time.monotonic() - self.wall_start
        if wall >= self.seconds * WALL_FACTOR + 5:
            return True
        cpu, start = self._sample(), self.cpu_start
        if cpu is None or start is None:
            return False
        if (cpu - start) / self.cpus >= self.seconds:
            return True
        first_time, first_cpu = self.samples[0]
        idle = time.monotonic() - first_time >= 55.0 and cpu - first_cpu < IDLE_SHARE * 60.0
        return wall >= self.seconds + 5 and idle


def collect(
    process: subprocess.Popen[bytes],
    channel: int,
    limits: Limits,
    cancel: threading.Event | None,
    group: cgroups.Group | None = None,
) -> SandboxRun:
    """Read the output (capped) and the frames until the sandbox ends or its deadline comes."""
    assert process.stdout is not None
    run = SandboxRun()
    started = time.monotonic()
    # until the cells are reported (the harvester's own timer comes first: its CPU time is the cells')
    deadline = Deadline(limits.startup_seconds + limits.notebook_seconds, group, limits.threads)
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
            if deadline.passed() or (cancel is not None and cancel.is_set()):
                run.killed = True
                kill(process)
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
                        deadline = Deadline(limits.checks_seconds, group, limits.threads)  # the steps' share
    finally:
        selector.close()
        kill(process)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        process.stdout.close()
        os.close(channel)
    if group is not None:
        run.cpu_seconds, run.oom_kills = group.cpu_seconds(), group.oom_kills()
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
