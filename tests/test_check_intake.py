"""Moodle's submissions zip is untrusted input: path escapes, links, zip bombs, lying headers, names in any
encoding, several notebooks per student, folders with names that are not UTF-8. Each case is skipped and
listed, a row with 0 that says why, or refused in one line; nothing outside the run folder changes.

The grading is stood in for (``stub_grading``, tests/_moodle_class.py): these tests are about what is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from _moodle_class import make_class, notebook, read_scores, run, stub_grading, write_submissions_zip
from drlab.check import intake

__all__ = ["stub_grading"]  # a fixture, imported for the tests below


def _tree(root: Path, skip: Path) -> dict[str, str]:
    """Every path under ``root`` (but ``skip``) with a hash of its content: what a run may not change."""
    listing = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        listing[str(path)] = (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else "-"
        )
    return listing


def _entry(
    name: str, data: bytes, *, mode: int = 0o100644, utf8: bool = True
) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name, date_time=(2025, 1, 6, 10, 14, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, data


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return path


GOOD = "Ann Lee_1_assignsubmission_file/tp1.ipynb"


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (_entry("../../escape.ipynb", b"{}"), "a name that climbs out"),
        (_entry("Bo_2_assignsubmission_file/../../../escape.ipynb", b"{}"), "a name that climbs out"),
        (_entry("/tmp/absolute.ipynb", b"{}"), "an absolute name"),
        (_entry("C:\\Windows\\x.ipynb", b"{}"), "an absolute name"),
        (
            _entry("Bo_2_assignsubmission_file/tp1.ipynb", b"/etc/passwd", mode=stat.S_IFLNK | 0o777),
            "a symbolic link",
        ),
        (
            _entry("Bo_2_assignsubmission_file/fifo.ipynb", b"", mode=stat.S_IFIFO | 0o644),
            "not a regular file",
        ),
    ],
)
def test_hostile_entries_are_skipped_and_listed_and_nothing_escapes(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str],
    entry: tuple[zipfile.ZipInfo, bytes], why: str,
) -> None:  # fmt: skip
    zip_path = _zip(tmp_path / "s.zip", [_entry(GOOD, notebook()), entry])
    before = _tree(tmp_path.parent, tmp_path / "graded")
    assert run(str(zip_path), "--out", str(tmp_path / "graded")) in (0, 1)
    assert _tree(tmp_path.parent, tmp_path / "graded") == before  # nothing outside graded/ changed
    err = capsys.readouterr().err
    assert f"({why}" in err and len([line for line in err.splitlines() if "skipped" in line]) == 1
    assert [path.name for path in stub_grading] == ["0000.ipynb"]  # only Ann's notebook, copied, was graded
    report = (tmp_path / "graded" / "report.html").read_text(encoding="utf-8")
    assert why in report


def test_a_zip_bomb_is_a_row_with_0_that_says_why(tmp_path: Path, stub_grading: list[Path]) -> None:
    bomb = (
        b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "'
        + b" " * (40 << 20)
        + b'"}'
    )
    zip_path = _zip(
        tmp_path / "s.zip", [_entry(GOOD, notebook()), _entry("Bo_2_assignsubmission_file/tp1.ipynb", bomb)]
    )
    assert run(str(zip_path), "--out", str(tmp_path / "graded")) in (0, 1)
    rows = read_scores(tmp_path / "graded" / "scores.csv")
    bo = rows["Bo_2_assignsubmission_file/tp1.ipynb"]
    assert bo["score"] == "0" and bo["status"] == "unreadable" and "zip bomb" in bo["first_problem"]
    assert len(stub_grading) == 1


def test_a_header_that_lies_about_the_size_is_caught_as_the_bytes_come_out(tmp_path: Path) -> None:
    real = b"{" + b" " * (5 << 20) + b"}"
    path = _zip(tmp_path / "s.zip", [_entry("Bo_2_assignsubmission_file/tp1.ipynb", real)])
    data = bytearray(path.read_bytes())
    size = len(real).to_bytes(4, "little")
    for offset in [i for i in range(len(data) - 3) if data[i : i + 4] == size]:
        data[offset : offset + 4] = (1000).to_bytes(
            4, "little"
        )  # local header and central directory: 1000 bytes
    path.write_bytes(bytes(data))
    (tmp_path / "work").mkdir()
    found = intake.read_submissions(path, tmp_path / "work")
    assert (
        found.submissions[0].notebook is None and found.submissions[0].problem
    )  # refused, not 5 MiB written
    assert not any((tmp_path / "work").iterdir())


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [("MAX_ENTRIES", 3, "entries"), ("MAX_TOTAL_BYTES", 1000, "decompress to more")],
)
def test_zips_too_large_for_a_class_are_refused_in_one_line(
    tmp_path: Path, stub_grading: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    limit: str, value: int, message: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(intake, limit, value)
    students, _ = make_class(4)
    zip_path = write_submissions_zip(tmp_path / "s.zip", students)
    assert run(str(zip_path), "--out", str(tmp_path / "graded")) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not stub_grading and not (tmp_path / "graded").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.zip").write_bytes(b"PK\x03\x04 but not really")
    assert run(str(tmp_path / "s.zip"), "--out", str(tmp_path / "graded")) == 2
    assert "not a zip file" in capsys.readouterr().err and not (tmp_path / "graded").exists()


def test_names_in_any_encoding(tmp_path: Path) -> None:
    """With the UTF-8 flag (ZipStream, Moodle ≥ 4.1), without it in UTF-8 (Linux and macOS zip tools) or in
    cp437 (old Windows tools): each name is read as its writer meant it."""
    raw_names = [
        "Léo Roy_4_assignsubmission_file/tp1.ipynb".encode(),  # UTF-8 bytes, no flag
        "Élise_5_assignsubmission_file/tp1.ipynb".encode("cp437"),  # cp437 bytes, no flag
    ]
    # zipfile flags every non-ASCII name: write ASCII stand-ins of the same length, then put the raw bytes in
    stand_ins = [bytes(b if b < 128 else ord("Q") for b in raw) for raw in raw_names]
    path = _zip(
        tmp_path / "s.zip",
        [_entry("Zoé Petit_3_assignsubmission_file/tp1.ipynb", b"{}")]
        + [_entry(n.decode(), b"{}") for n in stand_ins],
    )
    data = path.read_bytes()
    for raw, stand_in in zip(raw_names, stand_ins, strict=True):
        assert data.count(stand_in) == 2  # the local header and the central directory
        data = data.replace(stand_in, raw)
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        assert [bool(info.flag_bits & 0x800) for info in archive.infolist()] == [True, False, False]
    (tmp_path / "w").mkdir()
    found = intake.read_submissions(path, tmp_path / "w")
    assert sorted(s.label for s in found.submissions) == ["Léo Roy", "Zoé Petit", "Élise"]


def test_several_notebooks_one_graded_by_the_stated_rule(tmp_path: Path) -> None:
    old = _entry("Ann_1_assignsubmission_file/tp1_v1.ipynb", b"{}")
    old[0].date_time = (2025, 1, 1, 0, 0, 0)
    entries = [
        old,
        _entry("Ann_1_assignsubmission_file/tp1_final.ipynb", b"{}"),  # newer, named like the exercise
        _entry("Ann_1_assignsubmission_file/scratch.ipynb", b"{}"),  # the newest, but not the exercise's name
        _entry("Ann_1_assignsubmission_file/.ipynb_checkpoints/tp1_final-checkpoint.ipynb", b"{}"),
        _entry("Ann_1_assignsubmission_file/notes.docx", b"x"),
        _entry("Bo_2_assignsubmission_onlinetext/onlinetext.html", b"<p>hi</p>"),
    ]
    entries[2][0].date_time = (2025, 2, 1, 0, 0, 0)
    (tmp_path / "w").mkdir()
    found = intake.read_submissions(_zip(tmp_path / "s.zip", entries), tmp_path / "w")
    ann, bo = found.submissions
    assert ann.key == "Ann_1_assignsubmission_file/tp1_final.ipynb"
    assert sorted(ann.other_notebooks) == [
        "Ann_1_assignsubmission_file/scratch.ipynb",
        "Ann_1_assignsubmission_file/tp1_v1.ipynb",
    ]
    assert ann.ignored == ["Ann_1_assignsubmission_file/notes.docx"]
    assert bo.notebook is None and "no notebook" in bo.problem and "onlinetext.html" in bo.problem
    assert any("checkpoint" in name for name, _ in found.skipped)


def test_a_folder_with_a_name_that_is_not_utf8(tmp_path: Path, stub_grading: list[Path]) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "ok.ipynb").write_bytes(notebook())
    with open(os.path.join(os.fsencode(folder), b"caf\xe9_latin1.ipynb"), "wb") as handle:  # not UTF-8
        handle.write(notebook("no eval()"))
    assert run(str(folder), "--out", str(tmp_path / "graded")) == 1
    scores = read_scores(tmp_path / "graded" / "scores.csv")
    assert (
        sorted(scores) == ["caf\ufffd_latin1.ipynb", "ok.ipynb"]
        and scores["caf\ufffd_latin1.ipynb"]["score"] == "13"
    )
