"""The shared pieces: atomic files, safe checkpoints, run directories, configs, seeding, devices, CLI."""

from __future__ import annotations

import argparse
import errno
import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from drlab.cli import main
from drlab.common.config import (
    add_dataclass_arguments,
    check_number,
    check_seed,
    dataclass_from_namespace,
    field_docs,
    from_json,
    merge_on_resume,
    to_dict,
)
from drlab.common.device import check_device, resolve_device
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import (
    atomic_write,
    dumps_json,
    load_checkpoint,
    load_weights,
    read_json,
    save_checkpoint,
    save_weights,
    write_csv_atomic,
    write_json_atomic,
)
from drlab.common.seeding import seed_everything


# --- atomic files ---------------------------------------------------------------------------------
def test_atomic_write_replaces_the_file_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    with atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_atomic_write_keeps_the_old_file_when_the_writer_crashes(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("half of the new con")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # no temp file left behind


def test_json_and_csv_round_trip(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "m.json", {"acc": np.float32(0.5), "cm": np.eye(2, dtype=np.int64)})
    assert read_json(tmp_path / "m.json") == {"acc": 0.5, "cm": [[1, 0], [0, 1]]}
    write_csv_atomic(tmp_path / "h.csv", [{"epoch": 1, "loss": 0.25}, {"epoch": 2, "loss": 0.125}])
    assert (tmp_path / "h.csv").read_text().splitlines() == ["epoch,loss", "1,0.25", "2,0.125"]


def test_read_json_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")


# --- checkpoints and weights ----------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path: Path) -> None:
    state = {"epoch": 3, "weights": torch.arange(6.0).reshape(2, 3), "history": [{"loss": 0.5}]}
    save_checkpoint(state, tmp_path / "ckpt.pt")
    loaded = load_checkpoint(tmp_path / "ckpt.pt")
    assert loaded["epoch"] == 3 and loaded["history"] == [{"loss": 0.5}]
    torch.testing.assert_close(loaded["weights"], state["weights"])


class _Exploit:
    """Unpickling this object would create a file: the attack weights_only=True must stop."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as handle:
        pickle.dump({"model": _Exploit(str(marker))}, handle, protocol=2)  # torch.save's protocol
    with pytest.raises(UsageError, match="refused to load"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_garbage_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(UsageError):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(UsageError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_safetensors_weights_round_trip_and_bad_file(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    save_weights(model.state_dict(), tmp_path / "model.safetensors", metadata={"model": "linear"})
    loaded = load_weights(tmp_path / "model.safetensors")
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded[name], tensor)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(UsageError):
        load_weights(tmp_path / "bad.safetensors")


# --- files: permissions, strict JSON, a full disk, damaged checkpoints ----------------------------------
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    before = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        save_checkpoint({"x": 1}, tmp_path / "c.pt")
        with open(tmp_path / "plain.txt", "w") as handle:  # the oracle: what open() gives
            handle.write("x")
    finally:
        os.umask(before)
    for name in ("a.json", "c.pt", "plain.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_json_files_are_strict(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "m.json", {"loss": float("nan"), "best": [float("inf"), -float("inf"), 1.5]})
    text = (tmp_path / "m.json").read_text()
    # the strict parser rejects NaN/Infinity; it must read this file
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    assert loaded == {"loss": None, "best": [None, None, 1.5]}
    assert dumps_json({"x": np.float32("nan")}) == '{"x": null}'


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1}, path)

    def no_room(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", no_room)
    with pytest.raises(DrlabError, match=r"previous checkpoint\.pt is intact") as info:
        save_checkpoint({"epoch": 2}, path)
    assert not isinstance(info.value, UsageError)  # exit 1: the world failed, not the user
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_flipped_bytes_in_a_checkpoint_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"weights": torch.arange(4096.0)}, path)
    data = bytearray(path.read_bytes())
    start = data.index(torch.arange(4096.0)[1000:1010].numpy().tobytes())  # inside the weights' bytes
    for i in range(start, start + 50):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"checkpoint.pt: damaged checkpoint \(its SHA-256 does not match"):
        load_checkpoint(path)
    torch.save({"epoch": 1}, tmp_path / "plain.pt")  # a torch file without drlab's checksum
    with pytest.raises(UsageError, match="not a drlab checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def test_reading_a_fifo_is_refused_not_blocked(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        read_json(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        load_checkpoint(fifo)


# --- configs --------------------------------------------------------------------------------------
@dataclass
class _Args:
    lr: float = 0.1
    """learning rate ("pas d'apprentissage")"""
    epochs: int = 10
    """number of epochs"""
    method: Literal["batch", "sgd"] = "batch"
    """which gradient descent"""
    plot: str | None = None
    """folder for the plots"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes"""
    quiet: bool = False
    """print nothing"""


def test_field_docs_are_read_from_the_source() -> None:
    assert field_docs(_Args)["lr"] == 'learning rate ("pas d\'apprentissage")'
    assert set(field_docs(_Args)) == {"lr", "epochs", "method", "plot", "hidden", "quiet"}


def test_options_generated_from_a_dataclass() -> None:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Args)
    assert dataclass_from_namespace(_Args, parser.parse_args([])) == _Args()
    args = parser.parse_args(["--lr", "0.5", "--method", "sgd", "--hidden", "8", "--quiet", "--plot", "p"])
    config = dataclass_from_namespace(_Args, args)
    assert config == _Args(lr=0.5, method="sgd", hidden=(8,), quiet=True, plot="p")
    assert to_dict(config)["hidden"] == [8]
    assert "pas d'apprentissage" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--method", "adam"])


# --- seeding and devices --------------------------------------------------------------------------
def test_seed_everything_makes_every_generator_repeat() -> None:
    import random

    def draw() -> tuple[float, float, torch.Tensor]:
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(7)
    first = draw()
    seed_everything(7)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    seed_everything(8)
    assert draw()[0] != first[0]
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA GPU"):
            resolve_device("cuda")
    # torch.device() takes these too, but no drlab run can use them: refused by the one rule
    for name in ("tpu-of-dreams", "meta", "cpu:1", "cuda:-1", "cuda:x", "xla", "", "cuda:1\n", "cuda:٣"):
        with pytest.raises(UsageError, match="is not a device drlab can use"):
            resolve_device(name)
        with pytest.raises(UsageError, match="is not a device drlab can use"):
            check_device(name)
    assert [check_device(n) for n in ("auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps")]


# --- the CLI --------------------------------------------------------------------------------------
def test_cli_help_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "descente de gradient" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_cli_turns_drlab_errors_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import drlab.cli

    def fake_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser()

        def fail(args: argparse.Namespace) -> int:
            raise DrlabError("the mirror is down")

        parser.set_defaults(handler=fail)
        return parser

    monkeypatch.setattr(drlab.cli, "build_parser", fake_parser)
    assert drlab.cli.main([]) == 1
    assert capsys.readouterr().err == "error: the mirror is down\n"


def test_help_does_not_import_torch_or_matplotlib() -> None:
    code = (
        "import sys, drlab.cli; drlab.cli.build_parser().format_help();"
        "print(sorted(m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_python_dash_m_drlab_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "drlab", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("drlab ")


# --- one configuration path: from_json and merge_on_resume ------------------------------------------------
@dataclass
class _Run:
    lr: float = 0.1
    """learning rate"""
    steps: int = 1000
    """total steps"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden sizes"""
    device: str = "cpu"
    """where"""

    def check(self) -> None:
        check_number("--lr", self.lr, 0, None, low_open=True)


def test_from_json_checks_every_field() -> None:
    good = to_dict(_Run(lr=0.5, hidden=(8,)))
    assert from_json(_Run, {**good, "future_field": 1}, "run/config.json") == _Run(lr=0.5, hidden=(8,))
    assert from_json(_Run, {**good, "lr": 1}, "c.json").lr == 1.0  # a hand-written 1 is a float
    for broken, reason in [
        ({k: v for k, v in good.items() if k != "steps"}, "has no 'steps'"),
        ({**good, "steps": "many"}, "'steps' holds 'many'"),
        ({**good, "steps": True}, "'steps' holds True"),
        ({**good, "hidden": [8, "x"]}, "'hidden' holds"),
        ({**good, "lr": -1.0}, "--lr must be > 0"),  # and check() runs, as for the command line
        ([1, 2], "expected a JSON object"),
    ]:
        with pytest.raises(UsageError, match=reason) as info:
            from_json(_Run, broken, "run/config.json")
        assert str(info.value).startswith("run/config.json: ")


def test_merge_on_resume_takes_what_was_typed_not_what_differs_from_the_default() -> None:
    saved = _Run(lr=0.3, steps=5000, hidden=(8,))
    allowed = ("steps", "device")
    # typed 1000, the default: it counts (the DQN bug was to read "equals the default" as "not typed")
    assert merge_on_resume(saved, {"steps": 1000}, allowed, where="R").steps == 1000
    assert merge_on_resume(saved, {"steps": 50_000, "device": "cuda"}, allowed, where="R") == _Run(
        lr=0.3, steps=50_000, hidden=(8,), device="cuda"
    )
    assert merge_on_resume(saved, {}, allowed, where="R") == saved  # nothing typed: the saved run
    assert merge_on_resume(saved, {"lr": 0.3, "hidden": [8]}, allowed, where="R") == saved  # same values
    with pytest.raises(UsageError, match=r"trained with --lr 0\.3, not 0\.1"):
        merge_on_resume(saved, {"lr": 0.1}, allowed, where="R")  # 0.1 is the default, and was typed


def test_check_helpers_refuse_nan_inf_and_out_of_range() -> None:
    for value in (float("nan"), float("inf"), -float("inf"), 0.0, "1", True):
        with pytest.raises(UsageError, match="--x must be > 0 and finite"):
            check_number("--x", value, 0, None, low_open=True)
    check_number("--x", 1e300, 0, None, low_open=True)
    for seed in (-1, 2**32, 1.5, True):
        with pytest.raises(UsageError, match=r"--seed must be an integer in \[0, 2\*\*32\)"):
            check_seed(seed)
    check_seed(2**32 - 1)
