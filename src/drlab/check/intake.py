"""A class's submissions, from Moodle's "Download all submissions" zip or the folder it unpacks to.

The zip is untrusted input. Nothing in it is ever written under its own name: the one notebook graded per
student is copied, by a bounded read, to ``WORKDIR/NNN.ipynb``; every other entry is only listed. So a
name with ``../``, an absolute name, a link or a device cannot reach outside the working folder, and:

- a link, an unsafe name (``..``, absolute, a drive letter, a NUL) is skipped and listed;
- sizes are counted as the bytes come out, not taken from the headers: a notebook past 64 MiB or
  compressed more than :data:`MAX_RATIO` to 1 is a row with 0 that says why (a zip bomb); more than
  :data:`MAX_TOTAL_BYTES` of notebooks, or more than :data:`MAX_ENTRIES` entries, refuses the zip;
- names are decoded as the zip says (UTF-8 flag), else as UTF-8 when they are, else as cp437;
- a student with several notebooks gets the one :func:`pick_notebook` picks graded, the others listed;
- a student with none (a PDF, an online text, an empty folder) is a row with 0 that says so.

Who a file belongs to comes from Moodle's names (:func:`drlab.check.moodle.participant_of`); a zip or a
folder without them is a plain class: each notebook is its own submission.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from drlab.check.moodle import participant_of
from drlab.check.report import MAX_NOTEBOOK_BYTES
from drlab.common.errors import UsageError

#: a zip with more entries than this is refused (a Moodle class of 1,000 students with 10 files each fits)
MAX_ENTRIES = 20_000
#: the notebooks of a class, all together, may not decompress to more than this
MAX_TOTAL_BYTES = 4 << 30
#: a notebook compressed more than this many times is refused as a zip bomb (JSON notebooks: 3 to 20)
MAX_RATIO = 200
#: the exercise's notebooks: a submission with several notebooks prefers one whose name holds this
EXERCISE_HINT = "tp1"


@dataclass
class Submission:
    """One student's work: the notebook to grade (or why there is none) and what else was there."""

    key: str
    """how the reports name it: the notebook's path in the zip or folder, or the student's prefix"""
    participant: int | None
    """Moodle's participant number, when the names follow Moodle's"""
    label: str
    """the student's name as Moodle wrote it (or "Participant" under blind marking); the file name otherwise"""
    notebook: Path | None = None
    """the file to grade (a copy in the working folder, or the file in the submissions folder)"""
    problem: str = ""
    """why nothing is graded (no notebook, too large, a zip bomb…); empty when ``notebook`` is set"""
    other_notebooks: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """the student's other files (not notebooks), listed, never read"""


@dataclass
class Intake:
    """What a zip or folder of submissions holds."""

    submissions: list[Submission]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(name, why): entries skipped for safety or because they belong to nobody"""
    moodle: bool = False
    """whether the names follow Moodle's (participant numbers known)"""


@dataclass
class _Entry:
    name: str
    size: int
    compressed: int
    mtime: tuple[int, ...]
    info: zipfile.ZipInfo | None = None
    path: Path | None = None


def read_submissions(source: Path, workdir: Path) -> Intake:
    """The submissions in ``source`` (a .zip, or a folder), their chosen notebooks copied into ``workdir``
    for a zip; :class:`UsageError` for a zip that cannot be read or is too large."""
    if source.is_symlink():
        raise UsageError(f"{source}: a symbolic link; give the zip or the folder itself")
    if source.is_dir():
        entries, skipped = _folder_entries(source)
        return _gather(entries, skipped, lambda entry, index: (entry.path, ""))
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{source}: not a zip file Moodle wrote ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UsageError(
                f"{source}: {len(infos):,} entries, more than a class's submissions (at most {MAX_ENTRIES:,})"
            )
        entries, skipped = _zip_entries(infos)
        budget = _Budget(MAX_TOTAL_BYTES)

        def extract(entry: _Entry, index: int) -> tuple[Path | None, str]:
            target = workdir / f"{index:04d}.ipynb"
            problem = _extract(archive, entry, target, budget)
            if budget.left < 0:
                raise UsageError(
                    f"{source}: its notebooks decompress to more than {MAX_TOTAL_BYTES >> 30} GiB; refused"
                )
            return (None, problem) if problem else (target, "")

        return _gather(entries, skipped, extract)


def _decoded_name(info: zipfile.ZipInfo) -> str:
    """The entry's name: as the UTF-8 flag says; without it, UTF-8 when the bytes are, else cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")  # zipfile decoded the raw bytes as cp437: undo it
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return info.filename


def unsafe_reason(name: str) -> str | None:
    """Why an entry name may not be used as a path: absolute, a drive, ``..``, a NUL; else ``None``."""
    if "\x00" in name:
        return "a NUL character in its name"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute name"
    if ".." in parts:
        return "a name that climbs out of its folder (..)"
    return None


def _zip_entries(infos: list[zipfile.ZipInfo]) -> tuple[list[_Entry], list[tuple[str, str]]]:
    entries, skipped = [], []
    for info in infos:
        name = _decoded_name(info)
        kind = stat.S_IFMT(
            info.external_attr >> 16
        )  # 0 when the zip (Windows, some PHP writers) says nothing
        if info.is_dir() or kind == stat.S_IFDIR:
            continue
        reason = unsafe_reason(name)
        if reason is None and kind == stat.S_IFLNK:
            reason = "a symbolic link"
        elif reason is None and kind not in (0, stat.S_IFREG):
            reason = "not a regular file"
        if reason is not None:
            skipped.append((name, reason))
            continue
        entries.append(
            _Entry(name.replace("\\", "/"), info.file_size, info.compress_size, info.date_time, info=info)
        )
    return entries, skipped


def _folder_entries(folder: Path) -> tuple[list[_Entry], list[tuple[str, str]]]:
    entries, skipped = [], []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files) + [d for d in dirs if (Path(root) / d).is_symlink()]:
            path = Path(root) / name
            # a name that is not UTF-8 (bytes from another system) is shown with U+FFFD, read by its real path
            relative = (
                path.relative_to(folder)
                .as_posix()
                .encode("utf-8", "surrogateescape")
                .decode("utf-8", "replace")
            )
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                skipped.append((relative, "a symbolic link"))
            elif not stat.S_ISREG(info.st_mode):
                skipped.append((relative, "not a regular file"))
            else:
                entries.append(_Entry(relative, info.st_size, info.st_size, (int(info.st_mtime),), path=path))
    return entries, skipped


def _hidden(name: str) -> bool:
    """Moodle's importer ignores names starting with '.' or '~'; Jupyter's checkpoints and macOS's
    resource forks are copies, not submissions."""
    parts = name.split("/")
    return any(part.startswith((".", "~")) for part in parts) or parts[0] == "__MACOSX"


def _gather(
    entries: list[_Entry],
    skipped: list[tuple[str, str]],
    fetch: Callable[[_Entry, int], tuple[Path | None, str]],
) -> Intake:
    moodle = any(participant_of(entry.name) is not None for entry in entries)
    groups: dict[str, list[_Entry]] = {}
    heads: dict[str, tuple[int | None, str]] = {}
    for entry in entries:
        if _hidden(entry.name):
            skipped.append((entry.name, "a hidden file or a checkpoint copy"))
            continue
        if moodle:
            who = participant_of(entry.name)
            if who is None:
                skipped.append((entry.name, "not in a participant's folder"))
                continue
            key = f"{who.label}_{who.number}"
            heads[key] = (who.number, who.label)
        else:
            if not entry.name.lower().endswith(".ipynb"):
                skipped.append((entry.name, "not a notebook"))
                continue
            key = entry.name
            heads[key] = (None, PurePosixPath(entry.name).name)
        groups.setdefault(key, []).append(entry)
    submissions = []
    for index, (key, group) in enumerate(sorted(groups.items())):
        number, label = heads[key]
        notebooks = [entry for entry in group if entry.name.lower().endswith(".ipynb")]
        submission = Submission(key=key, participant=number, label=label)
        submission.ignored = [entry.name for entry in group if entry not in notebooks]
        if not notebooks:
            shown = ", ".join(PurePosixPath(name).name for name in submission.ignored[:5])
            submission.problem = "no notebook (.ipynb) in the submission" + (
                f" (it holds: {shown})" if shown else ""
            )
        else:
            chosen = pick_notebook(notebooks)
            submission.key = chosen.name
            submission.other_notebooks = [entry.name for entry in notebooks if entry is not chosen]
            submission.notebook, submission.problem = fetch(chosen, index)
        submissions.append(submission)
    return Intake(submissions=submissions, skipped=skipped, moodle=moodle)


def pick_notebook(notebooks: list[_Entry]) -> _Entry:
    """The notebook graded when a student handed in several: those whose file name holds "tp1" (any case)
    first, then the most recently modified, then the first by name. The others are listed, not graded."""

    def rank(entry: _Entry) -> tuple[bool, tuple[int, ...], str]:
        named = EXERCISE_HINT in PurePosixPath(entry.name).name.lower()
        return (not named, tuple(-part for part in entry.mtime), entry.name)

    return min(notebooks, key=rank)


@dataclass
class _Budget:
    left: int
    """bytes of notebooks the class may still decompress to"""


def _extract(archive: zipfile.ZipFile, entry: _Entry, target: Path, budget: _Budget) -> str:
    """Copy one notebook out of the zip with a bounded read; the reason it is refused, or ""."""
    info = entry.info
    assert info is not None
    if info.flag_bits & 0x1:
        return "an encrypted zip entry: not read"
    if entry.size > MAX_NOTEBOOK_BYTES:
        return (
            f"{entry.size / 2**20:.0f} MiB: too large for a notebook (at most {MAX_NOTEBOOK_BYTES >> 20} MiB)"
        )
    if entry.size > (1 << 20) and entry.size > MAX_RATIO * max(entry.compressed, 1):
        return f"compressed {entry.size // max(entry.compressed, 1):,} to 1: refused as a zip bomb"
    written = 0
    try:
        with archive.open(info) as source, open(target, "xb") as out:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                budget.left -= len(chunk)
                # the header may lie: the bytes that come out decide
                if written > MAX_NOTEBOOK_BYTES or written > MAX_RATIO * max(entry.compressed, 1) + (1 << 20):
                    out.close()
                    target.unlink()
                    return "it decompresses past its stated size: refused as a zip bomb"
                if budget.left < 0:
                    out.close()
                    target.unlink()
                    return "the class's notebooks are too large together"
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        return f"a damaged zip entry ({type(exc).__name__}: {str(exc)[:120]})"
    return ""


__all__ = [
    "EXERCISE_HINT",
    "MAX_ENTRIES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "Intake",
    "Submission",
    "pick_notebook",
    "read_submissions",
    "unsafe_reason",
]
