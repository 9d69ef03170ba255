"""``drlab train --resume`` through the command line: the saved run decides, what was typed counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import drlab.train.run
from drlab.cli import main
from drlab.common.config import to_dict
from drlab.common.rundir import claim_run_dir
from drlab.common.runfiles import write_run_files
from drlab.train.config import TrainConfig


class _Stop(Exception):
    pass


@pytest.fixture
def saved_run(tmp_path: Path) -> Path:
    """A run folder whose config.json says: mlp on digits with SGD, lr 0.2, 5 epochs (no training needed)."""
    run = tmp_path / "run"
    saved = TrainConfig(dataset="digits", optimizer="sgd", epochs=5, limit=150, out=str(run)).resolved()
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
    # --epochs and --patience may change; 15 is mlp's default number of epochs, and it was typed
    config = _resumed_config(
        ["--out", str(saved_run), "--resume", "--epochs", "15", "--patience", "2"], monkeypatch
    )
    assert (config.optimizer, config.epochs, config.patience) == ("sgd", 15, 2)


def test_resume_refuses_a_typed_recipe_change_even_to_the_default(
    saved_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # adam is the default optimizer: typed, it contradicts the saved sgd run
    assert main(["train", "--out", str(saved_run), "--resume", "--optimizer", "adam"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--optimizer sgd, not adam" in err and err.count("\n") == 1
