# ruff: noqa  (an attack on the grader, written as a student would: not project code)
# The notebook's process leaves at once: no report, no data (the old grader then scored only "runs").
import os

os._exit(0)
