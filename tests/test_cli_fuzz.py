"""The CLI against a clumsy user and an attacker: a table of commands × bad values.

Every case runs ``drlab`` in-process, in a scratch folder that holds real runs (a TP1 run, a DQN run and
damaged copies of them), a user's project folder, a file, a symlink, a FIFO and a decompression bomb.
Each case asserts

- the exit status (2: bad input, 1: a failed world such as a full disk),
- exactly one line on stderr, ``error: …``, holding the expected reason, and no traceback,
- that nothing in the scratch folder changed: every file (the sentinels beside and inside ``--out``
  included) has the same bytes and the same modification time, and no file or folder appeared.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from drlab.cli import main
from drlab.common.io import save_checkpoint

HAS_CUDA = torch.cuda.is_available()
TRAIN = ("--dataset", "digits", "--limit", "150", "--no-plots", "--quiet")
TINY_DQN = (
    "--total-steps", "600", "--learning-starts", "100", "--train-freq", "64", "--gradient-steps", "2",
    "--hidden-sizes", "8", "--eval-freq", "300", "--eval-episodes", "2", "--checkpoint-freq", "300", "--quiet",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    """the command line; ``{home}`` is replaced by the home folder"""
    message: str
    """a piece of the one error line"""
    status: int = 2
    """the exit status"""
    setup: str = ""
    """"lock": another process holds tr's lock; "full-disk": every fsync fails with ENOSPC"""

    @property
    def id(self) -> str:
        return " ".join(self.argv)[:90] + (f" [{self.setup}]" if self.setup else "")


def _pairs(text: str) -> list[list[str]]:
    """``"--lr inf, --lr nan"`` → ``[["--lr", "inf"], ["--lr", "nan"]]``: an option and its bad values."""
    return [item.split() for item in text.split(",")]


def _c(*argv: str, message: str, status: int = 2, setup: str = "") -> Case:
    return Case(tuple(argv), message, status, setup)


CASES: list[Case] = [
    # --- run folders: --force never turns against the user ---------------------------------------------
    _c("train", *TRAIN, "--out", "project", "--force", message="not a drlab run folder"),
    _c("train", *TRAIN, "--out", "project", message="not a drlab run folder"),
    _c("train", *TRAIN, "--out", ".", "--force", message="contains the current folder"),
    _c("train", *TRAIN, "--out", "", "--force", message="--out is empty"),
    _c("train", *TRAIN, "--out", "", message="--out is empty"),
    _c("train", *TRAIN, "--out", "/", "--force", message="refused"),
    _c("train", *TRAIN, "--out", "{home}", "--force", message="refused"),
    _c("train", *TRAIN, "--out", "link", "--force", message="symbolic link"),
    _c("train", *TRAIN, "--out", "link", message="symbolic link"),
    _c("train", *TRAIN, "--out", "afile/run", message="is under afile, a file"),
    _c("train", *TRAIN, "--out", "afile", "--force", message="not a folder"),
    _c("train", *TRAIN, "--out", "tr", message="already holds a run"),
    _c(
        "train",
        *TRAIN,
        "--out",
        "tr",
        "--force",
        message="in use by another drlab run (pid 4242",
        setup="lock",
    ),
    _c("train", *TRAIN, "--out", "tr", "--resume", message="in use by another drlab run", setup="lock"),
    _c("rl", "qlearning", "--out", "project", "--force", message="not a drlab run folder"),
    _c("rl", "qlearning", "--out", ".", "--force", message="contains the current folder"),
    _c("rl", "qlearning", "--out", "", message="--out is empty"),
    _c("rl", "qlearning", "--out", "link", "--force", message="symbolic link"),
    _c("rl", "dqn", "--out", "project", "--force", message="not a drlab run folder"),
    _c("rl", "dqn", "--out", "/", "--force", message="refused"),
    _c("rl", "dqn", "--out", "afile/x", message="a file"),
    # --- validate everything, then touch files --------------------------------------------------------
    _c("rl", "qlearning", "--seed", "-1", "--force", "--out", "dq", message="--seed"),
    _c("rl", "qlearning", "--env", "CartPole-v1", "--force", "--out", "dq", message="discrete state space"),
    _c("rl", "dqn", "--tau", "0", "--force", "--out", "dq", message="--tau"),
    _c("rl", "dqn", "--seed", "4294967296", "--force", "--out", "dq", message="--seed"),
    _c("train", *TRAIN, "--lr", "nan", "--force", "--out", "tr", message="--lr"),
    # --- train: every float finite and in range ---------------------------------------------------------
    *[
        _c("train", *TRAIN, *bad, "--out", "new", message=bad[0])
        for bad in _pairs(
            "--lr inf, --lr nan, --lr -1, --lr 0, --momentum nan, --momentum 1, --weight-decay inf, "
            "--weight-decay -1, --max-grad-norm 0, --max-grad-norm nan, --dropout 1, --dropout nan, --val-fraction 0, "
            "--val-fraction 1, --val-fraction nan, --seed -1, --seed 4294967296, --epochs 0, --batch-size 0, "
            "--limit 5"
        )
    ],
    _c(
        "train", *TRAIN, "--grad-clip", "0", "--out", "new", message="--max-grad-norm must be > 0"
    ),  # old name
    _c("train", *TRAIN, "--resume", "--force", "--out", "tr", message="contradict"),
    _c("train", *TRAIN, "--device", "tpu-of-dreams", "--out", "new", message="not a device drlab can use"),
    *([] if HAS_CUDA else [_c("train", *TRAIN, "--device", "cuda", "--out", "new", message="no CUDA GPU")]),
    # --- train --resume: the saved run decides, damaged files are one line ----------------------------------
    _c("train", "--resume", "--out", "tr", "--epochs", "1", message="already trained 2 epochs"),
    _c("train", "--resume", "--out", "tr", "--optimizer", "sgd", message="--optimizer adam, not sgd"),
    _c("train", "--resume", "--out", "tr", "--lr", "0.5", message="--lr"),
    _c("train", "--resume", "--out", "trcorrupt", "--epochs", "3", message="damaged checkpoint"),
    _c("train", "--resume", "--out", "trbadcfg", "--epochs", "3", message="'lr' holds 'fast'"),
    _c("train", "--resume", "--out", "trplain", "--epochs", "3", message="not a drlab checkpoint"),
    _c("train", "--resume", "--out", "dq", message="not a training run"),
    _c("train", "--resume", "--out", "new", message="holds no drlab training run"),
    _c("train", "--resume", "--out", "project", message="holds no drlab training run"),
    _c("train", "--resume", "--out", "tr", "--epochs", "2", message="is intact", status=1, setup="full-disk"),
    # --- distributed: checked before torchrun starts --------------------------------------------------
    _c("train", *TRAIN, "--nproc", "2", "--batch-size", "1", "--out", "new", message="--batch-size ≥ 2"),
    _c("train", *TRAIN, "--nproc", "4", "--limit", "20", "--out", "new", message="fewer validation images"),
    _c("train", *TRAIN, "--nproc", "0", "--out", "new", message="--nproc"),
    _c("train", *TRAIN, "--nproc", "100000", "--out", "new", message="--nproc"),
    _c("train", *TRAIN, "--nproc", "2", "--out", "tr", message="already holds a run"),
    _c("train", *TRAIN, "--nproc", "2", "--lr", "inf", "--out", "new", message="--lr"),
    _c("train", *TRAIN, "--nproc", "2", "--out", "project", "--force", message="not a drlab run folder"),
    *(
        []
        if HAS_CUDA
        else [_c("train", *TRAIN, "--nproc", "2", "--device", "cuda", "--out", "new", message="no CUDA GPU")]
    ),
    # --- evaluate and predict ---------------------------------------------------------------------------
    _c("evaluate", "tr", "--seed", "-1", message="--seed"),
    _c("evaluate", "trbadcfg", message="'lr' holds 'fast'"),
    _c("evaluate", "trbadds", message="damaged 'dataset' record"),
    _c("evaluate", "missing", message="holds no drlab training run"),
    _c("evaluate", "afile", message="not a folder"),
    _c("evaluate", "project", message="holds no drlab training run"),
    _c("evaluate", "dq", message="holds a drlab DQN run, not a training run"),
    _c("evaluate", "tr", message="in use by another drlab run", setup="lock"),
    _c("predict", "tr", "img.png", "--seed", "-1", message="--seed"),
    _c("predict", "tr", "img.png", "--top", "0", message="--top"),
    _c("predict", "tr", "bomb.png", message="decompression bomb"),
    _c("predict", "tr", "fifo.png", message="not a regular file"),
    _c("predict", "tr", "/dev/zero", message="not a regular file"),
    _c("predict", "tr", "missing.png", message="no such image file"),
    _c("predict", "tr", "afile", message="not a readable image"),
    _c("predict", "tr", ".", message="is a folder"),
    _c("predict", "trbadcfg", "img.png", message="'lr' holds 'fast'"),
    _c("predict", "trbadds", "img.png", message="damaged 'dataset' record"),
    _c("predict", "trfifo", "img.png", message="holds no drlab run"),
    # --- rl qlearning ------------------------------------------------------------------------------------
    *[
        _c("rl", "qlearning", *bad, "--out", "new", message=bad[0])
        for bad in _pairs(
            "--epsilon-start nan, --epsilon-start 5, --epsilon-end -0.1, --lr 0, --lr "
            "inf, --gamma 2, --gamma nan, --episodes 0, --eval-episodes -3, --exploration-fraction nan, "
            "--seed -1"
        )
    ],
    _c(
        "rl",
        "qlearning",
        "--episodes",
        "3",
        "--eval-episodes",
        "2",
        "--out",
        "new",
        message="disk is full",
        status=1,
        setup="full-disk",
    ),
    # --- rl dqn ----------------------------------------------------------------------------------------
    _c("rl", "dqn", "--buffer-size", "1000000000000", "--out", "new", message="would need"),
    _c("rl", "dqn", "--hidden-sizes", "100000", "100000", "--out", "new", message="would need"),
    _c("rl", "dqn", "--num-threads", "100000", "--out", "new", message="--num-threads"),
    *[
        _c("rl", "dqn", *bad, "--out", "new", message=bad[0])
        for bad in _pairs(
            "--lr inf, --lr nan, --max-grad-norm -1, --epsilon-start 5, "
            "--learning-starts -5, --final-lr-fraction -3, --tau nan, --gamma inf, --total-steps "
            "0, --buffer-size 0, --batch-size -1, --hidden-sizes 0, --hidden-sizes 8 -8, --eval-freq -1, "
            "--num-threads 0, --seed -1, --exploration-fraction 2"
        )
    ],
    _c("rl", "dqn", "--env", "Nope-v1", "--out", "new", message="Nope-v1"),
    *([] if HAS_CUDA else [_c("rl", "dqn", "--device", "cuda", "--out", "new", message="no CUDA GPU")]),
    _c("rl", "dqn", "--resume", "--force", "--out", "dq", message="contradict"),
    _c("rl", "dqn", "--resume", "--out", "dqbad", message="no 'gamma'"),
    _c("rl", "dqn", "--resume", "--out", "dqkeys", message="its content has no q_network"),
    _c("rl", "dqn", "--resume", "--out", "dqcorrupt", message="damaged checkpoint"),
    _c("rl", "dqn", "--resume", "--out", "dq", "--total-steps", "100", message="already trained 600 steps"),
    _c("rl", "dqn", "--resume", "--out", "dq", "--train-freq", "256", message="--train-freq 64, not 256"),
    _c("rl", "dqn", "--resume", "--out", "dq", "--num-threads", "100000", message="--num-threads"),
    _c("rl", "dqn", "--resume", "--out", "tr", message="not a DQN run"),
    _c("rl", "dqn", "--resume", "--out", "new", message="holds no drlab DQN run"),
    # --- rl evaluate -------------------------------------------------------------------------------------
    _c("rl", "evaluate", "dq", "--seed", "-1", message="--seed"),
    _c("rl", "evaluate", "dq", "--episodes", "0", message="--episodes"),
    _c("rl", "evaluate", "dq", "--seed", "4294967295", "--episodes", "2", message="--seed"),
    _c("rl", "evaluate", "dqbad", message="no 'gamma'"),
    _c("rl", "evaluate", "missing", message="no such run"),
    _c("rl", "evaluate", "tr", message="not a DQN, REINFORCE, A2C or PPO run"),
    _c("rl", "evaluate", "dq", "--gif", "out.png", message="must end in .gif"),
    # --- rl reinforce, a2c, ppo -------------------------------------------------------------------------
    *[
        _c("rl", "ppo", *bad, "--out", "new", message=bad[0])
        for bad in _pairs(
            "--lr 0, --lr nan, --gamma 2, --gae-lambda -1, --clip-range 0, --ent-coef -1, --vf-coef nan, "
            "--max-grad-norm -1, --num-envs 0, --n-steps 0, --n-epochs 0, --batch-size 0, --total-steps 0, "
            "--hidden-sizes 0, --seed -1, --num-threads 0, --eval-freq -1, --log-std-init inf"
        )
    ],
    *[
        _c("rl", "a2c", *bad, "--out", "new", message=bad[0])
        for bad in _pairs("--n-steps 0, --gae-lambda 2, --lr inf, --num-envs 5000")
    ],
    *[
        _c("rl", "reinforce", *bad, "--out", "new", message=bad[0])
        for bad in _pairs("--episodes 0, --vf-coef -1")
    ],
    _c("rl", "ppo", "--batch-size", "100", "--out", "new", message="must divide"),
    _c("rl", "ppo", "--env", "Nope-v1", "--out", "new", message="Nope-v1"),
    _c("rl", "a2c", "--env", "FrozenLake-v1", "--out", "new", message="vector observations"),
    _c("rl", "ppo", "--resume", "--out", "dq", message="not a PPO run"),
    _c("rl", "reinforce", "--resume", "--out", "new", message="holds no drlab REINFORCE run"),
    # --- linreg and graph -----------------------------------------------------------------------------
    *[
        _c("linreg", *bad, message=bad[0])
        for bad in _pairs(
            "--lr inf, --lr nan, --lr 0, --noise inf, --noise -1, --true-a nan, --true-b -inf, --epochs 0, "
            "--epochs 100000000, --seed -1, --data-seed 4294967296, --batch-size 0, --n-samples 1, --plot "
            "afile"
        )
    ],
    _c("graph", "--out", "afile", message="not a folder"),
    _c("graph", "--out", "", message="empty"),
    _c("graph", "--seed", "-1", "--out", "new", message="--seed"),
    # --- data ---------------------------------------------------------------------------------------------
    _c("data", "info", "digits", "--seed", "-1", message="--seed"),
    _c("data", "download", "fashion-mnist", "--timeout", "nan", message="--timeout"),
    _c("data", "download", "fashion-mnist", "--timeout", "inf", message="--timeout"),
    _c("data", "download", "fashion-mnist", "--timeout", "0", message="--timeout"),
    _c("data", "download", "fashion-mnist", "--timeout", "-1", message="--timeout"),
    # --- argparse's own errors are one line too -----------------------------------------------------------
    _c("train", "--epochs", "many", message="invalid int value"),
    _c("rl", "dqn", "--loss", "cubic", message="invalid choice"),
    _c("linreg", "--lr", message="expected one argument"),
]


# --- the scratch folder -------------------------------------------------------------------------------
def _png(width: int, height: int, rows: int) -> bytes:
    """A greyscale PNG of ``width``×``height`` whose data holds ``rows`` rows (fewer: a cut-off file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + bytes([(7 * r) % 256]) * width for r in range(rows)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _flip(path: Path, start: int, count: int = 50) -> None:
    data = bytearray(path.read_bytes())
    for i in range(start, start + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real runs, damaged copies, a user's project and odd files; copied afresh for every case."""
    root = tmp_path_factory.mktemp("template")
    assert main(["train", *TRAIN, "--epochs", "2", "--out", str(root / "tr")]) == 0
    assert main(["rl", "dqn", *TINY_DQN, "--out", str(root / "dq")]) == 0
    damaged = {
        "tr": ("trcorrupt", "trbadcfg", "trbadds", "trplain", "trfifo"),
        "dq": ("dqbad", "dqkeys", "dqcorrupt"),
    }
    for source, copies in damaged.items():
        for name in copies:
            shutil.copytree(root / source, root / name)
    _flip(
        root / "trcorrupt" / "checkpoint.pt", start=(root / "trcorrupt" / "checkpoint.pt").stat().st_size // 2
    )
    _flip(
        root / "dqcorrupt" / "checkpoint.pt", start=(root / "dqcorrupt" / "checkpoint.pt").stat().st_size // 2
    )
    _edit_json(root / "trbadcfg" / "config.json", lambda r: r["config"].update(lr="fast"))
    _edit_json(root / "trbadds" / "config.json", lambda r: r["dataset"].update(image_shape=[1, "x", 8]))
    _edit_json(root / "dqbad" / "config.json", lambda r: r["config"].pop("gamma"))
    torch.save({"epoch": 1}, root / "trplain" / "checkpoint.pt")  # a torch file without drlab's checksum
    save_checkpoint({"step": 300}, root / "dqkeys" / "checkpoint.pt")  # checksummed, but not DQN's keys
    (root / "trfifo" / "config.json").unlink()  # becomes a FIFO in every case's copy
    project = root / "project"
    (project / ".git").mkdir(parents=True)
    (project / "config.json").write_text('{"editor": "mine"}')
    (project / "thesis.tex").write_text("three years of work")
    (root / "SENTINEL").write_text("beside every --out")
    (root / "afile").write_text("a plain file")
    (root / "img.png").write_bytes(_png(8, 8, 8))
    (root / "bomb.png").write_bytes(_png(20_000, 20_000, 1))  # claims 400 megapixels
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``root``: (type, a file's mtime, SHA-256 of a file's bytes). FIFOs are not opened."""
    state: dict[str, tuple[int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            regular = stat.S_ISREG(info.st_mode)
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if regular else ""
            # a folder's mtime moves when a lock file comes and goes: compare what it holds instead
            mtime = info.st_mtime_ns if regular else 0
            state[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), mtime, digest)
    return state


@pytest.fixture
def scratch(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "work"
    shutil.copytree(template, work, symlinks=True)
    (work / "link").symlink_to("tr")
    os.mkfifo(work / "fifo.png")
    os.mkfifo(work / "trfifo" / "config.json")
    monkeypatch.chdir(work)
    yield work


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_and_touches_nothing(
    case: Case, scratch: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [arg.replace("{home}", str(Path.home())) for arg in case.argv]
    lock_fd = None
    if case.setup == "lock":  # another drlab run holds tr (flock; its text says who)
        import fcntl

        lock_fd = os.open(scratch / "tr" / ".drlab-run.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(lock_fd, b"pid 4242 on labhost since 2026-01-01 00:00:00 UTC\n")
    before = _snapshot(scratch)
    if case.setup == "full-disk":

        def no_room(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", no_room)
    try:
        try:
            status = main(argv)
        except SystemExit as exit_info:  # argparse's errors
            status = exit_info.code  # type: ignore[assignment]
    finally:
        monkeypatch.undo()
        if lock_fd is not None:
            os.close(lock_fd)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.message in lines[0], (case.message, lines[0])
    assert status == case.status, (status, lines[0])
    after = _snapshot(scratch)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


def test_the_table_covers_every_command() -> None:
    """Every command of the CLI meets bad values here (a new command must join the table)."""
    commands = {
        case.argv[0] if case.argv[0] not in ("rl", "data") else " ".join(case.argv[:2]) for case in CASES
    }
    assert commands >= {
        "train", "evaluate", "predict", "linreg", "graph", "rl qlearning", "rl dqn", "rl evaluate",
        "data info", "data download",
    }  # fmt: skip
    assert len(CASES) >= 150
