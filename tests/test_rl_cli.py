"""``drlab rl`` end to end on tiny budgets, in-process (plus one subprocess check of ``python -m drlab``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drlab.cli import main

TINY_DQN = [
    "--total-steps", "1200", "--learning-starts", "200", "--train-freq", "64", "--gradient-steps", "4",
    "--hidden-sizes", "16", "16", "--eval-freq", "600", "--eval-episodes", "2", "--checkpoint-freq", "500",
    "--quiet",
]  # fmt: skip


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_qlearning_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "q"
    assert (
        main(
            [
                "rl",
                "qlearning",
                "--no-slippery",
                "--episodes",
                "300",
                "--eval-episodes",
                "20",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "greedy policy" in out and "H" in out and "G" in out and "Q-table (16 states × 4 actions)" in out
    for name in ("config.json", "returns.csv", "metrics.json", "q_table.png"):
        assert (run / name).is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["q_table"]) == 16
    # the same folder again: refused without --force, replaced with it
    assert main(["rl", "qlearning", "--episodes", "5", "--out", str(run)]) == 2
    assert "already holds a run" in _one_line_error(capsys)
    assert (
        main(["rl", "qlearning", "--episodes", "5", "--eval-episodes", "5", "--out", str(run), "--force"])
        == 0
    )


def test_dqn_train_evaluate_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "dqn"
    assert main(["rl", "dqn", *TINY_DQN, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "kept model (best)" in out
    for name in (
        "config.json",
        "returns.csv",
        "metrics.json",
        "learning_curve.png",
        "model.safetensors",
        "checkpoint.pt",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("eval_mean_return", "eval_std_return", "steps", "seconds", "steps_per_second"):
        assert key in metrics
    assert metrics["steps"] == 1200

    assert main(["rl", "evaluate", str(run), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "mean return" in out and "best model" in out
    assert main(["rl", "evaluate", str(run), "--episodes", "2", "--model", "final", "--seed", "3"]) == 0
    capsys.readouterr()

    # resume: continue to a longer budget; other options may not change
    assert main(["rl", "dqn", "--out", str(run), "--resume", "--lr", "0.1"]) == 2
    assert "--lr" in _one_line_error(capsys)
    # the old spelling still reaches the same setting
    assert main(["rl", "dqn", "--out", str(run), "--resume", "--learning-rate", "0.1"]) == 2
    assert "--lr 0.0023, not 0.1" in _one_line_error(capsys)
    # typed on the command line counts, even when it equals the default: this run trained with
    # --train-freq 64, and asking for 256 (the default) is not "left out"
    assert main(["rl", "dqn", "--out", str(run), "--resume", "--train-freq", "256"]) == 2
    assert "--train-freq 64, not 256" in _one_line_error(capsys)
    assert main(["rl", "dqn", *TINY_DQN, "--out", str(run), "--resume", "--total-steps", "1500"]) == 0
    assert "resuming" not in capsys.readouterr().out  # --quiet
    assert json.loads((run / "metrics.json").read_text())["steps"] == 1500
    # --total-steps is the total: fewer steps than already trained cannot be honest
    assert main(["rl", "dqn", "--out", str(run), "--resume", "--total-steps", "1000"]) == 2
    assert "already trained 1,500 steps" in _one_line_error(capsys)
    assert json.loads((run / "config.json").read_text())["config"]["total_steps"] == 1500


def test_dqn_resume_merges_what_was_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resume merge through the CLI: untyped options keep the saved run's values, typed ones count
    even when they equal the default (``--total-steps 50000`` on a 5,000-step run)."""
    import torch

    import drlab.rl.runs
    from drlab.common.config import to_dict
    from drlab.common.rundir import claim_run_dir
    from drlab.common.runfiles import write_run_files
    from drlab.rl.config import DQNConfig
    from drlab.rl.dqn import DQNState

    run = tmp_path / "run"
    saved = DQNConfig(total_steps=5000, hidden_sizes=(16, 16), learning_starts=200, train_freq=64)
    state = DQNState.create(saved, torch.device("cpu"))  # a checkpoint of this config, as if at its end
    state.step = 5000
    with claim_run_dir(run, "dqn") as claimed:
        write_run_files(
            claimed,
            records={"config.json": {"algorithm": "dqn", "config": to_dict(saved)}},
            checkpoints={"checkpoint.pt": state.state_dict()},
        )
    seen: list[DQNConfig] = []

    class Stop(Exception):
        pass

    def fake_train(config: DQNConfig, *args: object, **kwargs: object) -> None:
        seen.append(config)
        raise Stop

    monkeypatch.setattr(drlab.rl.runs, "train_run", fake_train)
    for argv, total in ((["--total-steps", "50000"], 50_000), ([], 5_000)):
        with pytest.raises(Stop):
            main(["rl", "dqn", "--out", str(run), "--resume", "--quiet", *argv])
        assert seen[-1] == DQNConfig(**{**to_dict(saved), "hidden_sizes": (16, 16), "total_steps": total})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rl", "dqn", "--env", "CartPol-v1"], "CartPol"),
        (["rl", "dqn", "--env", "Pendulum-v1"], "discrete action space"),
        (["rl", "qlearning", "--env", "CartPole-v1"], "discrete state space"),
        (["rl", "dqn", "--total-steps", "0"], "--total-steps"),
        (["rl", "dqn", "--tau", "2"], "--tau"),
        (["rl", "dqn", "--device", "cuda:7"], "cuda"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert message in _one_line_error(capsys)


def test_evaluate_and_resume_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "evaluate", str(tmp_path / "nothing")]) == 2
    assert "no such run" in _one_line_error(capsys)
    assert main(["rl", "dqn", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no drlab DQN run" in _one_line_error(capsys)
    q_run = tmp_path / "q"
    assert (
        main(["rl", "qlearning", "--episodes", "3", "--eval-episodes", "3", "--out", str(q_run), "--quiet"])
        == 0
    )
    capsys.readouterr()
    assert main(["rl", "evaluate", str(q_run)]) == 2
    assert "not a DQN, REINFORCE, A2C or PPO run" in _one_line_error(capsys)
    # a bad option with --force fails before the earlier run is removed
    assert main(["rl", "qlearning", "--env", "Pendulum-v1", "--out", str(q_run), "--force"]) == 2
    assert main(["rl", "dqn", "--tau", "0", "--out", str(q_run), "--force"]) == 2
    capsys.readouterr()
    assert (q_run / "config.json").is_file()


def test_rl_help_answers_without_heavy_imports() -> None:
    code = (
        "import sys; from drlab.cli import main\n"
        "try:\n    main(['rl', 'dqn', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'gymnasium', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--target-update-interval" in done.stdout
    assert "HEAVY []" in done.stdout
