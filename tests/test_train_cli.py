"""``drlab train --resume`` through the command line: the saved run decides, what was typed counts; runs of an
earlier drlab still read and resume."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

import drlab.train.run
from drlab.cli import main
from drlab.common.config import to_dict
from drlab.common.io import load_weights
from drlab.common.rundir import claim_run_dir
from drlab.common.runfiles import write_run_files
from drlab.train.config import TrainConfig
from drlab.train.run import WEIGHTS_NAME, train_run


class _Stop(Exception):
    pass


@pytest.fixture
def saved_run(tmp_path: Path) -> Path:
    """A run folder whose config.json says: mlp on digits with SGD, lr 0.2, 5 epochs (no training needed)."""
    run = tmp_path / "run"
    saved = TrainConfig(dataset="digits", optimizer="sgd", epochs=5, limit=150).resolved()
    with claim_run_dir(run, "train") as claimed:
        write_run_files(claimed, records={"config.json": {"config": to_dict(saved), "dataset": {}}})
    return run


def _resumed_config(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> TrainConfig:
    seen: list[TrainConfig] = []

    def fake_train(config: TrainConfig, *args: Any) -> Any:
        seen.append(config)
        raise _Stop

    monkeypatch.setattr(drlab.train.run, "_train", fake_train)
    with pytest.raises(_Stop):
        main(["train", *argv])
    return seen[-1]


def test_resume_keeps_the_saved_run_and_takes_what_was_typed(
    saved_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _resumed_config(["--out", str(saved_run), "--resume"], monkeypatch)
    assert (config.optimizer, config.lr, config.epochs, config.limit) == ("sgd", 0.05, 5, 150)
    # --epochs and --plots may change; 15 is mlp's default number of epochs, and it was typed
    config = _resumed_config(
        ["--out", str(saved_run), "--resume", "--epochs", "15", "--no-plots"], monkeypatch
    )
    assert (config.optimizer, config.epochs, config.plots) == ("sgd", 15, False)


def test_resume_refuses_a_typed_recipe_change_even_to_the_default(
    saved_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # adam is the default optimizer: typed, it contradicts the saved sgd run
    assert main(["train", "--out", str(saved_run), "--resume", "--optimizer", "adam"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--optimizer sgd, not adam" in err and err.count("\n") == 1


# --- runs of an earlier drlab (tests/legacy_runs: written by drlab 0.1, as they came out) --------------------
LEGACY = Path(__file__).parent / "legacy_runs"


def test_a_drlab_0_1_run_resumes_under_todays_names(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(LEGACY / "train-0.1", run)
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    saved = json.loads((run / "config.json").read_text())["config"]
    assert saved["max_grad_norm"] == 0.05 and "grad_clip" not in saved and saved["epochs"] == 2
    # the oracle: today's drlab trains the same two epochs in one go, with the clipping under its new name
    config = TrainConfig(dataset="digits", model="softmax", limit=200, scheduler="none", max_grad_norm=0.05, seed=4,
                         epochs=2, plots=False)  # fmt: skip
    train_run(config, tmp_path / "whole")
    whole, resumed = load_weights(tmp_path / "whole" / WEIGHTS_NAME), load_weights(run / WEIGHTS_NAME)
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, atol=1e-6, rtol=0)


def test_a_drlab_0_1_run_with_a_dropped_option_reads_but_does_not_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(LEGACY / "train-0.1-ema", run)
    measured_then = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--ema 0.9" in err and "no longer" in err
    assert filecmp.dircmp(run, LEGACY / "train-0.1-ema").diff_files == []  # nothing was touched
    # evaluate and predict read it: the test accuracy that drlab 0.1 measured at the end of the run
    assert main(["evaluate", str(run)]) == 0
    assert f"test accuracy {measured_then:.4f}" in capsys.readouterr().out
    image = tmp_path / "digit.png"
    Image.new("L", (8, 8), 255).save(image)
    assert main(["predict", str(run), str(image)]) == 0
