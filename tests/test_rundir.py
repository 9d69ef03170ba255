"""Run folders and output folders: drlab writes only where it may, follows no link, deletes only what
it wrote (``--force``), and one run at a time.

The oracle is the file system itself: after each scenario, the user's files and the targets of the
links an attacker planted are byte for byte what they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drlab.common.errors import UsageError
from drlab.common.folders import OUTPUTS_NAME
from drlab.common.io import read_json, write_json_atomic
from drlab.common.rundir import MARKER_NAME, claim_run_dir, inspect_run_dir
from drlab.common.runfiles import claim_output_folder, inspect_output_folder
from drlab.common.runlock import LOCK_NAME

VICTIM = "three years of work\n"


def _written_run(path: Path, kind: str = "train", **files: bytes) -> Path:
    """A run folder with ``files`` written by drlab (through the claim, as every command writes)."""
    with claim_run_dir(path, kind, files=[]) as run:
        run.write({name.replace("__", "."): data for name, data in files.items()})
    return path


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- a new run, and what the marker records ------------------------------------------------------
def test_a_new_run_folder_is_marked_and_records_what_it_wrote(tmp_path: Path) -> None:
    with claim_run_dir(tmp_path / "run", "qlearning") as run:
        assert read_json(run.path / MARKER_NAME)["kind"] == "qlearning"
        assert (run.path / LOCK_NAME).is_file()  # held while the run writes
        run.write({"config.json": b"{}\n", "returns.csv": b"episode,return\n"})
    marker = read_json(run.path / MARKER_NAME)
    import hashlib

    assert marker["files"] == {
        "config.json": [{"size": 3, "sha256": hashlib.sha256(b"{}\n").hexdigest()}],
        "returns.csv": [{"size": 15, "sha256": hashlib.sha256(b"episode,return\n").hexdigest()}],
    }
    assert marker["temporary"] == [] and not (run.path / LOCK_NAME).exists()  # released and removed


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), claim_run_dir(tmp_path / "run", "train"):
        raise RuntimeError("the model does not fit on this device")
    assert not (tmp_path / "run").exists()


# --- --force deletes only what the previous run wrote and is still what it wrote ---------------------
def test_force_deletes_only_what_drlab_wrote_and_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _written_run(
        tmp_path / "run", config__json=b"{}", history__csv=b"epoch\n1\n", metrics__json=b'{"a": 1}'
    )
    with claim_run_dir(run, "train", resume=True, files=["tensorboard/"]) as claimed:
        events = claimed.folder("tensorboard") / "events.out.tfevents.1"
        events.write_bytes(b"drlab's events")
        claimed.record_folder("tensorboard")
    # the user's own files beside the run, and one of drlab's files edited since
    (run / "precious.txt").write_text(VICTIM)
    (run / "curves.png").write_text("my own figure")  # a name drlab uses, but drlab never wrote this one
    (run / "tensorboard" / "mine.txt").write_text(VICTIM)
    (run / "metrics.json").write_text('{"a": 1, "my note": "keep"}')
    # the new run would replace them: refused, and nothing deleted
    with pytest.raises(
        UsageError, match=r"metrics.json changed since drlab wrote it, so drlab will not delete"
    ):
        claim_run_dir(run, "train", force=True)
    (run / "metrics.json").rename(tmp_path / "metrics.json")
    with pytest.raises(UsageError, match=r"curves.png exists and drlab did not write it"):
        claim_run_dir(run, "train", force=True)
    assert (run / "config.json").exists() and (run / "tensorboard" / "events.out.tfevents.1").exists()
    (run / "curves.png").rename(tmp_path / "curves.png")
    (run / "metrics_val.json").write_text('{"mine": true}')  # a name only `drlab evaluate` writes
    (run / "history.csv").write_text("epoch\n1\n2\n")  # edited, and not one this new run writes
    capsys.readouterr()
    with claim_run_dir(run, "train", force=True, files=["config.json"]):
        pass
    assert _names(run) == [MARKER_NAME, "history.csv", "metrics_val.json", "precious.txt", "tensorboard"]
    assert _names(run / "tensorboard") == ["mine.txt"]  # drlab's events went, the user's file stayed
    assert (run / "precious.txt").read_text() == VICTIM
    assert read_json(run / MARKER_NAME)["files"] == {}
    assert "kept what changed since drlab wrote it" in capsys.readouterr().err  # and says so


def test_force_removes_the_folders_it_made_when_they_are_empty(tmp_path: Path) -> None:
    with claim_run_dir(tmp_path / "run", "train", files=["tensorboard/"]) as run:
        (run.folder("tensorboard") / "events").write_bytes(b"e")
        run.record_folder("tensorboard")
        run.write({"config.json": b"{}"})
    with claim_run_dir(tmp_path / "run", "train", force=True):
        pass
    assert _names(tmp_path / "run") == [MARKER_NAME]


def test_a_user_folder_named_like_drlab_s_is_not_written_into(tmp_path: Path) -> None:
    run = _written_run(tmp_path / "run", config__json=b"{}")
    (run / "tensorboard").mkdir()  # the user's, not drlab's: a --tensorboard run must not use it
    with pytest.raises(UsageError, match="tensorboard"):
        claim_run_dir(run, "train", force=True, files=["config.json", "tensorboard/"])
    with pytest.raises(UsageError, match="tensorboard is a folder that drlab did not make"):
        claim_run_dir(run, "train", resume=True, files=["tensorboard/"])
    assert (run / "config.json").exists()


def test_leftovers_of_a_killed_write_go_with_force_and_a_user_s_look_alike_stays(tmp_path: Path) -> None:
    run = _written_run(tmp_path / "run", config__json=b"{}")
    # a process killed mid-write: the marker records the temporary name before the file is created
    marker = read_json(run / MARKER_NAME)
    marker["temporary"] = [".checkpoint.pt.drlab-tmp"]
    write_json_atomic(run / MARKER_NAME, marker)
    (run / ".checkpoint.pt.drlab-tmp").write_bytes(b"half a checkpoint")
    (run / ".history.csv.drlab-tmp").write_text(VICTIM)  # not recorded: not drlab's
    with pytest.raises(UsageError, match=r"history\.csv\.drlab-tmp exists and drlab did not write it"):
        claim_run_dir(run, "train", force=True)  # this run would write history.csv: refused
    with claim_run_dir(run, "train", force=True, files=["config.json"]):
        pass
    assert _names(run) == sorted([".history.csv.drlab-tmp", MARKER_NAME])


def test_an_old_marker_without_content_is_never_acted_on(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / MARKER_NAME).write_text(
        json.dumps({"kind": "train", "files": ["config.json", "curves.png", "tensorboard/"]})
    )
    (run / "config.json").write_text("{}")
    (run / "curves.png").write_text("the user's own picture, or drlab's: nobody can tell")
    for flags in ({"force": True}, {"resume": True}, {}):
        with pytest.raises(UsageError, match="older drlab") as info:
            claim_run_dir(run, "train", **flags)
        assert "\n" not in str(info.value)
    assert _names(run) == [MARKER_NAME, "config.json", "curves.png"]


def test_a_damaged_marker_is_refused(tmp_path: Path) -> None:
    run = _written_run(tmp_path / "run", config__json=b"{}")
    (tmp_path / "notes.txt").write_text(VICTIM)
    marker = read_json(run / MARKER_NAME)
    marker["files"]["../notes.txt"] = marker["files"]["config.json"]  # aimed outside the run
    write_json_atomic(run / MARKER_NAME, marker)
    with pytest.raises(UsageError, match="damaged drlab record"):
        claim_run_dir(run, "train", force=True)
    assert (tmp_path / "notes.txt").read_text() == VICTIM


# --- no link is ever followed ------------------------------------------------------------------------
@pytest.mark.parametrize("dangling", [False, True])
def test_a_planted_lock_link_is_neither_written_nor_created(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text(VICTIM)
    run = _written_run(tmp_path / "run", config__json=b"{}")
    (run / LOCK_NAME).symlink_to(victim)
    for flags in ({"resume": True}, {"force": True}):
        with pytest.raises(UsageError, match="lock"):
            claim_run_dir(run, "train", **flags)
    assert victim.read_text() == VICTIM if not dangling else not victim.exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / LOCK_NAME).symlink_to(victim)  # an empty folder but for the link
    with pytest.raises(UsageError, match="lock"):
        claim_run_dir(fresh, "qlearning")
    assert victim.read_text() == VICTIM if not dangling else not victim.exists()


def test_no_write_goes_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM)
    run = _written_run(tmp_path / "run", config__json=b"{}")
    for name in ("metrics.json", ".metrics.json.drlab-tmp", ".drlab-run.json.drlab-tmp"):
        (run / name).symlink_to(victim)
    with claim_run_dir(run, "train", resume=True, files=[]) as claimed:
        with pytest.raises(UsageError, match=r"metrics\.json\.drlab-tmp exists and drlab did not write it"):
            claimed.write({"metrics.json": b"{}"})
        (run / ".metrics.json.drlab-tmp").unlink()
        with pytest.raises(UsageError, match=r"metrics\.json is a symbolic link that drlab did not make"):
            claimed.write({"metrics.json": b"{}"})
        (run / "metrics.json").unlink()
        claimed.write({"metrics.json": b"{}"})  # the marker's own leftover link is removed, not followed
    assert victim.read_text() == VICTIM and (run / "metrics.json").read_text() == "{}"


def test_a_linked_marker_or_record_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text('{"kind": "train", "files": {}}')
    run = tmp_path / "run"
    run.mkdir()
    (run / MARKER_NAME).symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link, not a drlab record"):
        inspect_run_dir(run, "train", force=True)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / OUTPUTS_NAME).symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link, not a drlab record"):
        claim_output_folder(pictures, ["a.png"])
    assert victim.read_text() == '{"kind": "train", "files": {}}'


def test_a_run_folder_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with claim_run_dir(tmp_path / "run", "train") as run:
        (tmp_path / "run").rename(tmp_path / "moved")
        (tmp_path / "run").symlink_to(elsewhere)
        run.write({"config.json": b"{}"})  # into the folder that was claimed, wherever it is now
    assert _names(elsewhere) == [] and (tmp_path / "moved" / "config.json").read_bytes() == b"{}"


# --- the checks a claim makes first --------------------------------------------------------------------
def test_a_folder_drlab_did_not_mark_is_never_written(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "config.json").write_text('{"editor": "settings"}')  # not drlab's, whatever its name
    (project / "thesis.tex").write_text(VICTIM)
    for force in (False, True):
        with pytest.raises(UsageError, match="not a drlab run folder"):
            claim_run_dir(project, "train", force=force)
    with pytest.raises(UsageError, match="holds no drlab training run"):
        claim_run_dir(project, "train", resume=True)
    assert _names(project) == [".git", "config.json", "thesis.tex"]


def test_a_run_of_another_kind_is_named_with_the_command_that_reads_it(tmp_path: Path) -> None:
    run = _written_run(tmp_path / "run", "dqn", config__json=b"{}")
    with pytest.raises(UsageError, match=r"holds a drlab DQN run, not a training run.*drlab rl evaluate"):
        claim_run_dir(run, "train", resume=True)
    with pytest.raises(UsageError, match="already holds a run") as info:
        claim_run_dir(_written_run(tmp_path / "q", "qlearning"), "qlearning")
    assert "--resume" not in str(info.value)  # Q-learning runs cannot be resumed: do not suggest it


def test_force_refuses_dangerous_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    cases = [
        ("", "empty"),
        (".", "contains the current folder"),
        (str(tmp_path / "outer"), "contains the current folder"),
        ("/", "root folder"),
        (str(Path.home()), "home folder"),
        (str(tmp_path / "link"), "symbolic link"),
        (str(tmp_path / "file"), "not a folder"),
        (str(tmp_path / "file" / "run"), "a file"),
        ("with\0nul", "NUL"),
    ]
    for path, reason in cases:
        with pytest.raises(UsageError, match=reason):
            claim_run_dir(path, "dqn", force=True)
    for path, reason in cases[:1] + cases[5:]:  # refused with or without --force
        with pytest.raises(UsageError, match=reason):
            claim_run_dir(path, "dqn")
    assert (tmp_path / "file").read_text() == "x" and list((tmp_path / "real").iterdir()) == []


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    import fcntl

    run = _written_run(tmp_path / "run", "dqn", config__json=b"{}")
    # another process holds the lock: the same thing as a second open file description here
    fd = os.open(run / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"pid 4242 on labhost since 2026-01-01 00:00:00 UTC\x1b]0;owned\x07\n")
        for resume in (False, True):
            with pytest.raises(
                UsageError, match="in use by another drlab run \\(pid 4242 on labhost"
            ) as info:
                claim_run_dir(run, "dqn", resume=resume, force=not resume)
            assert "\x1b" not in str(info.value)  # the lock's text reaches a terminal: no escape sequence
        assert (run / "config.json").is_file()  # the force above removed nothing
    finally:
        os.close(fd)
    # the holder died: the kernel dropped its lock, the file it left says nothing any more
    with claim_run_dir(run, "dqn", resume=True):
        assert f"pid {os.getpid()} " in (run / LOCK_NAME).read_text()


def test_two_processes_racing_for_one_folder_one_wins(tmp_path: Path) -> None:
    code = (
        "import sys, time; from drlab.common.rundir import claim_run_dir; from drlab.common.errors import UsageError\n"
        "try:\n    claim_run_dir(sys.argv[1], 'qlearning'); print('won', flush=True); time.sleep(3)\n"
        "except UsageError as e:\n    print('lost', e, flush=True)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(proc.communicate(timeout=60)[0] for proc in procs)
    assert outputs[0].startswith("lost") and outputs[1].startswith("won"), outputs
    assert "in use by another drlab run" in outputs[0] or "already holds" in outputs[0]


# --- writing: recorded before it lands, refused whole ----------------------------------------------------
def test_a_write_that_cannot_proceed_writes_nothing(tmp_path: Path) -> None:
    run = _written_run(tmp_path / "run", config__json=b"{}")
    (run / "returns.csv").write_text(VICTIM)
    with (
        claim_run_dir(run, "train", resume=True, files=[]) as claimed,
        pytest.raises(UsageError, match=r"returns\.csv exists and drlab did not write it"),
    ):
        claimed.write({"metrics.json": b"{}", "returns.csv": b"new"})
    assert not (run / "metrics.json").exists() and (run / "returns.csv").read_text() == VICTIM


def test_the_marker_lists_every_state_a_file_may_be_in_while_it_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _written_run(tmp_path / "run", config__json=b"old")
    from drlab.common import folders

    real_put = folders.Dir.put

    def killed(self: folders.Dir, name: str, data: bytes, temp: str) -> None:
        if name == MARKER_NAME:
            return real_put(self, name, data, temp)
        os.close(self.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL))  # the temporary file exists…
        raise KeyboardInterrupt  # …and the process dies before the rename

    with claim_run_dir(run, "train", resume=True, files=[]) as claimed:
        monkeypatch.setattr(folders.Dir, "put", killed)
        with pytest.raises(KeyboardInterrupt):
            claimed.write({"config.json": b"new"})
        monkeypatch.undo()
        # what a SIGKILL leaves: the marker as it was saved before the rename
        on_disk = read_json(run / MARKER_NAME)
        claimed._dirty = False
    assert len(on_disk["files"]["config.json"]) == 2 and on_disk["temporary"] == [".config.json.drlab-tmp"]
    with claim_run_dir(run, "train", force=True):  # both are drlab's: the old file and the leftover go
        pass
    assert _names(run) == [MARKER_NAME]


# --- output folders (linreg --plot, graph --out) ---------------------------------------------------------
def test_an_output_folder_replaces_only_its_own_unchanged_pictures(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    with claim_output_folder(out, ["a.png"]) as folder:
        folder.write({"a.png": b"drlab's"})
    with claim_output_folder(out, ["a.png"]) as folder:  # its own, unchanged: replaced
        folder.write({"a.png": b"drlab's again"})
    (out / "a.png").write_bytes(b"edited by hand")
    with pytest.raises(UsageError, match="changed since drlab wrote it"):
        inspect_output_folder(out, ["a.png"])
    (out / "b.png").symlink_to(tmp_path / "victim")
    with pytest.raises(UsageError, match="symbolic link"):
        inspect_output_folder(out, ["b.png"])
    assert not (tmp_path / "victim").exists()


def test_an_old_output_record_proves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    out.mkdir()
    (out / OUTPUTS_NAME).write_text(json.dumps({"files": ["fig.png"]}))
    (out / "fig.png").write_text(VICTIM)
    with pytest.raises(UsageError, match="older drlab"):
        claim_output_folder(out, ["fig.png"])
    with claim_output_folder(out, ["other.png"]) as folder:  # a new name is fine
        folder.write({"other.png": b"x"})
    assert (out / "fig.png").read_text() == VICTIM
    with pytest.raises(UsageError, match="exists and drlab did not write it"):
        inspect_output_folder(out, ["fig.png"])


def test_a_disk_too_full_for_the_lock_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from drlab.common.errors import DrlabError

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)  # the first write of a claim: who holds the lock
    with pytest.raises(DrlabError, match=r"\.drlab-run\.lock: the disk is full"):
        claim_run_dir(tmp_path / "run", "qlearning")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_unusable_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot use this path"):
        claim_run_dir(tmp_path / ("x" * 300), "qlearning")  # longer than a file name may be
    out = tmp_path / "plots"
    (out / ".drlab-files.json.drlab-tmp").mkdir(parents=True)  # a folder at drlab's temporary name
    with (
        pytest.raises(UsageError, match="is a folder that drlab did not make"),
        claim_output_folder(out, ["a.png"]) as f,
    ):
        f.write({"a.png": b"x"})
    assert sorted(p.name for p in out.iterdir()) == [".drlab-files.json.drlab-tmp"]


def test_files_a_library_writes_by_path_are_recorded_when_the_claim_closes(tmp_path: Path) -> None:
    """A writer that takes a path (the grader's score sheet, its feedback pages) writes into the claimed
    folder; what it made of the declared names is recorded at the close, and --force then deletes it."""
    run = tmp_path / "graded"
    with claim_run_dir(run, "check", files=["scores.csv", "feedback/", "report.html"]) as claimed:
        (claimed.path / "scores.csv").write_text("notebook,score\n")
        (claimed.path / "feedback").mkdir()
        (claimed.path / "feedback" / "ana.html").write_text("<p>14/14</p>")
        (claimed.path / "notes.txt").write_text(VICTIM)  # not declared: never drlab's
    files = read_json(run / MARKER_NAME)["files"]
    assert sorted(files) == ["feedback/ana.html", "scores.csv"]
    (run / "feedback" / "mine.txt").write_text(VICTIM)  # the user's, added afterwards
    with claim_run_dir(run, "check", force=True, files=["scores.csv"]):
        pass
    assert _names(run) == [MARKER_NAME, "feedback", "notes.txt"] and _names(run / "feedback") == ["mine.txt"]
