"""``drlab check tp1``: grade a TP1 notebook, or a class of them, where the student's code cannot reach.

- :mod:`drlab.check.sandbox` runs one notebook in its own bubblewrap sandbox and brings back data;
- :mod:`drlab.check.harvest` is what runs in there: the notebook's cells, then the student's functions
  on the grader's inputs (it decides nothing, and sends data and events, never sentences);
- :mod:`drlab.check.tp1` decides every check in the grader's process, against its reference and labels:
  one module per part of the notebook (TODO 1–4, the training cell), the checks listed in report order
  in :mod:`drlab.check.tp1.checks`;
- :mod:`drlab.check.messages` is the one message catalogue: every title, hint, sandbox event and report
  word, once in English and once in French, numbers in the reader's locale;
- :mod:`drlab.check.runner` grades a notebook, or a class in parallel; :mod:`drlab.check.report` turns
  the verdicts into reports and a score sheet; :mod:`drlab.check.cli` is the command line.
"""
