"""Benchmark: how fast does ``drlab check tp1`` grade a class, each notebook in its own sandbox?

A class of ``--count`` copies of the instructor's solution notebook (every row should be 14/14) is
graded through the real command line (``drlab check tp1 FOLDER --csv … --jobs J``), as an instructor
runs it: the request drawn once, one bwrap sandbox per notebook, the checks decided in the grader.
We report the wall time, notebooks per minute and the scores; with ``--baseline`` the same class is
also graded with ``--jobs 1`` in this process, and the ratio (jobs 1 time / jobs J time) is the
speed-up that parallel grading gives on this machine.

With ``--moodle R`` the same class is also packed as Moodle's "Download all submissions" zip, with its
grading worksheet, and graded R times through the round trip (``drlab check tp1 ZIP --moodle WORKSHEET
--out DIR``: extraction, the filled worksheet, feedback.zip, the class report), alternating with R
plain gradings of the folder (``--csv``): ``moodle_over_plain`` is the ratio of their median times
(1.0: the round trip costs nothing beyond the grading).

With ``--against OLDER`` (another checkout of drlab, set up with its own ``.venv``: e.g. ``git worktree
add ../older COMMIT && bash ../older/setup.sh --dev``) the class is graded R times by that checkout's
``drlab check tp1 FOLDER --csv``, alternated with this checkout's plain grading and its Moodle round trip,
each one a whole ``drlab`` process: ``over_older`` holds the ratios of their median times (1.0: as fast
as the older grader; above 1: slower).

    .venv/bin/python benchmarks/grading.py [--count 30] [--jobs 2] [--budget tiny] [--baseline] [--moodle 3]
    .venv/bin/python benchmarks/grading.py --moodle 0 --against ../older [--rounds 3]

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.check.sandbox import bwrap_problem
from drlab.cli import main as drlab_main

SOLUTION = Path(__file__).resolve().parents[1] / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"


def options(jobs: int, budget: str, seed: int, timeout: float) -> list[str]:
    """The options every grading of the benchmark is run with."""
    return ["--jobs", str(jobs), "--budget", budget, "--seed", str(seed), "--timeout", str(timeout)]


def plain_args(folder: Path, scores: Path, opts: list[str]) -> list[str]:
    """``drlab check tp1 FOLDER --csv SCORES``: a plain grading."""
    return ["check", "tp1", str(folder), "--csv", str(scores), *opts]


def moodle_args(submissions: Path, worksheet: Path, out: Path, opts: list[str]) -> list[str]:
    """``drlab check tp1 ZIP --moodle WORKSHEET --out DIR``: the Moodle round trip."""
    return ["check", "tp1", str(submissions), "--moodle", str(worksheet), "--out", str(out), *opts]


def grade(folder: Path, opts: list[str]) -> dict[str, Any]:
    """Grade every notebook of ``folder`` once; the wall time, the exit code and the scores."""
    scores = folder.parent / f"scores-jobs{opts[opts.index('--jobs') + 1]}.csv"
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = drlab_main(plain_args(folder, scores, opts))
    seconds = time.perf_counter() - started
    with open(scores, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "seconds": round(seconds, 1),
        "exit_code": code,
        "notebooks": len(rows),
        "per_minute": round(60 * len(rows) / seconds, 2),
        "scores": sorted({f"{row['score']}/{row['max_score']}" for row in rows}),
        "sandbox": sorted({row["sandbox"] for row in rows}),
    }


def moodle_class(folder: Path, scratch: Path) -> tuple[Path, Path]:
    """The notebooks of ``folder`` as Moodle's submissions zip (in folders) and its English worksheet."""
    submissions, worksheet = scratch / "submissions.zip", scratch / "worksheet.csv"
    rows = ["Identifier,Grade,Maximum grade,Last modified (grade),Feedback comments"]
    with zipfile.ZipFile(submissions, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, path in enumerate(sorted(folder.glob("*.ipynb")), start=1000):
            archive.write(path, f"Student {number}_{number}_assignsubmission_file/{path.name}")
            rows.append(f'"Participant {number}",,100.00,-,')
    worksheet.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    return submissions, worksheet


def round_trip(submissions: Path, worksheet: Path, out: Path, opts: list[str]) -> float:
    """Seconds of one Moodle round trip in this process (a fresh ``out``)."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        drlab_main(moodle_args(submissions, worksheet, out, opts))
    return round(time.perf_counter() - started, 1)


def process_seconds(command: list[str], scores: Path, out: Path) -> float:
    """Seconds of one whole ``drlab`` process (its output kept out of the benchmark's), from no ``scores``
    file and no ``out`` folder, as every grading starts."""
    scores.unlink(missing_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def alternate(runs: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each run's seconds, ``rounds`` times, the runs one after the other in each round: a drift of the
    machine's load hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
        print("  ".join(f"{name} {seconds[-1]} s" for name, seconds in times.items()), flush=True)
    return times


def over(times: dict[str, list[float]], base: str, names: tuple[str, ...]) -> dict[str, float]:
    """The ratio of each of ``names``' median time to ``base``'s."""
    return {name: round(statistics.median(times[name]) / statistics.median(times[base]), 3) for name in names}


def against_older(older: Path, folder: Path, scratch: Path, rounds: int, opts: list[str]) -> dict[str, Any]:
    """The older checkout's plain grading, alternated with this one's plain grading and round trip, each
    a whole ``drlab`` process."""
    submissions, worksheet = moodle_class(folder, scratch)
    scores, graded = scratch / "scores.csv", scratch / "graded"
    plain, moodle = plain_args(folder, scores, opts), moodle_args(submissions, worksheet, graded, opts)
    commands = {
        "older_plain": [str(older / ".venv" / "bin" / "python"), "-m", "drlab", *plain],
        "plain": [sys.executable, "-m", "drlab", *plain],
        "moodle": [sys.executable, "-m", "drlab", *moodle],
    }
    runs = {
        name: functools.partial(process_seconds, command, scores, graded)
        for name, command in commands.items()
    }
    times = alternate(runs, rounds)
    return {
        "older": {"commit": record.commit(older), "path": str(older)},
        "seconds": times,
        "over_older": over(times, "older_plain", ("plain", "moodle")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=30, help="notebooks in the class (default 30)")
    parser.add_argument("--jobs", type=int, default=2, help="sandboxes at a time (default 2)")
    parser.add_argument("--budget", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1200.0, help="--timeout of each notebook (s)")
    parser.add_argument("--baseline", action="store_true", help="also grade the class with --jobs 1")
    record.add_save_option(parser)
    parser.add_argument(
        "--moodle", type=int, default=0, metavar="R",
        help="also time R Moodle round trips of the class, alternated with R plain gradings",
    )  # fmt: skip
    parser.add_argument(
        "--against", type=Path, metavar="OLDER",
        help="also grade the class with the drlab of the checkout OLDER (its .venv), alternated with this one",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of --against (default 3)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.jobs < 1 or args.rounds < 1:
        parser.error("--count, --jobs and --rounds must be ≥ 1")
    if args.against is not None and not (args.against / ".venv" / "bin" / "python").is_file():
        parser.error(f"{args.against} has no .venv/bin/python: set it up first (bash setup.sh --dev there)")

    with tempfile.TemporaryDirectory(prefix="drlab-grading-") as scratch:
        folder = Path(scratch) / "submissions"
        folder.mkdir()
        for index in range(args.count):
            shutil.copyfile(SOLUTION, folder / f"student_{index:02d}.ipynb")
        opts = options(args.jobs, args.budget, args.seed, args.timeout)
        result: dict[str, Any] = {
            "count": args.count,
            "budget": args.budget,
            "sandboxed": bwrap_problem() is None,
            "cpus": os.cpu_count(),
            "parallel": grade(folder, opts),
        }
        result["parallel"]["jobs"] = args.jobs
        print(f"--jobs {args.jobs}: {json.dumps(result['parallel'])}", flush=True)
        if args.baseline:
            result["baseline"] = grade(folder, options(1, args.budget, args.seed, args.timeout))
            result["speedup"] = round(result["baseline"]["seconds"] / result["parallel"]["seconds"], 2)
            print(f"--jobs 1: {json.dumps(result['baseline'])}", flush=True)
        if args.moodle > 0:
            submissions, worksheet = moodle_class(folder, Path(scratch))
            graded = Path(scratch) / "graded"
            times = alternate(
                {"plain": lambda: grade(folder, opts)["seconds"],
                 "moodle": lambda: round_trip(submissions, worksheet, graded, opts)},
                args.moodle,
            )  # fmt: skip
            result["moodle"] = {
                "plain_seconds": times["plain"], "moodle_seconds": times["moodle"],
                "moodle_over_plain": over(times, "plain", ("moodle",))["moodle"],
            }  # fmt: skip
        if args.against is not None:
            result["against"] = against_older(
                args.against.resolve(), folder, Path(scratch), args.rounds, opts
            )
    result["load_average"] = round(os.getloadavg()[0], 1)
    record.emit("grading", result, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
