"""``drlab check tp1``: grade a TP1 notebook, or a folder of them, against the reference.

- :mod:`drlab.check.runner` runs a notebook in a fresh Jupyter kernel with a time limit, then one added
  cell that runs the checks in that kernel, and turns their one-line JSON answer into a report or a CSV;
- :mod:`drlab.check.tp1` holds the checks and the reference they compare with (it imports torch and
  runs inside the student's kernel);
- :mod:`drlab.check.cli` is the command line.
"""
