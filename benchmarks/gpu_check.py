"""A few minutes' check of drlab's trainer on a GPU: device choice, fp32 and bf16 autocast, speed, finiteness,
and the ``gpu`` recipe timed to 0.94 on the real Fashion-MNIST.

    PYTHONPATH=src python3 benchmarks/gpu_check.py --data-dir data/fashion-mnist   # on a CUDA machine
    PYTHONPATH=src python3 benchmarks/gpu_check.py --recipe-only --data-dir DIR    # part 4 alone
    .venv/bin/python benchmarks/gpu_check.py --quick    # anywhere, tiny sizes (a CPU smoke test)

1. ``--device auto`` must resolve to CUDA when a GPU is present (reported; a failure when ``--expect-cuda``).
2. Every model of ``drlab.models.MODELS`` trains ``--epochs`` epochs on synthetic 28×28 images with
   the data on the device, in fp32 and in bf16 autocast; samples/s (median epoch) and the final loss,
   which must be finite, are printed per model and precision.
3. The whole ``drlab train`` job on digits (``--device auto --precision bf16``), interrupted after one
   epoch and resumed to two: checkpoints with CUDA RNG states, weights export, evaluation.
4. The ``gpu`` recipe (``drlab train --recipe gpu``) on the real Fashion-MNIST (``--data-dir``: the
   folder of its four ``.gz`` files), timed by ``benchmarks/speedrun.py``'s own function: seconds of
   training until the validation accuracy first reaches 0.94 — as measured, and with the first epoch
   (where ``torch.compile`` compiles) counted at the median time of the others — the test accuracy
   (measured once, at the end), training samples/s, and issue 29's goal (≥ 0.94 test in ≤ 5 s of
   training). ``--quick``: digits on this machine's device, one epoch, no compilation.

The last line printed is ``RESULT {json}``; the exit code is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.common.device import effective_precision, resolve_device
from drlab.common.optim import make_optimizer
from drlab.data import Batches
from drlab.models import CONVOLUTIONAL, MODELS, build_model
from drlab.train.trainer import autocast, make_scheduler, prepare_model, train_one_epoch


def synthetic(n: int, device: torch.device, seed: int = 0) -> Batches:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    templates = torch.rand(10, 28, 28, generator=generator)
    images = (0.6 * templates[labels] + 0.4 * torch.rand(n, 28, 28, generator=generator)) * 255
    return Batches(
        images.to(torch.uint8), labels, batch_size=128, mean=0.5, std=0.25, seed=seed, device=device
    )


def check_model(
    name: str, precision: str, train: Batches, epochs: int, device: torch.device
) -> dict[str, Any]:
    torch.manual_seed(0)
    computed = effective_precision(precision, device)  # type: ignore[arg-type]
    model = prepare_model(build_model(name, (1, 28, 28), 10), device, channels_last=name in CONVOLUTIONAL)
    optimizer = make_optimizer("adam", model.parameters(), 1e-3)
    scheduler = make_scheduler("cosine", optimizer, epochs * len(train))
    seconds, losses = [], []
    for epoch in range(epochs):
        train.set_epoch(epoch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        record = train_one_epoch(
            model, train, optimizer, scheduler=scheduler, precision=computed
        )  # ends with a device → host copy: synchronised
        seconds.append(time.perf_counter() - start)
        losses.append(record.loss)
    return {
        "samples_per_s": round(train.num_samples / statistics.median(seconds)),
        "first_epoch_s": round(seconds[0], 3),
        "final_loss": round(losses[-1], 4),
        "finite": all(math.isfinite(loss) for loss in losses),
        "bf16_active": isinstance(autocast(computed, device), torch.autocast),
    }


def check_run_job(device_name: str, quick: bool) -> dict[str, Any]:
    from drlab.common.io import load_checkpoint
    from drlab.train.config import TrainConfig
    from drlab.train.run import train_run

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        options: dict[str, Any] = {
            "dataset": "digits", "model": "cnn-bn", "device": device_name, "precision": "bf16",
            "limit": 300 if quick else None, "scheduler": "none",
        }  # fmt: skip
        train_run(TrainConfig(epochs=1, **options), out)
        checkpoint = load_checkpoint(out / "checkpoint.pt")
        result = train_run(TrainConfig(epochs=2, **options), out, resume=True)
        return {
            "test_accuracy": round(result.metrics["test_accuracy"], 4),
            "epochs": len(result.history),
            "precision": result.metrics["precision"],
            "device": result.metrics["device"],
            "cuda_rng_states_saved": len(checkpoint["rng"]["cuda"]),
            "ok": len(result.history) == 2 and math.isfinite(result.metrics["test_loss"]),
        }


def check_gpu_recipe(
    device: torch.device, data_dir: str | None, seeds: list[int], quick: bool
) -> dict[str, Any]:
    # speedrun.py sits beside this file (sys.path[0] when run as a script): the same timing, not a copy
    from drlab.train.recipes import recipe_config
    from speedrun import goals_met, matmul_gflops, one_run

    overrides: dict[str, Any] = {"plots": False, "device": str(device)}
    if data_dir is not None:
        overrides.update(data_dir=data_dir, offline=True)
    # --quick: the recipe's code path on a tiny budget, wherever this runs; compiling alone takes minutes on a CPU
    if quick:
        overrides.update(dataset="digits", limit=300, epochs=1, compile=device.type == "cuda")
    base = recipe_config("gpu", **overrides)
    peak = matmul_gflops(device, torch.bfloat16, 512 if quick else 8192)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            row = one_run(dataclasses.replace(base, seed=seed), Path(tmp) / f"gpu-seed{seed}", peak)
            epochs = row["epoch_train_seconds"]
            steady = statistics.median(epochs[1:]) if len(epochs) > 1 else epochs[0]
            reached = row["train_seconds_to_val"]["0.94"]
            # compilation happens in the first epoch's forward and backward passes: counted at a steady epoch's time
            row["train_seconds_to_val_0.94_without_compile"] = (
                None if reached is None else round(reached - epochs[0] + steady, 2)
            )
            # training samples in one epoch
            per_epoch = row["train_samples_per_s"] * sum(epochs) / len(epochs)
            row["steady_samples_per_s"] = round(per_epoch / steady)
            runs.append(row)
            print(f"  gpu recipe seed {seed}: test {row['test_accuracy']:.4f}, best val {row['best_val_accuracy']:.4f}, "
                  f"0.94 on validation after {reached} s of training "
                  f"({row['train_seconds_to_val_0.94_without_compile']} s without compiling; first epoch "
                  f"{epochs[0]:.2f} s, then {steady:.2f} s an epoch), "
                  f"{row['steady_samples_per_s']:,} samples/s after the first epoch, wall {row['wall_seconds']} s", flush=True)  # fmt: skip
    return {
        "config": {k: v for k, v in dataclasses.asdict(base.resolved()).items() if k != "out"},
        "matmul_bf16_gflops": round(peak, 1),
        "runs": runs,
        "goals": goals_met("gpu", runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke test in seconds)")
    parser.add_argument("--device", default="auto", help="device to check (default: auto)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per model and precision (default: 2)")
    parser.add_argument(
        "--samples", type=int, default=None, help="synthetic images (default: 60000, quick 1024)"
    )
    parser.add_argument("--expect-cuda", action="store_true", help="fail unless --device auto picks CUDA")
    parser.add_argument("--data-dir", default=None, help="the Fashion-MNIST .gz files, for the gpu recipe")
    parser.add_argument("--seeds", default="0", help="seeds of the gpu recipe's runs (default: 0)")
    parser.add_argument("--recipe-only", action="store_true", help="only part 4: the gpu recipe, timed")
    record.add_save_option(parser)
    args = parser.parse_args()
    device = resolve_device(args.device)
    n = args.samples or (1024 if args.quick else 60_000)
    epochs = 1 if args.quick else args.epochs
    info: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "samples": n, "epochs": epochs}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 here
    print(f"gpu_check: device {device} ({info.get('gpu', 'no GPU')}), torch {torch.__version__}, "
          f"{n:,} synthetic 28×28 images, batch 128, {epochs} epoch(s) per model and precision")  # fmt: skip
    failures: list[str] = []
    if args.expect_cuda and device.type != "cuda":
        failures.append(f"--device auto picked {device}, not cuda")
    train = synthetic(n, device)
    results: dict[str, Any] = {}
    for name in [] if args.recipe_only else MODELS:
        for precision in ("fp32", "bf16"):
            row = check_model(name, precision, train, epochs, device)
            results[f"{name}/{precision}"] = row
            print(f"  {name:<8} {precision}  {row['samples_per_s']:>10,} samples/s  final loss {row['final_loss']:.4f}"
                  f"  first epoch {row['first_epoch_s']:.2f} s{'' if row['finite'] else '  NOT FINITE'}")  # fmt: skip
            if not row["finite"]:
                failures.append(f"{name}/{precision}: non-finite loss")
    job: dict[str, Any] | None = None
    if not args.recipe_only:
        job = check_run_job(args.device, args.quick)
        print(f"  drlab train digits cnn-bn bf16, 1 epoch + resume to 2: {job}")
        if not job["ok"]:
            failures.append("drlab train job (resume) failed")
    seeds = [int(seed) for seed in args.seeds.split(",") if seed]
    recipe = check_gpu_recipe(device, args.data_dir, seeds, args.quick)
    if not all(math.isfinite(run["test_accuracy"]) for run in recipe["runs"]):
        failures.append("gpu recipe: non-finite test accuracy")
    print(f"  gpu recipe goals: {recipe['goals']}")
    record.emit(
        "gpu_check",
        {**info, "models": results, "run_job": job, "gpu_recipe": recipe, "failures": failures},
        args.save,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
