"""What every benchmark shares: its ``RESULT {json}`` line and, with ``--save``, a results file.

Each script in ``benchmarks/`` ends with :func:`emit`, which prints the ``RESULT {json}`` line and, when
the script was run with ``--save`` (added by :func:`add_save_option`), writes the same result under
``benchmarks/results/`` together with the conditions it was measured in: the date, the commit, the machine
(CPU model, cores, torch version, load average) and the command. ``benchmarks/render.py`` turns those files
into the documentation's benchmarks page, so that every figure there has one source: a file written here.

    .venv/bin/python benchmarks/dqn.py --sb3 --save            # into benchmarks/results/
    .venv/bin/python benchmarks/linreg.py --quick --save /tmp  # anywhere else
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: the schema of a results file (render.py refuses any other)
FORMAT = 1


def add_save_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--save [DIR]``: keep the result as a JSON file (default folder: ``benchmarks/results/``)."""
    parser.add_argument(
        "--save",
        nargs="?",
        const=str(RESULTS),
        default=None,
        metavar="DIR",
        help=f"also write the result, with the date, commit, machine and command, as JSON into DIR "
        f"(default: {RESULTS.relative_to(ROOT)}/), for the docs' benchmarks page",
    )


def emit(benchmark: str, result: dict[str, Any], save: str | None) -> Path | None:
    """Print ``RESULT {json}``; with ``save`` (a folder), also write the record; return its path."""
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    if save is None:
        return None
    record: dict[str, Any] = {
        "format": FORMAT,
        "benchmark": benchmark,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "command": command(),
        "result": result,
    }
    stamp = record["date"][:19].replace("-", "").replace(":", "")
    path = Path(save) / f"{benchmark}-{stamp}Z.json"
    from drlab.common.io import write_json_atomic  # drlab is importable wherever a benchmark ran

    Path(save).mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    print(f"saved {path}", flush=True)
    return path


def commit(checkout: Path = ROOT) -> str:
    """The commit checked out in ``checkout`` (this one by default), ``+dirty`` when tracked files differ
    from it (``unknown`` outside git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """The CPU model, its cores, the torch version and the load average (1, 5, 15 min) right now."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    cpu = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    torch_version = None
    if "torch" in sys.modules:  # never import it just to say which one it is
        torch_version = sys.modules["torch"].__version__
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }
    if flags:
        info["avx512_bf16"] = "avx512_bf16" in flags
    torch_module = sys.modules.get("torch")
    if torch_module is not None and torch_module.cuda.is_available():
        info["gpu"] = torch_module.cuda.get_device_name(0)
    return info


def command() -> str:
    """The command line as typed from the repository root (``python benchmarks/NAME.py …``)."""
    script = Path(sys.argv[0]).resolve()
    with_root = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python", str(with_root), *sys.argv[1:]])
