"""Run directories: one folder per run, holding its resolved config, its history and its pictures.

A folder that already holds a run is never overwritten by accident: a new run there needs ``force``
(start over) or ``resume`` (continue it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from drlab.common.errors import UsageError

CONFIG_NAME = "config.json"


def prepare_run_dir(
    path: str | Path, *, resume: bool = False, force: bool = False, marker: str = CONFIG_NAME
) -> Path:
    """Create or check the run directory ``path`` and return it.

    - new or empty folder: created;
    - holds a run (``marker`` exists) and ``resume``: returned as is, for the caller to resume;
    - holds a run and ``force``: its previous contents are removed;
    - holds a run and neither: :class:`UsageError`, nothing touched;
    - ``resume`` but no run there: :class:`UsageError`.
    """
    run_dir = Path(path)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{run_dir} exists and is not a directory")
    holds_run = (run_dir / marker).is_file()
    if resume:
        if not holds_run:
            raise UsageError(f"--resume: {run_dir} holds no run to resume (no {marker})")
        return run_dir
    if holds_run:
        if not force:
            raise UsageError(
                f"{run_dir} already holds a run; pass --resume to continue it, --force to replace it, "
                "or choose another --out"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir
