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
from pathlib import Path
from typing import Any

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.check.sandbox import bwrap_problem
from drlab.cli import main as drlab_main

SOLUTION = Path(__file__).resolve().parents[1] / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"


def grade(folder: Path, jobs: int, budget: str, seed: int, timeout: float) -> dict[str, Any]:
    """Grade every notebook of ``folder`` once; the wall time, the exit code and the scores."""
    scores = folder.parent / f"scores-jobs{jobs}.csv"
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = drlab_main(
            ["check", "tp1", str(folder), "--csv", str(scores), "--jobs", str(jobs), "--budget", budget,
             "--seed", str(seed), "--timeout", str(timeout)]
        )  # fmt: skip
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


def round_trip(
    submissions: Path, worksheet: Path, out: Path, jobs: int, budget: str, seed: int, timeout: float
) -> float:
    """Seconds of one ``drlab check tp1 ZIP --moodle WORKSHEET --out DIR`` (a fresh DIR)."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        drlab_main(
            ["check", "tp1", str(submissions), "--moodle", str(worksheet), "--out", str(out), "--jobs", str(jobs),
             "--budget", budget, "--seed", str(seed), "--timeout", str(timeout)]
        )  # fmt: skip
    return time.perf_counter() - started


def process_seconds(command: list[str]) -> float:
    """Seconds of one whole ``drlab`` process (its output kept out of the benchmark's)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def against_older(
    older: Path, folder: Path, scratch: Path, rounds: int, options: list[str]
) -> dict[str, Any]:
    """The older checkout's plain grading, alternated with this one's plain grading and round trip."""
    submissions, worksheet = moodle_class(folder, scratch)
    scores, graded = scratch / "scores.csv", scratch / "graded"
    plain, moodle = ["check", "tp1", str(folder), "--csv", str(scores), *options], [
        "check", "tp1", str(submissions), "--moodle", str(worksheet), "--out", str(graded), *options
    ]  # fmt: skip
    commands = {
        "older_plain": [str(older / ".venv" / "bin" / "python"), "-m", "drlab", *plain],
        "plain": [sys.executable, "-m", "drlab", *plain],
        "moodle": [sys.executable, "-m", "drlab", *moodle],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):  # alternated: a drift of the machine's load hits all three alike
        for name, command in commands.items():
            scores.unlink(missing_ok=True)  # each grading starts from the same nothing
            shutil.rmtree(graded, ignore_errors=True)
            times[name].append(process_seconds(command))
        print("  ".join(f"{name} {seconds[-1]} s" for name, seconds in times.items()), flush=True)
    older_median = statistics.median(times["older_plain"])
    return {
        "older": {"commit": record.commit(older), "path": str(older)},
        "seconds": times,
        "over_older": {
            name: round(statistics.median(times[name]) / older_median, 3) for name in ("plain", "moodle")
        },
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
        result: dict[str, Any] = {
            "count": args.count,
            "budget": args.budget,
            "sandboxed": bwrap_problem() is None,
            "cpus": os.cpu_count(),
            "parallel": grade(folder, args.jobs, args.budget, args.seed, args.timeout),
        }
        result["parallel"]["jobs"] = args.jobs
        print(f"--jobs {args.jobs}: {json.dumps(result['parallel'])}", flush=True)
        if args.baseline:
            result["baseline"] = grade(folder, 1, args.budget, args.seed, args.timeout)
            result["speedup"] = round(result["baseline"]["seconds"] / result["parallel"]["seconds"], 2)
            print(f"--jobs 1: {json.dumps(result['baseline'])}", flush=True)
        if args.moodle > 0:
            submissions, worksheet = moodle_class(folder, Path(scratch))
            plain, moodle = [], []
            for _ in range(args.moodle):  # alternated: a drift of the machine's load hits both alike
                plain.append(grade(folder, args.jobs, args.budget, args.seed, args.timeout)["seconds"])
                moodle.append(round(round_trip(submissions, worksheet, Path(scratch) / "graded", args.jobs,
                                               args.budget, args.seed, args.timeout), 1))  # fmt: skip
                print(f"plain {plain[-1]} s, moodle round trip {moodle[-1]} s", flush=True)
            result["moodle"] = {
                "plain_seconds": plain, "moodle_seconds": moodle,
                "moodle_over_plain": round(statistics.median(moodle) / statistics.median(plain), 3),
            }  # fmt: skip
        if args.against is not None:
            options = ["--jobs", str(args.jobs), "--budget", args.budget, "--seed", str(args.seed),
                       "--timeout", str(args.timeout)]  # fmt: skip
            result["against"] = against_older(
                args.against.resolve(), folder, Path(scratch), args.rounds, options
            )
    result["load_average"] = round(os.getloadavg()[0], 1)
    record.emit("grading", result, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
