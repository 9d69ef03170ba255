"""The shared pieces: atomic files, safe checkpoints, run directories, configs, seeding, devices, CLI."""

from __future__ import annotations

import argparse
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
from drlab.common.config import add_dataclass_arguments, dataclass_from_namespace, field_docs, to_dict
from drlab.common.device import resolve_device
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import (
    atomic_write,
    load_checkpoint,
    load_weights,
    read_json,
    save_checkpoint,
    save_weights,
    write_csv_atomic,
    write_json_atomic,
)
from drlab.common.rundir import prepare_run_dir
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


# --- run directories ------------------------------------------------------------------------------
def test_prepare_run_dir_protects_an_existing_run(tmp_path: Path) -> None:
    run = prepare_run_dir(tmp_path / "run")
    (run / "config.json").write_text("{}")
    (run / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="already holds a run"):
        prepare_run_dir(run)
    assert (run / "precious.txt").read_text() == "keep me"
    assert prepare_run_dir(run, resume=True) == run
    prepare_run_dir(run, force=True)
    assert list(run.iterdir()) == []
    with pytest.raises(UsageError, match="no run to resume"):
        prepare_run_dir(tmp_path / "empty", resume=True)


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
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu-of-dreams")


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
