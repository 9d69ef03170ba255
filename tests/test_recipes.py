"""TP1 recipes: random flips against a plain-loop reference, label smoothing and test-time flips against
hand-computed losses, determinism and exact resume with all of them, named recipes that resolve to valid,
overridable configs, a tiny ``--recipe fast`` run end to end."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from drlab.cli import main
from drlab.common.config import from_json, to_dict
from drlab.common.io import load_checkpoint, load_weights
from drlab.data import Batches
from drlab.models import build_model
from drlab.train.augment import BatchAugment, random_flip, random_translate
from drlab.train.config import ResolvedTrainConfig, TrainConfig
from drlab.train.recipes import RECIPES, apply_recipe, recipe_config
from drlab.train.run import train_run
from drlab.train.trainer import EpochRow, TrainState, evaluate, train_one_epoch


def images(n: int = 6, channels: int = 1, size: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- augmentation
def test_random_flip_mirrors_exactly_the_chosen_images() -> None:
    x = images()
    chosen = torch.tensor([True, False, True, True, False, False])
    out = random_flip(x, chosen)
    for i in range(len(x)):
        expected = torch.flip(x[i], dims=[2]) if chosen[i] else x[i]
        assert torch.equal(out[i], expected)


def test_random_flips_are_seeded_by_seed_and_epoch_and_leave_the_global_rng_alone() -> None:
    x = images(n=64, size=8)

    def draw(seed: int, epoch: int) -> torch.Tensor:
        flips = BatchAugment(seed=seed)
        flips.set_epoch(epoch)
        return flips(x)

    global_state = torch.get_rng_state()
    assert torch.equal(draw(0, 3), draw(0, 3))
    assert not torch.equal(draw(0, 3), draw(0, 4))
    assert not torch.equal(draw(1, 3), draw(0, 3))
    assert torch.equal(torch.get_rng_state(), global_state)
    # every image is itself or its mirror, and both happen
    flipped = draw(0, 0)
    mirrored = [torch.equal(flipped[i], x[i].flip(2)) for i in range(len(x))]
    same = [torch.equal(flipped[i], x[i]) for i in range(len(x))]
    assert all(m or s for m, s in zip(mirrored, same, strict=True)) and any(mirrored) and any(same)


def test_random_translate_equals_a_pixel_by_pixel_loop() -> None:
    x = images(n=5, channels=2, size=6)
    shifts = torch.tensor([[0, 0], [1, -2], [-2, 2], [2, 0], [-1, -1]])
    fill = -0.75
    out = random_translate(x, shifts, max_shift=2, fill=fill)
    n, channels, height, width = x.shape
    for i in range(n):
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        for c in range(channels):
            for row in range(height):
                for col in range(width):
                    source_row, source_col = row - dy, col - dx  # the pixel that moved here
                    inside = 0 <= source_row < height and 0 <= source_col < width
                    expected = x[i, c, source_row, source_col] if inside else torch.tensor(fill)
                    assert out[i, c, row, col] == expected, (i, c, row, col)


def test_shifts_are_seeded_and_each_image_is_a_translate_of_itself() -> None:
    x = images(n=32, size=8)

    def draw(seed: int, epoch: int) -> torch.Tensor:
        augment = BatchAugment(flip=False, max_shift=1, fill=-1.0, seed=seed)
        augment.set_epoch(epoch)
        return augment(x)

    assert torch.equal(draw(0, 2), draw(0, 2)) and not torch.equal(draw(0, 2), draw(0, 3))
    out = draw(0, 0)
    candidates = [
        random_translate(x, torch.tensor([[dy, dx]] * len(x)), max_shift=1, fill=-1.0)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    for i in range(len(x)):
        assert any(torch.equal(out[i], candidate[i]) for candidate in candidates)
    assert not torch.equal(out, x)


# ----------------------------------------------------------------------------- loss and evaluation
def synthetic(n: int = 96, batch_size: int = 32) -> Batches:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (n,), generator=generator)
    pixels = torch.randint(0, 255, (n, 8, 8), generator=generator, dtype=torch.uint8)
    return Batches(pixels, labels, batch_size=batch_size, mean=0.5, std=0.3, shuffle=False)


def test_label_smoothing_loss_equals_the_smoothed_cross_entropy_by_hand() -> None:
    torch.manual_seed(0)
    model = build_model("mlp", (1, 8, 8), 4)
    batches = synthetic(n=32, batch_size=32)
    epsilon = 0.2
    x, y = next(iter(batches))
    with torch.no_grad():
        log_p = F.log_softmax(model(x), dim=1)
    # the target puts 1 − ε on the true class and ε/K on every class: −Σ_k target_k log p_k
    target = torch.full_like(log_p, epsilon / 4)
    target[torch.arange(len(y)), y] += 1 - epsilon
    expected = float(-(target * log_p).sum(dim=1).mean())
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-9)
    smoothed = functools.partial(F.cross_entropy, label_smoothing=epsilon)  # as drlab.train.run builds it
    record = train_one_epoch(model, batches, optimizer, loss_fn=smoothed)
    assert record.loss == pytest.approx(expected, rel=1e-5)


def test_test_time_flips_average_the_logits_of_image_and_mirror() -> None:
    torch.manual_seed(0)
    model = build_model("cnn", (1, 8, 8), 4).eval()
    batches = synthetic()
    result = evaluate(model, batches, tta_flip=True)
    x, y = batches.x, batches.y
    with torch.no_grad():
        logits = (model(x) + model(torch.flip(x, dims=[3]))) / 2
    assert result.loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
    assert result.accuracy == int((logits.argmax(1) == y).sum()) / len(y)
    plain = evaluate(model, batches)
    with torch.no_grad():
        assert plain.loss == pytest.approx(float(F.cross_entropy(model(x), y)), rel=1e-5)
    assert abs(plain.loss - result.loss) > 1e-4  # the mirror images did change the predictions


# ----------------------------------------------------------------------------- whole runs
def tiny(**kw: Any) -> TrainConfig:
    return TrainConfig(dataset="digits", model="cnn-bn", epochs=3, limit=160, batch_size=32, plots=False,
                       flip=True, shift=1, label_smoothing=0.1, tta=True, **kw)  # fmt: skip


def test_same_seed_same_run_with_augmentation_and_label_smoothing(tmp_path: Path) -> None:
    a = train_run(tiny(), tmp_path / "a")
    b = train_run(tiny(), tmp_path / "b")
    c = train_run(tiny(seed=1), tmp_path / "c")
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    assert a.metrics["test_loss"] == b.metrics["test_loss"]
    assert [r.train_loss for r in a.history] != [r.train_loss for r in c.history]


def test_resume_with_augmentation_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    train_run(tiny(), tmp_path / "whole")

    def interrupt(state: TrainState, row: EpochRow) -> None:
        if row.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(tiny(), tmp_path / "cut", on_epoch_end=interrupt)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    torch.manual_seed(12345)
    train_run(tiny(), tmp_path / "cut", resume=True)
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    resumed = load_weights(tmp_path / "cut" / "model.safetensors")
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, atol=1e-6, rtol=0)


def test_every_recipe_resolves_to_a_valid_config_and_options_override_it() -> None:
    for name, values in RECIPES.items():
        config = recipe_config(name)
        config.check()
        resolved = config.resolved()
        assert resolved.recipe == name
        for option, value in values.items():
            assert getattr(resolved, option) == value, (name, option)
    config = recipe_config("accurate", epochs=2, flip=False)
    assert (config.epochs, config.flip, config.lr) == (2, False, RECIPES["accurate"]["lr"])
    # without a recipe nothing changes; a value typed equal to the default still beats the recipe
    plain = TrainConfig(model="mlp")
    assert apply_recipe(plain) == plain
    typed = apply_recipe(TrainConfig(recipe="fast", batch_size=128), given={"recipe", "batch_size"})
    assert typed.batch_size == 128 and typed.epochs == RECIPES["fast"]["epochs"]


def test_recipe_fast_end_to_end_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fast"
    args = ["train", "--recipe", "fast", "--dataset", "digits", "--limit", "200", "--epochs", "1"]
    code = main([*args, "--device", "cpu", "--quiet", "--no-plots", "--out", str(out)])
    assert code == 0
    saved = json.loads((out / "config.json").read_text())["config"]
    expected = {**RECIPES["fast"], "epochs": 1, "dataset": "digits", "recipe": "fast"}
    assert {key: saved[key] for key in expected} == expected
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["epochs_trained"] == 1
    with pytest.raises(SystemExit) as refused:
        main(["train", "--recipe", "nope", "--out", str(tmp_path / "x")])
    assert refused.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_resolved_recipe_config_round_trips_through_config_json() -> None:
    config = recipe_config("gpu").resolved()
    assert from_json(ResolvedTrainConfig, to_dict(config), "config.json") == config


@pytest.mark.slow
def test_recipe_fast_learns_the_digits(tmp_path: Path) -> None:
    config = recipe_config("fast", dataset="digits", epochs=12, device="cpu", plots=False)
    # the digits are not mirror-symmetric: without flips (the recipe's other choices stay)
    result = train_run(dataclasses.replace(config, flip=False, tta=False), tmp_path / "run")
    assert result.metrics["test_accuracy"] >= 0.95


def test_speedrun_benchmark_quick_mode_reports_every_figure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speedrun.py"
    monkeypatch.syspath_prepend(str(path.parent))  # its `import record`, as when the script runs
    spec = importlib.util.spec_from_file_location("speedrun", path)
    assert spec is not None and spec.loader is not None
    speedrun = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speedrun)
    results = speedrun.main(["--quick", "--recipes", "fast", "--threads", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("RESULT ")
    assert json.loads(lines[-1][len("RESULT ") :]) == json.loads(json.dumps(results))
    run = results["recipes"]["fast"]["runs"][0]
    assert set(run["seconds_to_val"]) == {"0.90", "0.92", "0.93", "0.94"}
    # a threshold is reached at the first epoch whose validation accuracy is at least that high
    for key, seconds in run["seconds_to_val"].items():
        first = next((t for _, acc, t in run["val_curve"] if acc >= float(key)), None)
        assert seconds == first
    assert 0.0 <= run["test_accuracy"] <= 1.0 and run["train_samples_per_s"] > 0
    assert run["fraction_of_matmul_peak"] > 0
    summary = results["recipes"]["fast"]["summary"]
    assert summary["test_accuracy_min"] == summary["test_accuracy_mean"] == run["test_accuracy"]
