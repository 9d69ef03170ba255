"""What a notebook sees from inside its sandbox: one cell looks around and prints it; the test reads it.

The sandbox is run directly (:func:`drlab.check.sandbox.run_sandboxed`) with a one-cell request, so
the observations come back in its captured output, not through the grader's checks.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from drlab.check import harvest, sandbox
from drlab.data.datasets import ImageDataset
from drlab.data.tp1 import save_tp1_snapshot

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    sandbox.bwrap_problem() is not None, reason=f"no sandbox here: {sandbox.bwrap_problem()}"
)

LOOK_AROUND = """
import json, os, resource, socket, sys
seen = {}
seen["env"] = sorted(os.environ)
seen["root"] = sorted(os.listdir("/"))
seen["grader_visible"] = [path for path in GRADER_FILES if os.path.exists(path)]
try:
    import drlab.check.tp1
    seen["grader_importable"] = True
except ImportError:
    seen["grader_importable"] = False
import drlab.data
seen["drlab_data"] = drlab.data.__name__
def writable(path):
    try:
        with open(path, "a") as handle:
            handle.write("")
        return True
    except OSError:
        return False
seen["write_drlab"] = writable("/opt/drlab/drlab/__init__.py")
seen["write_python"] = writable(os.path.join(sys.prefix, "pyvenv.cfg"))
seen["write_here"] = writable("here.txt")
seen["cwd"] = os.getcwd()
seen["here"] = sorted(os.listdir("."))
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    seen["network"] = True
except OSError:
    seen["network"] = False
seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["memory"] = resource.getrlimit(resource.RLIMIT_AS)[1]
seen["dataset_files"] = [
    name for folder in DATASET_DIRS if os.path.isdir(folder) for name in sorted(os.listdir(folder))
]
try:
    from drlab.data.datasets import digits_arrays
    seen["digits"] = len(digits_arrays()[1])
except Exception as exc:
    seen["digits"] = type(exc).__name__
try:
    from sklearn.datasets import load_digits
    seen["sklearn_digits"] = len(load_digits().target)
except Exception as exc:
    seen["sklearn_digits"] = type(exc).__name__
# an attacker looks everywhere for the dataset's files (Fashion-MNIST's are named *-ubyte.gz)
found = []
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    found += [os.path.join(top, f) for f in files if "ubyte" in f or f.startswith("digits.csv")]
seen["dataset_anywhere"] = [path for path in found if os.path.getsize(path) > 0]
from drlab.data.tp1 import load_tp1_dataset
dataset, _ = load_tp1_dataset("full")
seen["tp1"] = [dataset.name, len(dataset.y_train), len(dataset.y_test)]
print("SEEN", json.dumps(seen))
"""


def test_what_a_notebook_sees_inside_its_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTRUCTOR_API_TOKEN", "do-not-leak")
    # the instructor's data folder, with a Fashion-MNIST file in it: the notebook must not find it
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    (data / "train-labels-idx1-ubyte.gz").write_bytes(b"the grader's labels")
    monkeypatch.setenv("DRLAB_DATA", str(data.parent))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[object] = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()

    request = tmp_path / "request"
    request.mkdir()
    # the grader's code, wherever it is installed, and this checkout's tests (the venv may sit inside the
    # checkout: the folders above a bound venv exist in the sandbox, empty, so look for files)
    import drlab.check.tp1

    grader_files = [
        str(Path(drlab.check.tp1.__file__).resolve()),
        str(ROOT / "tests" / "test_check_sandbox.py"),
    ]
    from drlab.data.paths import system_dataset_dirs

    folders = [str(folder) for folder in system_dataset_dirs("fashion-mnist")]
    source = (
        LOOK_AROUND.replace("GRADER_FILES", repr(grader_files))
        .replace("PORT", str(port))
        .replace("DATASET_DIRS", repr(folders))
    )
    (request / "request.json").write_text(
        json.dumps(
            {
                "seed": 0,
                "budget": "tiny",
                "notebook_seconds": 60,
                "check_seconds": 5,
                "notebook_name": "notebook.ipynb",
                "cells": [{"index": 0, "source": source}],
            }
        )
    )
    save_file({"unused": torch.zeros(1)}, str(request / "request.safetensors"))
    (request / "notebook.ipynb").write_text("{}")
    shutil.copyfile(harvest.__file__, request / "harvest.py")
    # the grader's copy of the data: the only images the notebook can load
    pixels = np.zeros((7, 28, 28), dtype=np.uint8)
    copy = ImageDataset("grader-copy", pixels, np.zeros(7, np.int64), pixels[:3], np.zeros(3, np.int64),
                        tuple("0123456789"), 0.5, 0.25)  # fmt: skip
    save_tp1_snapshot(copy, None, request / sandbox.NOTEBOOK_DATA)
    limits = sandbox.Limits(notebook_seconds=60, checks_seconds=60, memory_bytes=3 << 30)

    run = sandbox.run_sandboxed(request, "tiny", limits)

    assert run.sandboxed and run.note == "bwrap" and not run.killed
    line = next(line for line in run.output.decode().splitlines() if line.startswith("SEEN "))
    seen = json.loads(line[5:])
    assert "INSTRUCTOR_API_TOKEN" not in seen["env"]
    wanted = sandbox.sandbox_environment("tiny", limits, home="/h", tp1_data="/d", pythonpath="/p")
    assert set(seen["env"]) <= {*wanted, "PWD"}  # bwrap sets PWD with --chdir
    assert seen["grader_visible"] == [] and seen["grader_importable"] is False
    assert seen["drlab_data"] == "drlab.data"
    assert not seen["write_drlab"] and not seen["write_python"] and seen["write_here"]
    assert seen["cwd"] == sandbox.SANDBOX_WORK and seen["here"] == ["here.txt", "notebook.ipynb"]
    assert seen["network"] is False and accepted == []
    assert len(seen["processes"]) <= 3  # bwrap's init, the harvester (and the listing's own)
    assert seen["memory"] == 3 << 30
    # the dataset's own files are hidden (this machine has Fashion-MNIST in /usr/share/datasets when
    # setup.sh installed it); the notebook loads the grader's copy
    assert seen["dataset_files"] == [] and seen["dataset_anywhere"] == []
    assert seen["digits"] != 1797  # the digits bundled with drlab are blanked
    assert seen["sklearn_digits"] != 1797  # and so is scikit-learn's copy (or scikit-learn is absent)
    assert seen["tp1"] == ["grader-copy", 7, 3]
    assert set(run.frames) >= {"cells", "net", "model", "done"}  # the steps still ran, on nothing
    server.close()


def test_ctrl_c_is_raised_between_waits_after_the_finished_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a class's grading: noted when it comes, raised where no lock is held (a
    KeyboardInterrupt raised inside ``concurrent.futures.wait`` can leave a future's lock taken and
    hang the grader: CI saw it once); the reports decided before it are handed over, the sandbox still
    running is cancelled, and Python's own Ctrl-C handling is back afterwards."""
    import os
    import signal
    import time

    from drlab.check import runner
    from drlab.check.report import unreadable_report

    cancelled = threading.Event()
    handlers: list[object] = []

    def fake_grade(path: Path, settings: object, cancel: threading.Event) -> object:
        if path.name == "endless.ipynb":
            os.kill(os.getpid(), signal.SIGINT)  # the instructor presses Ctrl-C while this one runs
            assert cancel.wait(30)  # the grader cancels it
            cancelled.set()
        else:
            handlers.append(signal.getsignal(signal.SIGINT))
            time.sleep(0.2)
        return unreadable_report(path, "fake", 14)

    monkeypatch.setattr(runner, "grade_notebook", fake_grade)
    monkeypatch.setattr(runner, "_shared_files", lambda seed, budget: None)
    before = signal.getsignal(signal.SIGINT)
    reported: list[str] = []
    settings = runner.GradingSettings(timeout=60, seed=0, budget="tiny", check_seconds=10, memory_gb=1)
    with pytest.raises(KeyboardInterrupt):
        runner.grade_class(
            [Path("quick.ipynb"), Path("endless.ipynb"), Path("never.ipynb")],
            settings,
            jobs=1,
            on_report=lambda report: reported.append(report.notebook),
        )
    assert reported == ["quick.ipynb"] and cancelled.is_set()
    # while grading, Ctrl-C was only noted (Python's handler raises wherever the main thread is)
    assert handlers and handlers[0] is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is before


# --------------------------------------------------------------------------------------------------
# The sandbox's deadline, on a clock of our own (the cheap twin of test_check_budget's sleeper)


@pytest.mark.parametrize(
    ("cpu_per_second", "stops_at"),
    [
        (1.0, 30),  # computing: its 30 s of CPU time
        (0.1, 95),  # computing slowly (a busy machine): the 3x backstop, 3 x 30 + 5, not its CPU time
        (0.0, 55),  # waiting, deaf to every timer: its limit has passed and its group was idle a minute
    ],
)
def test_the_deadline_counts_cpu_time_and_stops_a_waiting_sandbox_after_a_minute_idle(
    monkeypatch: pytest.MonkeyPatch, cpu_per_second: float, stops_at: int
) -> None:
    from drlab.check import channel

    now = [0.0]

    class Group:  # a control group whose CPU time grows at cpu_per_second
        def cpu_seconds(self) -> float:
            return cpu_per_second * now[0]

    monkeypatch.setattr(channel.time, "monotonic", lambda: now[0])
    deadline = channel.Deadline(30, Group(), cpus=1)  # type: ignore[arg-type]
    stopped = None
    for second in range(1, 200):
        now[0] = float(second)
        if deadline.passed():
            stopped = second
            break
    assert stopped == stops_at
