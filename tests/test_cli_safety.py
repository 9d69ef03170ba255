"""An attacker and a clumsy user against every command that writes (issue 23): through the command line,
as they would do it, with tiny budgets.

Each scenario checks the world afterwards: the user's files, and the targets of the links an attacker
planted, are byte for byte what they were; a refused command leaves the run folder exactly as it was;
every refusal is one line (``error: …``), never a traceback; nothing hangs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from drlab.cli import main
from drlab.common.io import load_checkpoint, save_checkpoint
from drlab.common.rundir import MARKER_NAME
from drlab.common.runlock import LOCK_NAME

TRAIN = ["train", "--dataset", "digits", "--limit", "100", "--epochs", "1", "--no-plots", "--quiet"]
DQN = [
    "rl", "dqn", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "50",
    "--gradient-steps", "1", "--hidden-sizes", "8", "--eval-freq", "300", "--eval-episodes", "1",
    "--checkpoint-freq", "150", "--buffer-size", "500", "--quiet",
]  # fmt: skip
QLEARNING = ["rl", "qlearning", "--episodes", "5", "--eval-episodes", "5", "--quiet"]
VICTIM = "the instructor's gradebook\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished tiny training run and DQN run, made once: each test works on its own copy."""
    base = tmp_path_factory.mktemp("made")
    assert main([*TRAIN, "--out", str(base / "train")]) == 0
    assert main([*DQN, "--out", str(base / "dqn")]) == 0
    return {"train": base / "train", "dqn": base / "dqn"}


def _copy(made: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made[kind], tmp_path / kind, symlinks=True))


def _snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's SHA-256, a link's target, a folder's mark."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = "-> " + str(path.readlink())
        elif path.is_dir():
            found[name] = "folder"
        else:
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.csv"
    path.write_text(VICTIM)
    return path


# --- links: the run lock, and every file a command writes ----------------------------------------------
LOCK_CASES: dict[str, tuple[str | None, Callable[[Path], list[str]]]] = {
    "train --out (new)": (None, lambda run: [*TRAIN, "--out", str(run)]),
    "train --resume": ("train", lambda run: [*TRAIN, "--out", str(run), "--resume", "--epochs", "1"]),
    "train --force": ("train", lambda run: [*TRAIN, "--out", str(run), "--force"]),
    "evaluate RUN": ("train", lambda run: ["evaluate", str(run)]),
    "rl qlearning": (None, lambda run: [*QLEARNING, "--out", str(run)]),
    "rl dqn --resume": ("dqn", lambda run: [*DQN, "--out", str(run), "--resume", "--total-steps", "450"]),
}


@pytest.mark.parametrize("dangling", [False, True], ids=["link", "dangling"])
@pytest.mark.parametrize("case", list(LOCK_CASES))
def test_a_planted_lock_link_is_never_followed(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, dangling: bool
) -> None:
    kind, argv = LOCK_CASES[case]
    target = tmp_path / "gradebook.csv"
    if not dangling:
        target.write_text(VICTIM)
    if kind is None:
        run = tmp_path / "run"
        run.mkdir()
    else:
        run = _copy(made, kind, tmp_path)
    (run / LOCK_NAME).symlink_to(target)
    before = _snapshot(run)
    assert main(argv(run)) == 2
    _one_line_error(capsys, LOCK_NAME)
    assert _snapshot(run) == before
    assert (target.read_text() == VICTIM) if not dangling else not target.exists()


@pytest.mark.parametrize("name", ["config.json", "checkpoint.pt", "history.csv", ".history.csv.drlab-tmp"])
def test_a_resumed_run_writes_through_no_planted_link(
    made: dict[str, Path], tmp_path: Path, victim: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    run = _copy(made, "train", tmp_path)
    (run / name).unlink(missing_ok=True)
    (run / name).symlink_to(victim)
    assert main([*TRAIN, "--out", str(run), "--resume", "--epochs", "1"]) == 2
    _one_line_error(capsys, name)
    assert victim.read_text() == VICTIM and (run / name).is_symlink()


def test_pictures_go_through_no_planted_link(
    tmp_path: Path, victim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "linreg_losses.png").symlink_to(victim)
    assert main(["linreg", "--method", "numpy-batch", "--epochs", "5", "--plot", str(plots)]) == 2
    _one_line_error(capsys, "linreg_losses.png", "symbolic link")
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    (graphs / ".drlab-files.json").symlink_to(victim)
    assert main(["graph", "--out", str(graphs)]) == 2
    _one_line_error(capsys, ".drlab-files.json")
    assert victim.read_text() == VICTIM and sorted(p.name for p in plots.iterdir()) == ["linreg_losses.png"]


def test_tensorboard_goes_through_no_planted_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tensorboard")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = tmp_path / "run"
    assert main([*TRAIN, "--out", str(run), "--tensorboard"]) == 0
    assert any((run / "tensorboard").iterdir())
    shutil.rmtree(run / "tensorboard")
    (run / "tensorboard").symlink_to(elsewhere)
    assert main([*TRAIN, "--out", str(run), "--resume", "--epochs", "1", "--tensorboard"]) == 2
    _one_line_error(capsys, "tensorboard")
    assert list(elsewhere.iterdir()) == []


# --- --force deletes only what the previous run wrote and is still what it wrote ---------------------------
def test_force_deletes_only_what_the_run_wrote(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(made, "train", tmp_path)
    (run / "tensorboard").mkdir()  # the user's own, in a run that never used --tensorboard
    (run / "tensorboard" / "events.out.tfevents.mine").write_text("my logs")
    (run / "curves.png").write_text("my figure")  # this run had --no-plots: drlab never wrote one
    (run / "metrics_val.json").write_text('{"mine": 1}')
    (run / "notes.txt").write_text("my notes")
    mine = ("tensorboard", "curves.png", "metrics_val.json", "notes.txt")
    before = _snapshot(run)
    # with pictures, the new run would replace curves.png: refused before anything is deleted
    assert main([*TRAIN, "--out", str(run), "--force", "--plots"]) == 2
    _one_line_error(capsys, "curves.png exists and drlab did not write it")
    assert _snapshot(run) == before
    assert main([*TRAIN, "--out", str(run), "--force"]) == 0
    capsys.readouterr()
    after = _snapshot(run)
    for name in mine:
        assert after[name] == before[name], name
    assert (run / "tensorboard" / "events.out.tfevents.mine").read_text() == "my logs"
    # the run itself was replaced: the same settings and seed give the same config.json and weights, but
    # metrics.json records this run's own timings
    assert after["metrics.json"] != before["metrics.json"]


def test_force_refuses_to_replace_a_file_edited_since(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(made, "train", tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "my comment": "the best run of the term"}))
    before = _snapshot(run)
    assert main([*TRAIN, "--out", str(run), "--force"]) == 2
    _one_line_error(capsys, "metrics.json changed since drlab wrote it")
    assert _snapshot(run) == before


def test_a_run_marked_by_an_older_drlab_is_never_acted_on(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(made, "train", tmp_path)
    old = {"kind": "train", "files": ["config.json", "metrics.json", "curves.png", "tensorboard/"]}
    (run / MARKER_NAME).write_text(json.dumps(old))
    (run / "curves.png").write_text("whose is it? the marker cannot say")
    before = _snapshot(run)
    for argv in ([*TRAIN, "--out", str(run), "--force"], ["evaluate", str(run)]):
        assert main(argv) == 2
        _one_line_error(capsys, "older drlab", "cannot prove")
    assert _snapshot(run) == before


def test_a_picture_edited_since_drlab_wrote_it_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["linreg", "--method", "numpy-batch", "--epochs", "5", "--plot", str(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 0  # drlab's own, unchanged: replaced
    (tmp_path / "linreg_fits.png").write_bytes(b"my annotated copy")
    capsys.readouterr()
    assert main(argv) == 2
    _one_line_error(capsys, "linreg_fits.png changed since drlab wrote it")
    assert (tmp_path / "linreg_fits.png").read_bytes() == b"my annotated copy"


# --- a refused --resume touches nothing; a malformed checkpoint is one line ------------------------------------
def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(checkpoint: dict[str, Any]) -> None:
        where: Any = checkpoint
        for key in path[:-1]:
            where = where[key]
        if value is KeyError:
            del where[path[-1]]
        else:
            where[path[-1]] = value

    return change


TRAIN_DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "no history": _set(("history",), KeyError),
    "no rng": _set(("rng",), KeyError),
    "an extra history field": _set(("history", 0, "bogus"), 1.0),
    "a string lr": _set(("optimizer", "param_groups", 0, "lr"), "0.001"),
    "a string lr in the history": _set(("history", 0, "lr"), "fast"),
    "a bad best": _set(("best",), 3),
    "a string best epoch": _set(("best", "epoch"), "one"),
    "best weights of another model": _set(("best", "model"), {"w": torch.zeros(2)}),
    "weights that do not fit": _set(("model", "layers.1.weight"), torch.zeros(3, 3)),
    "a string epoch": _set(("epoch",), "1"),
    "no info": _set(("info",), KeyError),
    "another format": _set(("format",), "drlab.train/1"),
    "a short torch rng": _set(("rng", "torch"), torch.zeros(7, dtype=torch.uint8)),
    "a python rng of the wrong version": _set(("rng", "python", "version"), 2),
    "an optimizer moment of the wrong shape": _set(("optimizer", "state", 0, "exp_avg"), torch.zeros(2)),
    "a scheduler without numbers": _set(("scheduler", "base_lrs"), ["x"]),
}


DQN_DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "weights that do not fit": _set(("q_network", "layers.0.weight"), torch.zeros(8, 5)),
    "a string best_eval": _set(("best_eval",), "high"),
    "an extra episode field": _set(("episodes", 0, "bogus"), 1),
    "rewards of another dtype": _set(("buffer", "rewards"), torch.zeros(300, dtype=torch.int64)),
    "a buffer shorter than its size": _set(("buffer", "size"), 301),
    "a garbage generator": _set(("explore_rng", "state"), "x"),
    "an impossible generator": _set(("env_rng", "state", "state"), -1),
    "a string step": _set(("step",), "300"),
    "no evaluations": _set(("evaluations",), KeyError),
}


DAMAGE = {"train": TRAIN_DAMAGE, "dqn": DQN_DAMAGE}
RESUME = {"train": [*TRAIN, "--resume", "--epochs", "1"], "dqn": [*DQN, "--resume", "--total-steps", "450"]}


@pytest.mark.parametrize(
    ("kind", "damage"), [(kind, damage) for kind, table in DAMAGE.items() for damage in table]
)
def test_a_refused_resume_leaves_the_run_as_it_was(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, damage: str
) -> None:
    run = _copy(made, kind, tmp_path)
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    DAMAGE[kind][damage](checkpoint)
    save_checkpoint(checkpoint, run / "checkpoint.pt")  # a valid checksum over malformed content
    _adopt(run, "checkpoint.pt")
    before = _snapshot(run)
    assert main([*RESUME[kind], "--out", str(run)]) == 2
    _one_line_error(capsys, "checkpoint.pt")
    # config.json above all: not rewritten by a refused resume (epochs 1, total_steps 300)
    assert _snapshot(run) == before


def _adopt(run: Path, name: str) -> None:
    """Record ``name``'s new content in the marker, as if drlab had written it: the damage is inside a
    file drlab owns (an attacker with a valid checksum), not a foreign file beside the run."""
    marker = json.loads((run / MARKER_NAME).read_text())
    data = (run / name).read_bytes()
    if isinstance(marker.get("files"), dict):
        marker["files"][name] = [{"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]
    (run / MARKER_NAME).write_text(json.dumps(marker))


# --- devices, splits, diverging runs, the wrong kind of run --------------------------------------------------
@pytest.mark.parametrize("device", ["meta", "cuda:99", "cpu:1", "xla"])
def test_a_device_no_run_can_use_is_refused_first(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str
) -> None:
    if device == "cuda:99" and torch.cuda.device_count() > 99:  # pragma: no cover
        pytest.skip("a machine with 100 GPUs")
    assert main([*TRAIN, "--out", str(tmp_path / "new"), "--device", device]) == 2
    _one_line_error(capsys, device)
    assert main([*DQN, "--out", str(tmp_path / "new"), "--device", device]) == 2
    _one_line_error(capsys, device)
    assert not (tmp_path / "new").exists()  # no folder left behind
    run = _copy(made, "train", tmp_path)
    before = _snapshot(run)
    assert main(["evaluate", str(run), "--device", device]) == 2
    _one_line_error(capsys, device)
    assert _snapshot(run) == before


def test_a_split_with_an_empty_side_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--dataset", "digits", "--limit", "200", "--val-fraction", "0.999", "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, "--val-fraction 0.999", "leaves 0 for training")
    assert not (tmp_path / "run").exists()


def test_a_diverging_linreg_draws_both_pictures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["linreg", "--lr", "1e10", "--method", "all", "--epochs", "50", "--plot", str(tmp_path / "p")]
    assert main(argv) == 0
    assert "diverged" in capsys.readouterr().err
    for name in ("linreg_fits.png", "linreg_losses.png"):
        assert (tmp_path / "p" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("option", "named", "suggested"),
    [
        (["--lr", "1e300"], "--lr 1e+300", "try --lr 0.001"),
        (["--lr", "1e300", "--optimizer", "sgd", "--scheduler", "one-cycle"], "--lr 1e+300", "try --lr 0.05"),
        (["--weight-decay", "1e300"], "--weight-decay 1e+300 is far too large", "try --weight-decay 0.01"),
    ],
)
def test_a_diverging_run_names_the_setting_to_blame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], named: str, suggested: str
) -> None:
    assert main([*TRAIN, "--out", str(tmp_path / "run"), *option]) == 1
    err = capsys.readouterr().err
    assert named in err and suggested in err and "learning rate 0 " not in err, err
    assert err.count("\n") == 1


def test_each_kind_of_run_is_named_with_the_command_that_reads_it(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "shoe.png"
    from PIL import Image

    Image.new("L", (28, 28)).save(image)
    for argv in (["predict", str(made["dqn"]), str(image)], ["evaluate", str(made["dqn"])]):
        assert main(argv) == 2
        _one_line_error(
            capsys, "holds a drlab DQN run, not a training run", f"drlab rl evaluate {made['dqn']}"
        )
    assert main(["rl", "evaluate", str(made["train"])]) == 2
    _one_line_error(
        capsys,
        "holds a drlab training run, not a DQN, REINFORCE, A2C or PPO run",
        f"drlab evaluate {made['train']}",
    )


# --- hangs ---------------------------------------------------------------------------------------------------
@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail a test that runs for more than a minute instead of hanging the suite."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError("the command did not finish within 60 s (a hang)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_cliffwalking_ends_in_training_and_in_evaluation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], deadline: None
) -> None:
    # few episodes: the greedy policy is still poor, and loops between cells without the step limit
    argv = ["rl", "qlearning", "--env", "CliffWalking-v1", "--episodes", "20", "--eval-episodes", "3"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    assert "greedy policy over 3 episodes" in capsys.readouterr().out


# --- a SIGKILL in the middle of a write ------------------------------------------------------------------------
KILL_AT_RENAME = """
import os, signal, sys
from drlab.cli import main
target, nth, seen = sys.argv[1], int(sys.argv[2]), []
def hook(event, args):
    if event == "os.rename" and os.fspath(args[1]) == target:
        seen.append(1)
        if len(seen) == nth:  # the file is whole under its temporary name, and recorded: now die
            os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.exit(main(sys.argv[3:]))
"""


def _recorded_or_leftover(run: Path) -> None:
    """Every regular file in ``run`` is one its marker lists with this content, or a recorded temporary."""
    marker = json.loads((run / MARKER_NAME).read_text())
    for path in run.iterdir():
        if path.name in (MARKER_NAME, LOCK_NAME):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        recorded = [fp["sha256"] for fp in marker["files"].get(path.name, [])]
        assert digest in recorded or path.name in marker["temporary"], path.name


def test_a_run_killed_mid_write_is_all_drlab_s_and_resumes_exactly(tmp_path: Path) -> None:
    import subprocess
    import sys

    argv = ["train", "--dataset", "digits", "--limit", "100", "--epochs", "2", "--no-plots", "--quiet"]
    killed = tmp_path / "killed"
    child = subprocess.run(
        [sys.executable, "-c", KILL_AT_RENAME, "checkpoint.pt", "2", *argv, "--out", str(killed)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert (killed / ".checkpoint.pt.drlab-tmp").exists()  # the second checkpoint, never renamed
    _recorded_or_leftover(killed)
    assert main([*argv, "--out", str(killed), "--resume"]) == 0  # from the first checkpoint
    assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
    assert (killed / "history.csv").read_text().splitlines()[1].split(",")[:5] == (
        (tmp_path / "whole" / "history.csv").read_text().splitlines()[1].split(",")[:5]
    )
    _recorded_or_leftover(killed)
    assert not (killed / ".checkpoint.pt.drlab-tmp").exists()  # the resumed run swept drlab's leftover
    assert main([*argv, "--out", str(killed), "--force"]) == 0


# --- more of the attacker's inputs -------------------------------------------------------------------------------
def test_an_env_id_that_would_import_a_module_is_refused(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    sys.modules.pop("this", None)  # `import this` prints the Zen of Python: a harmless witness
    assert main([*QLEARNING, "--env", "this:FrozenLake-v1", "--out", str(tmp_path / "q")]) == 2
    _one_line_error(capsys, "would import a module")
    run = _copy(made, "dqn", tmp_path)  # a run folder whose config.json was edited by someone else
    config = json.loads((run / "config.json").read_text())
    config["config"]["env"] = "this:CartPole-v1"
    (run / "config.json").write_text(json.dumps(config))
    assert main(["rl", "evaluate", str(run), "--episodes", "1"]) == 2
    _one_line_error(capsys, "would import a module")
    assert "this" not in sys.modules


def test_a_hostile_file_name_reaches_the_terminal_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "x\n\x1b]0;owned\x07\x1b[2Jscore 14 of 14").write_text("a file named by an attacker")
    assert main([*TRAIN, "--out", str(folder)]) == 2
    err = _one_line_error(capsys, "not a drlab run folder", "\\n", "\\x1b")
    assert "\x1b" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["linreg", "--lr", "1e300", "--epochs", "3", "--json"],
        ["linreg", "--true-a", "1e300", "--method", "layer", "--epochs", "3"],
    ],
)
def test_numbers_beyond_float32_are_refused_by_linreg(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    _one_line_error(capsys, argv[1])


def test_linreg_draws_a_run_where_every_method_diverged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["linreg", "--true-a", "1e38", "--true-b", "1e38", "--epochs", "3", "--plot", str(tmp_path)]
    assert main(argv) == 0
    capsys.readouterr()
    assert (tmp_path / "linreg_losses.png").read_bytes()[:4] == b"\x89PNG"


def test_an_edited_config_cannot_make_a_reader_allocate_a_huge_model(
    made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """predict, evaluate and rl evaluate build the model the run's config.json describes: its sizes are
    compared with the weights file's on PyTorch's meta device first (an image of 4096×4096 pixels asks
    an MLP for 4 billion weights: 150 s and 17 GB of memory before the mismatch was found)."""
    train = _copy(made, "train", tmp_path)
    record = json.loads((train / "config.json").read_text())
    record["dataset"]["image_shape"] = [1, 4096, 4096]
    (train / "config.json").write_text(json.dumps(record))
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (8, 8)).save(image)
    assert main(["predict", str(train), str(image)]) == 2
    _one_line_error(capsys, "layers.1.weight is (256, 64) in the file, (256, 16777216) for the model")
    dqn = _copy(made, "dqn", tmp_path)
    record = json.loads((dqn / "config.json").read_text())
    record["config"]["hidden_sizes"] = [1_000_000, 1_000_000]
    (dqn / "config.json").write_text(json.dumps(record))
    assert main(["rl", "evaluate", str(dqn), "--episodes", "1"]) == 2
    _one_line_error(capsys, "layers.0.weight is (8, 4) in the file, (1000000, 4) for the model")
