"""What recording every file costs: a run folder's writes through its marker, against plain atomic writes.

A TP1 epoch writes its checkpoint and its history; through :class:`~drlab.common.rundir.RunDir` each
write also hashes the content (SHA-256) and saves the marker (a small file, flushed) before the rename.
The two ways are alternated, in one process, on the same disk; the figure is the ratio of the medians.

    .venv/bin/python benchmarks/runfolder.py                       # an 841 kB checkpoint (digits MLP)
    .venv/bin/python benchmarks/runfolder.py --size 40000000       # a DQN checkpoint with a full buffer

The last line printed is ``RESULT {json}``; ``--save`` keeps it under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import record  # benchmarks/record.py: the RESULT line and --save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=841_000, help="checkpoint bytes (default: 841,000)")
    parser.add_argument("--repeats", type=int, default=40, help="alternated rounds (default: 40)")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    record.add_save_option(parser)
    args = parser.parse_args()

    from drlab.common.io import write_bytes_atomic
    from drlab.common.rundir import claim_run_dir

    checkpoint, history = os.urandom(args.size), os.urandom(600)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        plain = Path(tmp) / "plain"
        plain.mkdir()
        recorded_seconds, plain_seconds = [], []
        with claim_run_dir(Path(tmp) / "run", "train") as run:
            for _ in range(args.repeats):
                start = time.perf_counter()
                run.write({"checkpoint.pt": checkpoint, "history.csv": history})
                recorded_seconds.append(time.perf_counter() - start)
                start = time.perf_counter()
                write_bytes_atomic(plain / "checkpoint.pt", checkpoint)
                write_bytes_atomic(plain / "history.csv", history)
                plain_seconds.append(time.perf_counter() - start)
    recorded, baseline = statistics.median(recorded_seconds), statistics.median(plain_seconds)
    print(f"an epoch's writes ({args.size:,} B checkpoint + history): recorded {recorded * 1e3:.1f} ms, "
          f"plain atomic {baseline * 1e3:.1f} ms (medians of {args.repeats} alternated rounds)")  # fmt: skip
    result = {"size": args.size, "recorded_ms": recorded * 1e3, "plain_ms": baseline * 1e3}
    record.emit("runfolder", {**result, "ratio": recorded / baseline}, args.save)


if __name__ == "__main__":
    main()
