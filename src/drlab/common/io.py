"""Atomic and safe file I/O: what a crash, a Ctrl-C or a malicious file can never break.

- Every file drlab writes goes to a temporary file *in the same directory*, is flushed to disk, then
  renamed over the target with :func:`os.replace` (atomic on POSIX and Windows). A reader sees the old
  file or the new one, never half of one.
- Checkpoints are read with ``torch.load(..., weights_only=True)``: a file that would run code when
  unpickled is refused, never executed. Exported weights are safetensors (no pickle at all).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from drlab.common.errors import UsageError

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, fsync it and rename it over ``path``.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and ``path`` is
    left exactly as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_csv_atomic(
    path: PathLike, rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None
) -> None:
    """Write a list of dicts as CSV (header from ``fieldnames`` or the first row) atomically."""
    names = list(fieldnames) if fieldnames is not None else (list(rows[0]) if rows else [])
    with atomic_write(path, "w", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_json(path: PathLike) -> Any:
    """Read a JSON file, turning a missing or malformed file into a one-line :class:`UsageError`."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths appear in metrics; turn them into plain JSON values
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> None:
    """``torch.save`` a checkpoint dict atomically.

    Keep it to tensors, numbers, strings, lists, dicts (and NumPy arrays converted to tensors) so that
    :func:`load_checkpoint` can read it back with ``weights_only=True``.
    """
    import torch

    with atomic_write(path, "wb") as handle:
        torch.save(dict(obj), handle)


def load_checkpoint(path: PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: pickled code is refused, never run.

    Raises :class:`UsageError` (one line) for a missing file, a file that is not a checkpoint, or a
    file that tries to unpickle arbitrary objects.
    """
    import pickle

    import torch

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{file}: no such checkpoint")
    try:
        obj = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"{file}: refused to load: it holds objects other than tensors and plain data "
            f"(weights_only=True; {first_line[:160]})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UsageError(
            f"{file}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:160]})"
        ) from exc
    if not isinstance(obj, dict):
        raise UsageError(f"{file}: not a drlab checkpoint (expected a dict, found {type(obj).__name__})")
    return obj


def save_weights(
    state_dict: Mapping[str, torch.Tensor], path: PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Export a model's weights as safetensors, atomically (contiguous CPU copies of each tensor)."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state_dict.items()}
    data = save(tensors, metadata=dict(metadata) if metadata else None)
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def load_weights(path: PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file into a state dict; a bad file is a one-line :class:`UsageError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{file}: no such weights file")
    try:
        return load_file(file, device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"{file}: not a readable safetensors file ({str(exc)[:160]})") from exc
