"""The grader's temporary files: private while it runs, gone after a kill, and a full disk said in one
line (issue 23, items 7 and 10).

A grader killed with SIGKILL used to leave ``drlab-data-*`` (a world-readable copy of the dataset, the
private images and their labels' order included) and ``drlab-request-*`` (a copy of the graded
notebook) in the temporary folder; a full temporary folder gave a SafetensorError traceback, or with
a little more room a "0/14 unreadable" for every honest notebook.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from drlab.check import scratch
from drlab.check.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[1]


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nbformat.write(nb, path)
    return path


def grader(tmpdir: Path, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TMPDIR=str(tmpdir))
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "drlab", "check", "tp1", *args], env=env, **kwargs
    )


def drlab_folders(tmpdir: Path) -> list[Path]:
    return sorted(path for path in tmpdir.iterdir() if path.name.startswith(scratch.PREFIXES))


@pytest.mark.slow
def test_a_killed_grading_leaves_nothing_readable_and_the_next_one_removes_it(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    slow = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(600)")
    # what is not a killed grader's is never touched: a folder without a marker, a live grader's
    (tmpdir / "drlab-data-not-drlabs").mkdir()
    alive = tmpdir / "drlab-request-alive"
    alive.mkdir()
    (alive / scratch.MARKER).write_text(scratch._identity(os.getpid()))
    kept = {tmpdir / "drlab-data-not-drlabs", alive}

    process = grader(tmpdir, str(slow), "--budget", "tiny", "--timeout", "600")
    try:
        deadline = time.monotonic() + 120
        while not [p for p in drlab_folders(tmpdir) if p.name.startswith("drlab-request-") and p != alive]:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.5)
        time.sleep(2)  # the sandbox runs the notebook
        # private while it runs: folders 0700, files 0600 (whatever the umask)
        for folder in set(drlab_folders(tmpdir)) - kept:
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    leftovers = set(drlab_folders(tmpdir)) - kept
    assert {path.name.split("-")[1] for path in leftovers} >= {"data", "request"}  # SIGKILL: no clean-up

    quick = write_notebook(tmp_path / "quick.ipynb", "x = 1")
    assert grader(tmpdir, str(quick), "--budget", "tiny", stdout=subprocess.DEVNULL).wait(timeout=300) == 1
    assert set(drlab_folders(tmpdir)) == kept  # the killed grader's folders are gone, and the second's


@pytest.mark.skipif(os.geteuid() != 0 or sys.platform != "linux", reason="mounts a small tmpfs (root, Linux)")
@pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
def test_a_full_temporary_folder_stops_the_grading_with_one_line(tmp_path: Path) -> None:
    tmpdir = tmp_path / "small"
    tmpdir.mkdir()
    notebook = write_notebook(tmp_path / "n.ipynb", "x = 1")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TMPDIR=str(tmpdir))
    command = (
        f'mount -t tmpfs -o size=20m tmpfs "{tmpdir}" && exec "{sys.executable}" -m drlab check tp1 '
        f'"{notebook}" --budget tiny --csv "{tmp_path}/scores.csv"'
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    err = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert len(err) == 1 and err[0].startswith("error: the temporary folder") and "is full" in err[0]
    assert "TMPDIR" in err[0]
    assert not (tmp_path / "scores.csv").exists()  # no row of 0/14 for a notebook never run


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_grading_stopped_by_a_signal_cleans_up_as_ctrl_c_does(tmp_path: Path, stop: signal.Signals) -> None:
    """``kill`` or a closed terminal: the sandbox stops, the rows graded are kept, nothing is left."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    slow = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(600)  # drlab-stop-test")
    process = grader(tmpdir, str(slow), "--budget", "tiny", "--timeout", "600", stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not [p for p in drlab_folders(tmpdir) if p.name.startswith("drlab-request-")]:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.5)
    time.sleep(2)
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and b"interrupted: 0 of 1 notebooks graded" in err
    assert drlab_folders(tmpdir) == []
