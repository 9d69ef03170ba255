"""The score sheet of ``--csv``: drlab's columns, kept up to date inside a file the instructor may edit too.

A grading never loses what the instructor added to the sheet. The rule, stated in ``--help``:

- a new file (or an empty one) gets drlab's columns, one row per notebook;
- an existing file must be a score sheet: a header with drlab's ``notebook`` and ``score`` columns
  (anything else — another gradebook, a file that is not UTF-8 text — is refused before any grading,
  and never touched);
- in it, drlab rewrites only *its own* columns (:func:`columns`) of the rows of the notebooks it grades,
  matched by the ``notebook`` cell; every other column (a final grade, comments), every other row (other
  students, late submissions graded another day) and their order stay as they are; a notebook without a
  row gets one at the end; a drlab column missing from the header is added at its end;
- the file keeps its delimiter (``,`` ``;`` or tab, as a spreadsheet saved it), its line endings, its
  byte-order mark and its permissions; it is replaced atomically after each notebook (a reader sees the
  old sheet or the new one), and re-read before each write, so that an edit made during a long grading
  is kept too.

Every cell drlab writes went through :func:`~drlab.check.report.spreadsheet_safe` (no control
character, no formula); the instructor's own cells are written back as they were read.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlab.common.io import atomic_write

#: the columns that make a file a drlab score sheet (with them, drlab may update it in place)
KEY = "notebook"
REQUIRED = (KEY, "score")
DELIMITERS = (",", ";", "\t")
BOM = b"\xef\xbb\xbf"
#: a score sheet larger than this is not read (a class of 1,000 notebooks is ~300 KB)
MAX_SHEET_BYTES = 64 << 20


class SheetError(ValueError):
    """Why a file cannot be a score sheet drlab updates (a one-line reason)."""


@dataclass
class Sheet:
    """A score sheet as read: its header, its rows (cells as text), and how the file was written."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    delimiter: str = ","
    newline: str = "\n"
    bom: bool = False
    mode: int | None = None
    """the file's permissions (kept when it is replaced); None: a new file gets the umask's"""
    signature: tuple[int, int, int] | None = None
    """(inode, size, modification time) when read: a change since means someone else wrote it"""


def read_sheet(path: Path) -> Sheet:
    """The score sheet at ``path`` (an empty :class:`Sheet` when there is no file or it is empty).

    Raises :class:`SheetError` when the file exists but is not a score sheet drlab may update.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return Sheet()
    except OSError as exc:
        raise SheetError(f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SheetError("is not a regular file")
        if info.st_size > MAX_SHEET_BYTES:
            raise SheetError(f"is {info.st_size >> 20} MiB: too large for a score sheet")
        raw = handle.read(MAX_SHEET_BYTES + 1)
    signature = (info.st_ino, info.st_size, info.st_mtime_ns)
    mode = stat.S_IMODE(info.st_mode)
    bom = raw.startswith(BOM)
    try:
        text = raw[len(BOM) :].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SheetError(
            "is not UTF-8 text, so drlab cannot update it without changing your data (a spreadsheet's "
            "“CSV UTF-8” format keeps it so); choose another name"
        ) from None
    if not text.strip():
        return Sheet(bom=bom, mode=mode, signature=signature)
    first_line = text.splitlines()[0]
    newline = "\r\n" if text[len(first_line) : len(first_line) + 2] == "\r\n" else "\n"
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
        except csv.Error:
            continue
        if rows and all(name in rows[0] for name in REQUIRED):
            return Sheet(rows[0], rows[1:], delimiter, newline, bom, mode, signature)
    raise SheetError(
        "exists and is not a drlab score sheet (no “notebook” and “score” columns); choose another name "
        "(drlab never overwrites it)"
    )


def merge(sheet: Sheet, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Sheet:
    """``sheet`` with drlab's ``columns`` of ``rows`` written in: each row replaces the drlab cells of the
    first row with the same ``notebook`` cell, or is added at the end; nothing else changes."""
    header = list(sheet.header) or list(columns)
    header += [name for name in columns if name not in header]
    where = {name: header.index(name) for name in columns}
    merged = [list(row) for row in sheet.rows]
    first_row_of: dict[str, int] = {}
    for number, row in enumerate(merged):
        key = row[where[KEY]] if where[KEY] < len(row) else ""
        first_row_of.setdefault(key, number)
    for values in rows:
        key = str(values[KEY])
        if key in first_row_of:
            row = merged[first_row_of[key]]
        else:
            row = []
            first_row_of[key] = len(merged)
            merged.append(row)
        row.extend([""] * (len(header) - len(row)))  # a short row (a spreadsheet drops empty cells)
        for name in columns:
            row[where[name]] = "" if values.get(name) is None else str(values[name])
    return Sheet(header, merged, sheet.delimiter, sheet.newline, sheet.bom, sheet.mode, sheet.signature)


def render(sheet: Sheet) -> bytes:
    """The bytes of ``sheet``, written as it was read (delimiter, line endings, byte-order mark)."""
    newline = sheet.newline
    if newline == "\n" and any("\r" in cell for row in sheet.rows for cell in row):
        # Python quotes a cell holding a carriage return only when the line ending has one
        newline = "\r\n"
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=sheet.delimiter, lineterminator=newline)
    writer.writerow(sheet.header)
    writer.writerows(sheet.rows)
    return (BOM if sheet.bom else b"") + text.getvalue().encode("utf-8")


def update_sheet(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` (drlab's ``columns``) into the score sheet at ``path``, atomically, as the module
    says. Re-read just before: an edit of the file made since is merged, not overwritten (when the
    file changes again between the read and the rename, the merge is done once more)."""
    for attempt in range(3):
        sheet = read_sheet(path)
        data = render(merge(sheet, rows, columns))
        try:
            with atomic_write(path, "wb", permissions=sheet.mode) as handle:
                handle.write(data)
                if attempt < 2 and _signature(path) != sheet.signature:
                    raise _Changed  # written meanwhile: this temporary file is dropped, the merge redone
        except _Changed:
            continue
        return


class _Changed(Exception):
    pass


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)
