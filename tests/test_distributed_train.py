"""``drlab train`` on two processes (torchrun, gloo, 127.0.0.1): the same numbers as one process,
files written by rank 0 alone, and a worker killed mid-run → a clean failure, a loadable checkpoint,
and ``--resume`` continuing from it.

The two-process runs are real ``torchrun`` launches (about 10 s each on 2 cores): the oracle is the
same command run in this process, on one process.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from drlab.cli import main
from drlab.common.io import load_checkpoint, load_weights, read_json
from drlab.train import distributed as D
from drlab.train.config import TrainConfig

# digits, first 301 images: 30 held out, 271 to train on; batch 32 → 8 full batches and one of 15,
# shared 8/7 between the two ranks (the case where averaging two means would be wrong)
RECIPE = [
    "train", "--dataset", "digits", "--model", "mlp", "--limit", "301", "--batch-size", "32",
    "--optimizer", "sgd", "--lr", "0.05", "--scheduler", "cosine", "--seed", "1",
]  # fmt: skip

# records every file a process opens for writing (and every folder it makes or renames) under WATCH_DIR,
# or by a name relative to a folder it opened
AUDIT_HOOK = textwrap.dedent(
    """
    import os, sys
    _watch = os.environ.get("DRLAB_TEST_WATCH_DIR")
    _log = os.environ.get("DRLAB_TEST_WRITE_LOG")
    _rank = os.environ.get("RANK")
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND
    if _watch and _log and _rank is not None:
        def _hook(event, args):
            if event == "open" and isinstance(args[2], int) and args[2] & _WRITE:
                path = args[0]
            elif event in ("os.mkdir", "os.rename", "os.remove", "shutil.rmtree"):
                path = args[0]
            else:
                return
            # drlab writes in a run folder by names relative to the folder it opened (openat): count those
            if isinstance(path, (str, os.PathLike)) and (
                os.fspath(path).startswith(_watch) or not os.path.isabs(os.fspath(path))
            ):
                with open(f"{_log}.rank{_rank}", "a") as handle:
                    handle.write(f"{event} {os.fspath(path)}\\n")
        sys.addaudithook(_hook)
    """
)

# a worker entry point that dies like the out-of-memory killer would: ``python -m dying_drlab`` is
# ``python -m drlab`` with rank 1 SIGKILLed just before batch 3 of epoch 2 (the shuffled training
# batches; evaluation batches are not shuffled). The product knows nothing of it.
DYING_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from drlab.cli import main
    from drlab.data import Batches

    _iterate = Batches.__iter__

    def _iterate_then_die(self):
        for step, batch in enumerate(_iterate(self)):
            if os.environ.get("RANK") == "1" and self.shuffle and self.epoch == 1 and step == 2:
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch

    Batches.__iter__ = _iterate_then_die
    raise SystemExit(main())
    """
)


def _worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "DRLAB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo's own sockets stay on loopback
    env.update(extra)
    return env


@pytest.mark.slow  # two torchrun processes (7 s); the fast tier's twin: test_distributed's two gloo processes
def test_torchrun_two_processes_equal_one_process_and_only_rank_0_writes(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT_HOOK)
    runs = tmp_path / "runs"
    env = _worker_env(
        tmp_path,
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])),
        DRLAB_TEST_WATCH_DIR=str(runs),
        DRLAB_TEST_WRITE_LOG=str(tmp_path / "writes"),
    )
    command = D.torchrun_command(2, [*RECIPE, "--epochs", "2", "--out", str(runs / "ddp")])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    assert main([*RECIPE, "--epochs", "2", "--out", str(runs / "single"), "--quiet"]) == 0

    # the same numbers: every epoch's all-reduced loss and accuracy, and the final weights
    ddp, single = runs / "ddp", runs / "single"
    ddp_metrics, single_metrics = read_json(ddp / "metrics.json"), read_json(single / "metrics.json")
    ddp_history = load_checkpoint(ddp / "checkpoint.pt")["history"]
    single_history = load_checkpoint(single / "checkpoint.pt")["history"]
    assert len(ddp_history) == len(single_history) == 2
    for got, expected in zip(ddp_history, single_history, strict=True):
        for key in ("train_loss", "val_loss"):
            assert got[key] == pytest.approx(expected[key], rel=1e-5)
        for key in ("train_accuracy", "val_accuracy"):
            assert got[key] == pytest.approx(expected[key], abs=1e-9)  # counts: exact
    assert ddp_metrics["test_samples"] == single_metrics["test_samples"]
    assert ddp_metrics["confusion_matrix"] == single_metrics["confusion_matrix"]
    assert ddp_metrics["test_loss"] == pytest.approx(single_metrics["test_loss"], rel=1e-5)
    ddp_weights, single_weights = (
        load_weights(ddp / "model.safetensors"),
        load_weights(single / "model.safetensors"),
    )
    assert ddp_weights.keys() == single_weights.keys()
    for name, expected in single_weights.items():
        torch.testing.assert_close(ddp_weights[name], expected, rtol=1e-4, atol=1e-5)
    assert read_json(ddp / "config.json")["processes"] == 2

    # only rank 0 wrote, and it wrote the whole run; only rank 0 printed
    rank0_writes = (tmp_path / "writes.rank0").read_text()
    assert "checkpoint.pt" in rank0_writes and "metrics.json" in rank0_writes and "curves.png" in rank0_writes
    assert not (tmp_path / "writes.rank1").exists(), (tmp_path / "writes.rank1").read_text()
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert done.stdout.count("epoch 2/2") == 1, done.stdout


@pytest.mark.slow  # a killed torchrun worker (9 s); its cheap twins: test_distributed, test_train's resume
@pytest.mark.timeout(300)
def test_a_killed_worker_fails_cleanly_and_resume_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "dying_drlab.py").write_text(DYING_WORKER)
    for name, value in _worker_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    )
    # rank 1 is SIGKILLed at batch 3 of epoch 2: by then rank 0 has written epoch 1's checkpoint (the
    # all-reduce of batch 1 of epoch 2 waited for it)
    real_command = D.torchrun_command
    monkeypatch.setattr(D, "torchrun_command", functools.partial(real_command, module="dying_drlab"))
    code = main([*RECIPE, "--epochs", "3", "--out", str(run_dir), "--nproc", "2", "--quiet", "--no-plots"])
    err = capsys.readouterr().err
    assert code == 1
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("error: distributed run failed") and "--resume" in last_line

    checkpoint = load_checkpoint(run_dir / "checkpoint.pt")  # complete and loadable (weights_only=True)
    assert checkpoint["epoch"] == 1 and len(checkpoint["history"]) == 1
    assert not (run_dir / "metrics.json").exists()
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(D, "torchrun_command", real_command)
    assert main(["train", "--resume", "--out", str(run_dir), "--nproc", "2", "--quiet", "--no-plots"]) == 0
    final = load_checkpoint(run_dir / "checkpoint.pt")
    assert final["epoch"] == 3 and [r["epoch"] for r in final["history"]] == [1, 2, 3]
    assert final["history"][0] == checkpoint["history"][0]  # epoch 1 is the one trained before the kill
    assert read_json(run_dir / "metrics.json")["epochs_trained"] == 3


def test_nproc_relaunches_the_resolved_config_under_torchrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    launched: list[tuple[int, list[str]]] = []

    def fake_launch(nproc: int, module_args: list[str], *, checkpoint: object = None) -> int:
        launched.append((nproc, list(module_args)))
        return 0

    monkeypatch.setattr(D, "launch", fake_launch)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):  # torchrun's
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--nproc", "2", "--no-channels-last"]) == 0
    nproc, module_args = launched[0]
    assert nproc == 2 and module_args[0] == "train" and "--nproc" not in module_args

    # the oracle: what a worker would train, read back through drlab's own command line
    import drlab.train.run

    received: list[tuple[TrainConfig, str]] = []
    monkeypatch.setattr(
        drlab.train.run, "train_run", lambda config, out, **run: received.append((config, out))
    )
    assert main(module_args) == 0
    expected = TrainConfig(dataset="digits", epochs=1, channels_last=False).resolved()
    assert [(dataclasses.asdict(c), out) for c, out in received] == [
        (dataclasses.asdict(expected), "runs/digits-mlp")
    ]

    # the usual mistakes are caught before any process starts: a run already there, nothing to resume
    from drlab.common.rundir import claim_run_dir

    with claim_run_dir(tmp_path / "runs" / "digits-mlp", "train"):  # a drlab run (marked) is there
        pass
    assert main(["train", "--dataset", "digits", "--nproc", "2"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", "nowhere", "--nproc", "2"]) == 2
    assert "holds no drlab training run" in capsys.readouterr().err
    assert len(launched) == 1


def test_nproc_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--nproc", "0"]) == 2
    assert "--nproc must be ≥ 1" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--nproc", "2"]) == 2
    assert "already" in capsys.readouterr().err
