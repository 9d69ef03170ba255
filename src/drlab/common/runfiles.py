"""The files of a run, written one way for every kind of run (``drlab train``, ``drlab rl``), and the
folders of pictures a command drops its PNG files into (``drlab linreg --plot``, ``drlab graph --out``).

A run folder is claimed and marked by :mod:`drlab.common.rundir`; what goes into it is written here,
through the claimed folder: tables as CSV, records as strict JSON, figures as PNG, weights as
safetensors, checkpoints with their checksum. Every file is made in memory first, then written
atomically (temporary file + rename) with the umask's permissions and recorded in the folder's marker,
so that a crash leaves every file either whole or absent, and ``--force`` can tell it is drlab's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drlab.common.folders import (
    OUTPUTS_FORMAT,
    OUTPUTS_NAME,
    Dir,
    RecordedFolder,
    check_folder_path,
    make_folder,
)
from drlab.common.io import checkpoint_bytes, csv_bytes, json_bytes, weights_bytes
from drlab.common.plots import figure_bytes

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

Table = tuple[Sequence[Mapping[str, Any]], Sequence[str]]
"""rows and the column names of a CSV file"""
Weights = tuple[Mapping[str, "torch.Tensor"], Mapping[str, str] | None]
"""a state_dict and the safetensors metadata to store beside it"""


def write_run_files(
    run: RecordedFolder,
    *,
    weights: Mapping[str, Weights] | None = None,
    checkpoints: Mapping[str, Mapping[str, Any]] | None = None,
    tables: Mapping[str, Table] | None = None,
    records: Mapping[str, Any] | None = None,
    figures: Mapping[str, Figure] | None = None,
) -> list[str]:
    """Write ``{file name: content}`` into ``run``; return the names written, in order: weights,
    checkpoints, tables, records, figures.

    ``records`` become JSON files (NaN and infinities as ``null``, as strict parsers want), ``tables``
    CSV files, ``figures`` PNG files, ``weights`` safetensors files (no pickle: safe to share and to
    load), ``checkpoints`` drlab checkpoints (:func:`~drlab.common.io.load_checkpoint` reads them).
    Everything is made before the first file is written: a figure that cannot be drawn leaves no file.
    """
    contents: dict[str, bytes] = {}
    # the weights first: a run whose records exist but whose model is missing would look finished
    for name, (state_dict, metadata) in (weights or {}).items():
        contents[name] = weights_bytes(state_dict, metadata)
    for name, state in (checkpoints or {}).items():
        contents[name] = checkpoint_bytes(state)
    for name, (rows, fields) in (tables or {}).items():
        contents[name] = csv_bytes(rows, fields)
    for name, obj in (records or {}).items():
        contents[name] = json_bytes(obj)
    for name, figure in (figures or {}).items():
        contents[name] = figure_bytes(figure)
    return run.write(contents)


def inspect_output_folder(folder: str | Path, names: Iterable[str], *, option: str = "--out") -> Path:
    """Raise :class:`UsageError` unless ``names`` may be written into ``folder`` (see
    :func:`claim_output_folder`); touches nothing, for a command to call before it does any work."""
    out = check_folder_path(folder, option)
    if out.exists():
        view = RecordedFolder.open(Dir(out, follow=True), OUTPUTS_NAME, option, OUTPUTS_FORMAT)
        try:
            view.check_writable(names)
        finally:
            view.dir.close()
    return out


def claim_output_folder(folder: str | Path, names: Iterable[str], *, option: str = "--out") -> RecordedFolder:
    """The folder of the user's choosing where a command drops a few pictures (``drlab linreg --plot
    DIR``, ``drlab graph --out DIR``), made if needed and ready to write ``names``, or a one-line refusal
    before anything is touched.

    The folder may hold anything; a file drlab is about to write may only replace a file that the
    folder's record (``.drlab-files.json``) says drlab wrote there, unchanged since. Close it (or use
    it in a ``with`` block) to save the record.
    """
    wanted = list(dict.fromkeys(names))
    out = inspect_output_folder(folder, wanted, option=option)
    make_folder(out, option)
    opened = RecordedFolder.open(Dir(out, follow=True), OUTPUTS_NAME, option, OUTPUTS_FORMAT)
    try:
        opened.check_writable(wanted)  # again: the folder was opened anew
    except BaseException:
        opened.dir.close()
        raise
    if opened.legacy is not None:  # drlab 0.x's list of names: its files stay unproven, kept as they are
        opened.header = {"format": OUTPUTS_FORMAT}
    return opened
