"""Atomic and safe file I/O: what a crash, a Ctrl-C or a malicious file can never break.

- Every file drlab writes goes to a temporary file *in the same directory*, is flushed to disk, then
  renamed over the target with :func:`os.replace` (atomic on POSIX and Windows). A reader sees the old
  file or the new one, never half of one.
- The file gets the permissions ``open()`` would give it (``0o666`` minus the umask), not the private
  ``0o600`` of a temporary file: a teammate or a web server may read a run folder.
- A full disk (``ENOSPC``), a quota (``EDQUOT``) or a file-size limit (``EFBIG``) while writing is one
  :class:`DrlabError` that says the previous version of the file is intact (it is: nothing was renamed).
- Checkpoints are read with ``torch.load(..., weights_only=True)``: a file that would run code when
  unpickled is refused, never executed. They carry the SHA-256 of their content, checked on load: a
  damaged checkpoint is refused with one line, never resumed from. Exported weights are safetensors
  (no pickle at all).
- JSON is strict (RFC 8259): NaN and ±Infinity are written as ``null``, which every parser reads.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from drlab.common.errors import DrlabError, UsageError

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]


#: the write errors that mean "no room": the world failed, not drlab, and the old file survived
_NO_ROOM = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file is larger than allowed here"}
if hasattr(errno, "EDQUOT"):
    _NO_ROOM[errno.EDQUOT] = "the disk quota is exhausted"


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but drlab writes from one thread)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(
    path: PathLike, mode: str = "wb", encoding: str | None = None, *, permissions: int | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, fsync it and rename it over ``path``.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and ``path`` is
    left exactly as it was. The new file gets ``0o666 & ~umask``, as ``open(path, "w")`` would, or
    ``permissions`` (a file's own, kept when it is replaced: a private file stays private).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX (Windows has no modes to set)
            # mkstemp creates 0o600: private to its owner
            os.fchmod(fd, 0o666 & ~current_umask() if permissions is None else permissions)
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        no_room = no_room_error(exc, target, kept=target.exists())
        if no_room is not None:
            raise no_room from None
        raise


def no_room_error(exc: BaseException, target: Path, *, kept: bool) -> DrlabError | None:
    """The one-line error for a write of ``target`` that failed because the disk is full (``None``
    if ``exc`` says something else); ``kept``: whether the previous version of ``target`` is intact."""
    reason = _no_room(exc)
    if reason is None:
        return None
    what = f"the previous {target.name} is intact" if kept else "nothing was written"
    return DrlabError(f"could not write {target}: {reason}; {what}")


def _no_room(exc: BaseException) -> str | None:
    """Why the disk refused, if ``exc`` (or an error it was raised from, as a writer may wrap it) says so."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain: torch's zip writer turns EFBIG into a RuntimeError
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in _NO_ROOM:
            return _NO_ROOM[seen.errno]
        seen = seen.__cause__ or seen.__context__
    return None


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN and ±Infinity replaced by ``None`` (``null``): JSON has no such numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: strict_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(value) for value in obj]
    if hasattr(obj, "tolist"):  # NumPy scalars and arrays
        return strict_json(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def dumps_json(obj: Any, *, indent: int | None = None) -> str:
    """Strict JSON text of ``obj`` (NaN and ±Infinity become ``null``), for files and ``--json`` output."""
    return json.dumps(
        strict_json(obj), indent=indent, sort_keys=False, allow_nan=False, default=_json_default
    )


def json_bytes(obj: Any) -> bytes:
    """The content of a JSON file of ``obj``: indented, strict (NaN and ±Infinity become ``null``)."""
    return (dumps_json(obj, indent=2) + "\n").encode("utf-8")


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON to ``path`` atomically."""
    write_bytes_atomic(path, json_bytes(obj))


def csv_bytes(rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None) -> bytes:
    """The content of a CSV file of a list of dicts (header from ``fieldnames`` or the first row)."""
    names = list(fieldnames) if fieldnames is not None else (list(rows[0]) if rows else [])
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_csv_atomic(
    path: PathLike, rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None
) -> None:
    """Write a list of dicts as CSV (header from ``fieldnames`` or the first row) atomically."""
    write_bytes_atomic(path, csv_bytes(rows, fieldnames))


def read_json(path: PathLike) -> Any:
    """Read a JSON file, turning a missing or malformed file into a one-line :class:`UsageError`."""
    require_regular_file(path, "file")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: not valid JSON ({type(exc).__name__})") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def require_regular_file(path: PathLike, what: str) -> Path:
    """``path`` if it is a regular file (or a link to one); else a one-line :class:`UsageError`.

    Checked *before* opening: opening a FIFO blocks until a writer comes, and ``/dev/zero`` never ends.
    """
    file = Path(path)
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{file}: no such {what}") from None
    except OSError as exc:  # a path under a file, a loop of links, no permission
        raise UsageError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{file}: is a folder, not {'an' if what[0] in 'aeiou' else 'a'} {what}")
    if not stat.S_ISREG(mode):
        raise UsageError(
            f"{file}: not a regular file (a FIFO, a device or a socket); expected {'an' if what[0] in 'aeiou' else 'a'} {what}"
        )
    return file


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths appear in metrics; turn them into plain JSON values
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


#: the envelope of a checkpoint: the ``torch.save`` bytes of the state, and their SHA-256
CHECKPOINT_FORMAT = "drlab-checkpoint/1"


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> None:
    """``torch.save`` a checkpoint dict atomically, with the SHA-256 of its content (see
    :func:`checkpoint_bytes`). A disk that fills up mid-write is a one-line :class:`DrlabError` saying
    that the previous checkpoint is intact.
    """
    write_bytes_atomic(path, checkpoint_bytes(obj))


def checkpoint_bytes(obj: Mapping[str, Any]) -> bytes:
    """The content of a checkpoint file of the dict ``obj``, with the SHA-256 of its content.

    Keep it to tensors, numbers, strings, lists, dicts (and NumPy arrays converted to tensors) so that
    :func:`load_checkpoint` can read it back with ``weights_only=True``. The file stays a plain torch
    file (``torch.load(path, weights_only=True)`` opens it): a dict ``{"format", "sha256", "payload"}``
    whose payload holds the state's own ``torch.save`` bytes.
    """
    import torch

    state = io.BytesIO()
    torch.save(dict(obj), state)
    payload = state.getbuffer()
    envelope = {
        "format": CHECKPOINT_FORMAT,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
    }
    whole = io.BytesIO()  # serialised in memory first: the file sees plain writes, and a full disk
    torch.save(envelope, whole)  # is a plain OSError, not torch's zip writer failing half-way
    return whole.getvalue()


def load_checkpoint(path: PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` after checking its SHA-256: pickled code is refused,
    never run, and a damaged file is refused, never resumed from.

    Raises :class:`UsageError` (one line naming the file) for a missing file, a file that is not a
    drlab checkpoint, a checksum mismatch, or a file that tries to unpickle arbitrary objects.
    """
    import torch

    file = require_regular_file(path, "checkpoint")
    envelope = _torch_load(file, file, "cpu")
    if not isinstance(envelope, dict) or envelope.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(
            f"{file}: not a drlab checkpoint (no {CHECKPOINT_FORMAT} checksum; written by something else "
            "or by an older drlab)"
        )
    payload, expected = envelope.get("payload"), envelope.get("sha256")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8 or not isinstance(expected, str):
        raise UsageError(f"{file}: damaged checkpoint (its envelope is incomplete)")
    content = payload.numpy().tobytes()
    if hashlib.sha256(content).hexdigest() != expected:
        raise UsageError(
            f"{file}: damaged checkpoint (its SHA-256 does not match its content); it cannot be resumed "
            "from: start over with --force, or restore the file from a copy"
        )
    obj = _torch_load(io.BytesIO(content), file, map_location)
    if not isinstance(obj, dict):
        raise UsageError(f"{file}: not a drlab checkpoint (expected a dict, found {type(obj).__name__})")
    return obj


def _torch_load(source: Path | io.BytesIO, file: Path, map_location: str | torch.device | None) -> Any:
    """``torch.load(weights_only=True)``, every failure a one-line :class:`UsageError` naming ``file``."""
    import pickle

    import torch

    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"{file}: refused to load: it holds objects other than tensors and plain data "
            f"(weights_only=True; {first_line[:160]})"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a damaged zip or pickle fails in many ways (RuntimeError, KeyError, …)
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(
            f"{file}: not a readable checkpoint ({type(exc).__name__}: {first_line[:160]})"
        ) from exc


def save_weights(
    state_dict: Mapping[str, torch.Tensor], path: PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Export a model's weights as safetensors, atomically (see :func:`weights_bytes`)."""
    write_bytes_atomic(path, weights_bytes(state_dict, metadata))


def weights_bytes(state_dict: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The content of a safetensors file of a model's weights (contiguous CPU copies of each tensor)."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state_dict.items()}
    return save(tensors, metadata=dict(metadata) if metadata else None)


_Model = TypeVar("_Model", bound="torch.nn.Module")


def load_model_weights(build: Callable[[], _Model], path: PathLike, what: str) -> _Model:
    """``build()``'s model holding the weights of the safetensors file ``path``; else a one-line
    :class:`UsageError` naming the first tensor that does not fit ``what`` (the model's name).

    The model is first built on PyTorch's ``meta`` device, which holds shapes and no numbers: a
    config whose sizes do not match the file (a ``config.json`` edited to ask for billions of weights)
    is refused before any memory is taken, not after minutes of allocation.
    """
    import torch

    weights = load_weights(path)
    with torch.device("meta"):
        skeleton = build()
    expected = {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    found = {name: tuple(tensor.shape) for name, tensor in weights.items()}
    if expected != found:
        name = next(n for n in [*expected, *found] if expected.get(n) != found.get(n))
        raise UsageError(
            f"{path}: these weights do not fit {what} ({name} is {found.get(name, 'missing')} in the file, "
            f"{expected.get(name, 'not a weight')} for the model)"
        )
    model = build()
    model.load_state_dict(weights)
    return model


def load_weights(path: PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file into a state dict; a bad file is a one-line :class:`UsageError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = require_regular_file(path, "weights file")
    try:
        return load_file(file, device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"{file}: not a readable safetensors file ({str(exc)[:160]})") from exc
