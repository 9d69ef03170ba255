"""The files of a finished run, written one way for every kind of run (``drlab train``, ``drlab rl``).

A run folder is claimed and marked by :mod:`drlab.common.rundir`; what goes into it at the end is
written here: tables as CSV, records as strict JSON, figures as PNG, weights as safetensors, each file
atomically (temporary file + rename) with the umask's permissions, in the order given, so that a
crash leaves every file either whole or absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drlab.common.io import save_weights, write_csv_atomic, write_json_atomic
from drlab.common.plots import save_figure

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

Table = tuple[Sequence[Mapping[str, Any]], Sequence[str]]
"""rows and the column names of a CSV file"""
Weights = tuple[Mapping[str, "torch.Tensor"], Mapping[str, str] | None]
"""a state_dict and the safetensors metadata to store beside it"""


def write_run_files(
    run_dir: str | Path,
    *,
    records: Mapping[str, Any] | None = None,
    tables: Mapping[str, Table] | None = None,
    figures: Mapping[str, Figure] | None = None,
    weights: Mapping[str, Weights] | None = None,
) -> list[str]:
    """Write ``{file name: content}`` into ``run_dir``; return the names written, in order: weights,
    tables, records, figures.

    ``records`` become JSON files (NaN and infinities refused, as strict parsers do), ``tables`` CSV
    files, ``figures`` PNG files, ``weights`` safetensors files (no pickle: safe to share and to load).
    """
    run = Path(run_dir)
    written: list[str] = []
    # the weights first: a run whose records exist but whose model is missing would look finished
    for name, (state_dict, metadata) in (weights or {}).items():
        save_weights(state_dict, run / name, metadata=metadata)
        written.append(name)
    for name, (rows, fields) in (tables or {}).items():
        write_csv_atomic(run / name, rows, fieldnames=fields)
        written.append(name)
    for name, obj in (records or {}).items():
        write_json_atomic(run / name, obj)
        written.append(name)
    for name, figure in (figures or {}).items():
        save_figure(figure, run / name)
        written.append(name)
    return written
