"""TP1's training engine: the four-step loop, its metrics, its run directory and its pictures.

``drlab.train.config`` is torch-free (the CLI imports it); import the heavier pieces from their modules:
:mod:`drlab.train.trainer` (``train_one_epoch``, ``evaluate``, ``fit``), :func:`drlab.train.run.train`,
:mod:`drlab.train.evaluation` (``drlab evaluate``/``predict``), :mod:`drlab.train.distributed`,
:mod:`drlab.train.metrics`, :mod:`drlab.train.plots`, :mod:`drlab.train.predict`.
"""
