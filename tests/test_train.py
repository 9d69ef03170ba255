"""The trainer and the ``drlab train/evaluate/predict`` jobs: metrics against oracles, NaN detection,
determinism, exact resume, safe and atomic checkpoints, the run directory and the CLI end to end."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from drlab.cli import main
from drlab.common import device as device_module
from drlab.common.device import EffectivePrecision, effective_precision, precision_note
from drlab.common.errors import DrlabError, UsageError
from drlab.common.io import load_checkpoint, load_weights
from drlab.common.optim import OptimizerName, make_optimizer
from drlab.common.seeding import capture_rng_states, restore_rng_states
from drlab.data import Batches
from drlab.models import build_model
from drlab.train.config import SchedulerName, TrainConfig
from drlab.train.metrics import confusion_matrix, most_confused_pairs, per_class_accuracy
from drlab.train.predict import image_to_array
from drlab.train.run import train_run
from drlab.train.trainer import (
    EpochRow,
    TrainState,
    autocast,
    evaluate,
    fit,
    make_scheduler,
    train_one_epoch,
)

TINY = ["--dataset", "digits", "--limit", "150", "--quiet", "--no-plots"]


def synthetic_batches(n: int = 200, batch_size: int = 32, seed: int = 0, **kwargs: Any) -> Batches:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=generator)
    # class k is a bright square at position k: learnable in a few steps
    images = torch.randint(0, 60, (n, 8, 8), generator=generator, dtype=torch.uint8)
    for k in range(4):
        images[labels == k, 2 * k : 2 * k + 2, 2:6] = 250
    return Batches(images, labels, batch_size=batch_size, mean=0.2, std=0.3, seed=seed, **kwargs)


def fit_once(
    seed: int,
    epochs: int = 2,
    val: Batches | None = None,
    *,
    optimizer: OptimizerName = "adam",
    lr: float = 1e-3,
    scheduler: SchedulerName = "cosine",
    precision: EffectivePrecision = "fp32",
) -> tuple[list[EpochRow], TrainState]:
    torch.manual_seed(seed)
    model = build_model("mlp", (1, 8, 8), 4, dropout=0.2)
    train_batches = synthetic_batches(seed=seed)
    sgd_or_adam = make_optimizer(optimizer, model.parameters(), lr)
    state = TrainState(
        model, sgd_or_adam, make_scheduler(scheduler, sgd_or_adam, epochs * len(train_batches))
    )
    history = fit(
        model, state, train_batches, val or synthetic_batches(64, seed=99), epochs=epochs, precision=precision
    )
    return history, state


# ----------------------------------------------------------------------------- metrics
def textbook_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """The oracle: one count per (true, predicted) pair, a plain loop."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    for truth, guess in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        counts[truth, guess] += 1
    return counts


def test_confusion_matrix_and_per_class_accuracy_match_a_textbook_loop() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    ours = confusion_matrix(torch.from_numpy(y_true), torch.from_numpy(y_pred), 5).numpy()
    expected = textbook_confusion_matrix(y_true, y_pred, 5)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_allclose(per_class_accuracy(ours), expected.diagonal() / expected.sum(axis=1))
    pairs = most_confused_pairs(ours, 3)
    off = expected.copy()
    np.fill_diagonal(off, 0)
    assert pairs[0][2] == off.max() and [p[2] for p in pairs] == sorted((p[2] for p in pairs), reverse=True)


def test_evaluate_sums_counts_over_uneven_batches_like_one_full_batch() -> None:
    # 203 samples in batches of 50: the last batch is smaller, an average of batch means would be wrong
    batches = synthetic_batches(203, batch_size=50, shuffle=False)
    model = build_model("mlp", (1, 8, 8), 4)
    metrics = evaluate(model, batches)
    with torch.no_grad():
        logits = model(batches.x)
    assert metrics.samples == 203
    assert metrics.loss == pytest.approx(F.cross_entropy(logits, batches.y).item(), rel=1e-5)
    assert metrics.accuracy == pytest.approx((logits.argmax(1) == batches.y).float().mean().item())
    expected = textbook_confusion_matrix(batches.y.numpy(), logits.argmax(1).numpy(), 4)
    np.testing.assert_array_equal(metrics.confusion, expected)


def test_train_one_epoch_metrics_are_exact_sums_and_counts() -> None:
    batches = synthetic_batches(203, batch_size=50, shuffle=False)
    model = build_model("softmax", (1, 8, 8), 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # a step of zero: the model stays as it is
    metrics = train_one_epoch(model, batches, optimizer)
    with torch.no_grad():
        logits = model(batches.x)
    assert metrics.samples == 203
    assert metrics.loss == pytest.approx(F.cross_entropy(logits, batches.y).item(), rel=1e-5)
    assert metrics.accuracy == pytest.approx((logits.argmax(1) == batches.y).float().mean().item())


# ----------------------------------------------------------------------------- the loop
def test_nan_loss_stops_with_epoch_batch_and_last_finite_loss() -> None:
    batches = synthetic_batches(200, batch_size=20, shuffle=False)
    batches.x[65] = float("nan")  # sample 65 sits in batch 4 (indices 60–79)
    model = build_model("mlp", (1, 8, 8), 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(DrlabError) as info:
        train_one_epoch(model, batches, optimizer)
    message = str(info.value)
    assert "epoch 1, batch 4/10" in message
    assert "last finite loss: " in message and "nan" not in message.split("last finite loss: ")[1][:6]
    assert "--lr 0.0001" in message


def test_same_seed_same_numbers_and_another_seed_other_numbers() -> None:
    history_a, state_a = fit_once(seed=3)
    history_b, state_b = fit_once(seed=3)
    history_c, _ = fit_once(seed=4)
    assert [r.train_loss for r in history_a] == [r.train_loss for r in history_b]
    weights_a, weights_b = state_a.raw_model.state_dict(), state_b.raw_model.state_dict()
    for p, q in zip(weights_a.values(), weights_b.values(), strict=True):
        assert torch.equal(p, q)
    assert [r.train_loss for r in history_a] != [r.train_loss for r in history_c]


def _misleading_val() -> Batches:
    # the validation labels are the training rule shifted by one class: the better the model learns
    # the training set, the worse it does here, so the best validation epoch comes early
    val = synthetic_batches(64, seed=99, shuffle=False)
    val.y = (val.y + 1) % 4
    return val


def test_the_best_epoch_is_restored_not_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    real_end_epoch = TrainState.end_epoch

    def end_epoch_and_snapshot(state: TrainState, row: EpochRow) -> bool:
        snapshots[row.epoch] = {k: v.clone() for k, v in state.raw_model.state_dict().items()}
        return real_end_epoch(state, row)

    monkeypatch.setattr(TrainState, "end_epoch", end_epoch_and_snapshot)
    history, state = fit_once(seed=0, epochs=4, val=_misleading_val(), optimizer="sgd", lr=0.5)
    # the oracle: the best epoch by the rule (highest val accuracy, then lowest val loss), from the history
    best = min(history, key=lambda r: (-r.val_accuracy, r.val_loss, r.epoch)).epoch
    assert best != len(history) and state.best_epoch == best
    for name, tensor in state.raw_model.state_dict().items():
        torch.testing.assert_close(tensor, snapshots[best][name], rtol=0, atol=0)
    assert any(not torch.equal(snapshots[best][k], v) for k, v in snapshots[len(history)].items())


def test_max_grad_norm_bounds_the_update_like_clip_grad_norm() -> None:
    # one batch, plain SGD: the update is exactly −lr · g · min(1, c / ‖g‖), g from autograd
    batches = synthetic_batches(64, batch_size=64, shuffle=False)
    torch.manual_seed(0)
    model = build_model("softmax", (1, 8, 8), 4)
    before = [p.detach().clone() for p in model.parameters()]
    grads = torch.autograd.grad(F.cross_entropy(model(batches.x), batches.y), list(model.parameters()))
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    clip, lr = 0.01, 0.1
    assert norm > 10 * clip  # the clipping matters here
    train_one_epoch(model, batches, torch.optim.SGD(model.parameters(), lr=lr), max_grad_norm=clip)
    for p, p0, g in zip(model.parameters(), before, grads, strict=True):
        torch.testing.assert_close(p.detach(), p0 - lr * g * clip / norm, rtol=1e-4, atol=1e-7)


def test_schedulers_and_the_lr_in_the_history_follow_the_schedule() -> None:
    history, _ = fit_once(seed=0, epochs=3, scheduler="cosine", lr=1e-3)
    lr0, steps = 1e-3, len(synthetic_batches())  # 7 batches per epoch, 21 in all
    # the record holds the lr at the end of the epoch: cosine over every batch of the run, stepped after each
    expected = [lr0 * (1 + math.cos(math.pi * epoch * steps / (3 * steps))) / 2 for epoch in (1, 2, 3)]
    assert [r.lr for r in history] == pytest.approx(expected, abs=1e-12)
    history, _ = fit_once(seed=0, epochs=2, scheduler="one-cycle", optimizer="sgd", lr=0.05)
    assert all(math.isfinite(r.train_loss) for r in history)


def test_precision_resolves_per_device_and_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    # the probe itself: a CPU has native bf16 exactly when torch reports AVX512-BF16 or AMX
    expected = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert device_module.native_bf16("cpu") == expected
    assert [effective_precision("fp32", d) for d in (cpu, cuda, mps)] == ["fp32"] * 3
    assert [effective_precision("bf16", d) for d in (cpu, cuda, mps)] == ["bf16", "bf16", "fp32"]
    for native in (True, False):
        monkeypatch.setattr(device_module, "native_bf16", lambda device_type, native=native: native)
        assert effective_precision("auto", cpu) == ("bf16" if native else "fp32")


def test_bf16_on_the_cpu_computes_in_bfloat16_and_follows_the_float32_run() -> None:
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with autocast("bf16", torch.device("cpu")):
        assert layer(x).dtype == torch.bfloat16
    with autocast("fp32", torch.device("cpu")):
        assert layer(x).dtype == torch.float32
    # oracle: the float32 run; bf16 keeps 8 bits of mantissa, so the losses agree to about 1%
    fp32, _ = fit_once(seed=0, epochs=2, lr=1e-3)
    bf16, _ = fit_once(seed=0, epochs=2, lr=1e-3, precision="bf16")
    again, _ = fit_once(seed=0, epochs=2, lr=1e-3, precision="bf16")
    assert [r.train_loss for r in bf16] == [r.train_loss for r in again]  # same seed, same numbers
    assert [r.train_loss for r in bf16] != [r.train_loss for r in fp32]  # bf16 was really used
    for ours, reference in zip(bf16, fp32, strict=True):
        assert ours.train_loss == pytest.approx(reference.train_loss, rel=0.02)
        assert ours.val_accuracy == pytest.approx(reference.val_accuracy, abs=0.05)


def test_precision_notes_say_when_bf16_is_not_what_it_seems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "float32 on mps" in str(precision_note("bf16", torch.device("mps")))
    assert precision_note("auto", torch.device("mps")) is None
    assert precision_note("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(device_module, "native_bf16", lambda device_type: False)
    assert "emulated" in str(precision_note("bf16", torch.device("cpu")))
    assert precision_note("auto", torch.device("cpu")) is None  # auto chose float32: nothing to say
    notes: list[str] = []
    config = TrainConfig(
        dataset="digits", model="softmax", epochs=1, limit=100, precision="bf16", plots=False
    )
    train_run(config, tmp_path / "run", log=notes.append)
    assert "emulated" in notes[0]


def test_rng_states_are_captured_and_restored() -> None:
    import random

    states = capture_rng_states()
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    restore_rng_states(states)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1]) and drawn[2] == again[2]


# ----------------------------------------------------------------------------- checkpoints
def test_resume_equals_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # cnn-bn: dropout (torch RNG), batch norm (buffers), Adam (moments), cosine schedule (state)
    config = TrainConfig(dataset="digits", model="cnn-bn", epochs=3, limit=160, batch_size=32, plots=False)
    train_run(config, tmp_path / "whole")

    def interrupt(state: TrainState, row: EpochRow) -> None:
        if row.epoch == 2:
            raise KeyboardInterrupt  # Ctrl-C right after epoch 2's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_run(config, tmp_path / "cut", on_epoch_end=interrupt)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    np.random.seed(12345)  # disturb every global generator: the checkpoint must restore them
    torch.manual_seed(12345)
    result = train_run(config, tmp_path / "cut", resume=True)
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    resumed = load_weights(tmp_path / "cut" / "model.safetensors")
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, atol=1e-6, rtol=0)
    history_whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert result.metrics["test_accuracy"] == history_whole["test_accuracy"]
    losses_whole = (tmp_path / "whole" / "history.csv").read_text().splitlines()
    losses_cut = (tmp_path / "cut" / "history.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in losses_whole] == [line.split(",")[1] for line in losses_cut]


class _CreatesAFile:
    """Unpickling this object creates a file: what a malicious checkpoint would do (with worse)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> Any:
        return (Path.touch, (self.target,))


def test_malicious_checkpoint_is_refused_and_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    evidence = tmp_path / "pwned"
    with open(run / "checkpoint.pt", "wb") as handle:
        pickle.dump({"model": _CreatesAFile(evidence)}, handle, protocol=2)
    capsys.readouterr()
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "refused" in err and err.count("\n") == 1
    assert not evidence.exists()


def test_interrupted_save_leaves_the_previous_checkpoint_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    calls = {"n": 0}

    def crashing_save(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        if not (isinstance(obj, dict) and "sha256" in obj):  # the checkpoint's content, to be checksummed
            return real_save(obj, handle, *args, **kwargs)
        calls["n"] += 1  # the envelope that goes to the file
        if calls["n"] == 2:  # the second epoch's checkpoint: half written, then the "power cut"
            handle.write(b"PK\x03\x04 half a zip file")
            raise OSError("simulated crash in the middle of writing")
        real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", crashing_save)
    config = TrainConfig(dataset="digits", model="mlp", epochs=3, limit=100, plots=False)
    with pytest.raises(OSError, match="simulated crash"):
        train_run(config, tmp_path / "run")
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["epoch"] == 1 and checkpoint["info"]["model"] == "mlp"
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(torch, "save", real_save)
    resumed = train_run(config, tmp_path / "run", resume=True)
    assert len(resumed.history) == 3


def test_checkpoint_from_another_model_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for model in ("mlp", "softmax"):
        assert main(["train", *TINY, "--epochs", "1", "--model", model, "--out", str(tmp_path / model)]) == 0
    (tmp_path / "softmax" / "checkpoint.pt").replace(tmp_path / "mlp" / "checkpoint.pt")
    capsys.readouterr()
    before = (tmp_path / "mlp" / "model.safetensors").read_bytes()
    assert main(["train", *TINY, "--epochs", "2", "--out", str(tmp_path / "mlp"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--model softmax, not mlp" in err and err.count("\n") == 1
    assert (tmp_path / "mlp" / "model.safetensors").read_bytes() == before
    # resuming with a contradicting recipe option is refused too
    assert (
        main(["train", *TINY, "--epochs", "2", "--model", "cnn", "--out", str(tmp_path / "mlp"), "--resume"])
        == 2
    )
    assert "trained with --model mlp, not cnn" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the CLI, end to end
def test_cli_train_evaluate_predict_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "digits",
        "--limit",
        "200",
        "--model",
        "cnn",
        "--epochs",
        "2",
        "--out",
        str(run),
    ]
    assert main([*args, "--summary", "--tensorboard"]) == 0
    out = capsys.readouterr().out
    assert "output shape" in out and "epoch 2/2" in out and "test accuracy" in out
    for name in ("config.json", "history.csv", "metrics.json", "model.safetensors", "checkpoint.pt", "curves.png",
                 "confusion_matrix.png", "predictions.png", "confused_pairs.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert metrics["parameters"] > 0 and metrics["samples_per_second"] > 0 and metrics["train_seconds"] > 0
    # one time base: the speed is the training samples over the training seconds of history.csv
    import csv

    rows = list(csv.DictReader((run / "history.csv").open()))
    train_seconds = sum(float(r["train_seconds"]) for r in rows)
    assert metrics["train_seconds"] == pytest.approx(train_seconds)
    assert metrics["samples_per_second"] == pytest.approx(
        sum(int(r["train_samples"]) for r in rows) / train_seconds
    )
    assert all(
        float(r["seconds"]) == pytest.approx(float(r["train_seconds"]) + float(r["val_seconds"]))
        for r in rows
    )
    confusion = np.asarray(metrics["confusion_matrix"])
    assert confusion.trace() / confusion.sum() == pytest.approx(metrics["test_accuracy"])
    assert len((run / "history.csv").read_text().splitlines()) == 3
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["lr"] == 1e-3 and config["dataset"]["image_shape"] == [1, 8, 8]

    # a second run into the same folder is refused, and nothing is touched
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before

    # resume to 3 epochs: only --out and --epochs are needed, the rest comes from config.json
    assert main(["train", "--out", str(run), "--epochs", "3", "--resume", "--scheduler", "cosine"]) == 2
    assert "planned for 2 epochs" in capsys.readouterr().err

    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in out
    assert main(["evaluate", str(run), "--split", "val"]) == 0
    assert (run / "metrics_val.json").is_file() and "val accuracy" in capsys.readouterr().out

    images = []
    for i, (mode, size) in enumerate(
        [("RGB", (28, 28)), ("RGBA", (16, 16)), ("L", (100, 37)), ("P", (5, 9))]
    ):
        path = tmp_path / f"image{i}.png"
        Image.new(mode, size, color=200 if mode in ("L", "P") else (200,) * len(mode)).save(path)
        images.append(str(path))
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (255, 255, 255)).save(jpeg)
    assert main(["predict", str(run), *images, str(jpeg)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    for line in lines:
        probabilities = [float(part.split()[-1].rstrip("%")) for part in line.split(": ", 1)[1].split(", ")]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)

    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    assert main(["predict", str(run), str(tmp_path / "broken.png")]) == 2
    err = capsys.readouterr().err
    assert "broken.png: not a readable image" in err and err.count("\n") == 1
    assert main(["predict", str(tmp_path / "nowhere"), images[0]]) == 2
    assert "holds no drlab run" in capsys.readouterr().err


def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["train", "--model", "resnet"], ["train", "--dataset", "mnist"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "invalid choice" in err
    cases = [
        (["train", *TINY, "--epochs", "0", "--out", str(tmp_path / "x")], "--epochs must be ≥ 1"),
        (["train", *TINY, "--out", str(tmp_path / "y"), "--resume"], "holds no drlab training run"),
        (["train", *TINY, "--device", "cuda", "--out", str(tmp_path / "z")], "no CUDA GPU"),
        (["train", *TINY, "--lr", "-1", "--out", str(tmp_path / "w")], "--lr must be > 0"),
        (["evaluate", str(tmp_path / "nothing")], "holds no drlab training run"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, (argv, err)


def test_train_force_replaces_a_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    (run / "notes.txt").write_text("the user's, not drlab's")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run), "--force"]) == 0
    # --force replaces the files the previous run wrote, and only those
    assert (run / "notes.txt").exists() and (run / "model.safetensors").is_file()


# ----------------------------------------------------------------------------- predict's conversion
@pytest.mark.parametrize(
    ("mode", "size"),
    [("RGB", (28, 28)), ("RGBA", (28, 28)), ("L", (28, 28)), ("L", (16, 16)), ("RGB", (100, 37))],
)
def test_images_of_any_mode_and_size_become_dataset_images(
    tmp_path: Path, mode: str, size: tuple[int, int]
) -> None:
    # a dark object on a light background, as a photo would be: it must come out light on black
    width, height = size
    grey = np.full((height, width), 230, dtype=np.uint8)
    grey[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 20
    image = Image.fromarray(grey).convert(mode)
    path = tmp_path / f"object.{'png'}"
    image.save(path)
    for target in ((28, 28), (8, 8)):
        array = image_to_array(path, *target)
        assert array.shape == target and array.dtype == np.uint8
        assert array[0, 0] < 40 and array[-1, -1] < 40  # the background is black
        assert array[target[0] // 2, target[1] // 2] > 60  # the object is light (blurred when shrunk 12×)


def test_transparent_background_becomes_black(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[5:15, 5:15] = (255, 255, 255, 255)  # an opaque white square on a fully transparent canvas
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba, "RGBA").save(path)
    array = image_to_array(path, 28, 28)
    assert array[14, 14] > 200 and array[0, 0] == 0


def test_unreadable_image_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.jpg"
    path.write_text("hello")
    with pytest.raises(UsageError, match="not a readable image"):
        image_to_array(path, 28, 28)


# ----------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_digits_mlp_reaches_95_percent(tmp_path: Path) -> None:
    result = train_run(TrainConfig(dataset="digits", model="mlp", epochs=20), tmp_path / "run")
    assert result.metrics["test_accuracy"] >= 0.95


def test_tensorboard_missing_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a),
    )
    assert main(["train", *TINY, "--tensorboard", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --tensorboard needs the tensorboard package") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
