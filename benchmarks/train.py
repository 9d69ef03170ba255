"""Benchmark of TP1's training engine: drlab's training loop (`drlab.train.trainer`) against a minimal hand-written loop, and Lightning.

    .venv/bin/python benchmarks/train.py            # the full benchmark (several minutes on 2 cores)
    .venv/bin/python benchmarks/train.py --quick    # a smoke test in well under a minute
    .venv/bin/python benchmarks/train.py --real     # TP1's default recipes on the real Fashion-MNIST
    .venv/bin/python benchmarks/train.py --real --models softmax,mlp,cnn,cnn-bn --seeds 0,1,2

1. Throughput, in one process, on the same 60,000 synthetic 28×28 images (10 learnable classes), batch 128,
   Adam, 2 threads. Both sides run *one epoch = training over 60,000 images + evaluation over 10,000*; the
   minimal loop is the textbook one (``x[idx]`` batches, ``loss.item()`` and ``.sum().item()`` per batch,
   ``torch.no_grad()`` evaluation at the training batch size, NCHW conv-ReLU-pool CNN). Epochs alternate
   (loop, drlab, loop, drlab, …) so that a busy machine slows both alike; medians are reported, with the
   fraction of this CPU's float32 matmul peak measured in the same run (training counts 3× the forward
   FLOPs: forward, and backward for activations and weights). The test accuracy after the same number of
   epochs checks that speed was not bought with accuracy.
2. The same MLP under Lightning's Trainer (a LightningModule over a DataLoader), where lightning imports.
3. Start-up: ``drlab --help`` and ``import lightning`` in fresh interpreters.
4. Accuracy: drlab train on digits (offline): MLP ≥ 0.97, CNN ≥ 0.98; on Fashion-MNIST when its files
   are found, in the cache or the system's copy (MLP ≥ 0.89, CNN ≥ 0.92, cnn-bn ≥ 0.935), with the time to reach each.

``--real`` replaces all of this with one measurement: ``drlab train``'s default recipe for each model
(``--models``, default softmax and mlp) and seed (``--seeds``, default 0, 1, 2), offline, on the real
Fashion-MNIST (the cache or the system's copy: ``apt install dataset-fashion-mnist``). For each run: the
test accuracy at the end (10,000 test images), the wall time, and the time to first reach each accuracy
of ``REACH`` on the validation part (the figure a run measures after every epoch); per model, the
mean and minimum test accuracy over the seeds against the model's goal. The load average is recorded
beside each run: on a shared machine, times say as much about the neighbours as about drlab.

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.common.errors import DrlabError
from drlab.common.optim import make_optimizer
from drlab.data import Batches
from drlab.models import CONVOLUTIONAL, build_model, summarize
from drlab.train.trainer import evaluate, prepare_model, train_one_epoch

BATCH = 128
T = TypeVar("T")
LR = 1e-3


# ----------------------------------------------------------------------------- data and reference models
def synthetic_images(n_train: int, n_test: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """uint8 28×28 images: one smooth random template per class, shifted by a pixel or two, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    templates = torch.rand(10, 1, 7, 7, generator=generator)
    templates = F.interpolate(templates, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 10, (n,), generator=generator)
        images = templates[labels]
        # every image moved by its own (dy, dx) in [-3, 3]², then heavy noise: not trivially separable
        shift_of = torch.randint(0, 49, (n,), generator=generator)
        for shift in range(49):
            chosen = shift_of == shift
            images[chosen] = torch.roll(images[chosen], shifts=(shift // 7 - 3, shift % 7 - 3), dims=(1, 2))
        images = images + 0.9 * torch.randn(n, 28, 28, generator=generator)
        return (images.clamp(0, 1) * 255).to(torch.uint8), labels

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return x_train, y_train, x_test, y_test


def textbook_model(name: str) -> nn.Module:
    """The same architectures as drlab's, written the textbook way (conv → ReLU → pool, NCHW)."""
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


class MinimalLoop:
    """The hand-written loop every tutorial shows: the baseline."""

    def __init__(
        self, name: str, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor
    ):
        torch.manual_seed(0)
        self.model = textbook_model(name)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.x, self.y, self.x_test, self.y_test = x, y, x_test, y_test
        self.epoch = 0

    def train_epoch(self) -> float:
        self.model.train()
        order = torch.randperm(len(self.y), generator=torch.Generator().manual_seed(self.epoch))
        running_loss, correct = 0.0, 0
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            x_batch, y_batch = self.x[idx], self.y[idx]
            logits = self.model(x_batch)
            loss = F.cross_entropy(logits, y_batch)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            running_loss += loss.item() * len(y_batch)
            correct += (logits.argmax(1) == y_batch).sum().item()
        self.epoch += 1
        return correct / len(self.y)

    def evaluate(self) -> float:
        self.model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(self.y_test), BATCH):
                logits = self.model(self.x_test[start : start + BATCH])
                correct += (logits.argmax(1) == self.y_test[start : start + BATCH]).sum().item()
        return correct / len(self.y_test)


class DrlabSide:
    """drlab's default recipe: models + Batches + train_one_epoch/evaluate (scheduler off, like the loop)."""

    def __init__(self, name: str, train: Batches, test: Batches):
        torch.manual_seed(0)
        cpu = torch.device("cpu")
        self.model = prepare_model(
            build_model(name, (1, 28, 28), 10), cpu, channels_last=name in CONVOLUTIONAL
        )
        self.optimizer = make_optimizer("adam", self.model.parameters(), LR)
        self.train, self.test = train, test
        self.epoch = 0

    def train_epoch(self) -> float:
        self.train.set_epoch(self.epoch)
        self.epoch += 1
        return train_one_epoch(self.model, self.train, self.optimizer).accuracy

    def evaluate(self) -> float:
        return evaluate(self.model, self.test).accuracy


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def matmul_gflops(size: int, repeats: int) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


# ----------------------------------------------------------------------------- sections
def throughput(name: str, data: tuple[torch.Tensor, ...], epochs: int, peak: float) -> dict[str, Any]:
    x_train, y_train, x_test, y_test = data
    mean, std = 0.5, 0.25
    train = Batches(x_train, y_train, batch_size=BATCH, mean=mean, std=std, seed=0)
    test = Batches(x_test, y_test, batch_size=1024, mean=mean, std=std, shuffle=False)
    # the loop gets the very same normalised float tensors
    loop = MinimalLoop(name, train.x, train.y, test.x, test.y)
    ours = DrlabSide(name, train, test)
    rows: dict[str, dict[str, list[float]]] = {
        side: {"train": [], "eval": [], "acc": []} for side in ("loop", "drlab")
    }
    for _ in range(epochs):  # alternate, so that noise from other processes hits both sides alike
        for side, runner in (("loop", loop), ("drlab", ours)):
            train_seconds, _ = timed(runner.train_epoch)
            eval_seconds, accuracy = timed(runner.evaluate)
            rows[side]["train"].append(train_seconds)
            rows[side]["eval"].append(eval_seconds)
            rows[side]["acc"].append(accuracy)
    flops = summarize(build_model(name, (1, 28, 28), 10), (1, 28, 28)).forward_flops
    n_train, n_test = len(y_train), len(y_test)
    result: dict[str, Any] = {"forward_mflops_per_image": flops / 1e6}
    for side, row in rows.items():
        train_s, eval_s = statistics.median(row["train"]), statistics.median(row["eval"])
        sps = n_train / train_s
        result[side] = {
            "train_samples_per_s": round(sps),
            "eval_samples_per_s": round(n_test / eval_s),
            "epoch_seconds": round(train_s + eval_s, 3),
            "epoch_samples_per_s": round(n_train / (train_s + eval_s)),
            "fraction_of_matmul_peak": round(3 * flops * sps / (peak * 1e9), 3),
            "test_accuracy": round(row["acc"][-1], 4),
        }
    result["ratio_train"] = round(
        result["drlab"]["train_samples_per_s"] / result["loop"]["train_samples_per_s"], 3
    )
    result["ratio_epoch"] = round(result["loop"]["epoch_seconds"] / result["drlab"]["epoch_seconds"], 3)
    return result


def lightning_mlp(data: tuple[torch.Tensor, ...], epochs: int) -> dict[str, Any] | None:
    try:
        import lightning as L
    except ImportError:
        return None
    import logging
    import warnings

    from torch.utils.data import DataLoader, TensorDataset

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    x_train, y_train, _, _ = data
    train = Batches(x_train, y_train, batch_size=BATCH, mean=0.5, std=0.25, seed=0)

    class LitMLP(L.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = textbook_model("mlp")

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x_batch, y_batch = batch
            return F.cross_entropy(self.model(x_batch), y_batch)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=LR)

    loader = DataLoader(TensorDataset(train.x, train.y), batch_size=BATCH, shuffle=True)
    torch.manual_seed(0)
    module = LitMLP()
    lit_times, drlab_times = [], []
    ours = DrlabSide("mlp", train, train)
    for _ in range(epochs):
        trainer = L.Trainer(  # a fresh Trainer per timed epoch: fit() runs exactly one epoch
            max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        start = time.perf_counter()
        trainer.fit(module, loader)
        lit_times.append(time.perf_counter() - start)
        drlab_times.append(timed(ours.train_epoch)[0])
    n = len(y_train)
    lit, drlab = n / statistics.median(lit_times), n / statistics.median(drlab_times)
    return {
        "lightning_samples_per_s": round(lit),
        "drlab_samples_per_s": round(drlab),
        "ratio": round(drlab / lit, 3),
    }


def startup_seconds() -> dict[str, float | None]:
    def run(code: list[str]) -> float | None:
        start = time.perf_counter()
        done = subprocess.run(code, capture_output=True, check=False)
        return round(time.perf_counter() - start, 2) if done.returncode == 0 else None

    return {
        "drlab_help": run([sys.executable, "-m", "drlab", "--help"]),
        "import_torch": run([sys.executable, "-c", "import torch"]),
        "import_lightning": run([sys.executable, "-c", "import lightning"]),
    }


def accuracy_section(quick: bool) -> dict[str, Any]:
    from drlab.train.config import TrainConfig
    from drlab.train.run import train_run

    recipes: list[tuple[str, str, dict[str, Any], float]] = [
        ("digits", "mlp", {"epochs": 5 if quick else 20}, 0.97),
        ("digits", "cnn", {"epochs": 3 if quick else 30, "batch_size": 64, "lr": 3e-3}, 0.98),
    ]
    if not quick:
        recipes += [
            ("fashion-mnist", "mlp", {"epochs": 15}, 0.89),
            ("fashion-mnist", "cnn", {"epochs": 12}, 0.92),
            ("fashion-mnist", "cnn-bn", {"epochs": 15, "scheduler": "one-cycle", "lr": 3e-3}, 0.935),
        ]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, model, options, goal in recipes:
            key = f"{dataset}/{model}"
            config = TrainConfig(dataset=dataset, model=model, plots=False, offline=True, **options)  # type: ignore[arg-type]
            try:
                result = train_run(config, f"{tmp}/{dataset}-{model}")
            except DrlabError as exc:
                results[key] = {"skipped": f"files not present ({str(exc).splitlines()[0][:120]})"}
                print(f"  {key:<22} skipped: Fashion-MNIST files are not cached here (offline benchmark)")
                continue
            history = result.history
            reached = next((r for r in history if r.val_accuracy >= goal), None)
            seconds_to_goal = sum(r.seconds for r in history if r.epoch <= reached.epoch) if reached else None
            accuracy = result.metrics["test_accuracy"]
            results[key] = {
                "test_accuracy": round(accuracy, 4),
                "goal": goal,
                "met": accuracy >= goal,
                "epochs": len(history),
                "train_seconds": round(result.metrics["train_seconds"], 1),
                "seconds_to_goal_on_val": round(seconds_to_goal, 1) if seconds_to_goal is not None else None,
            }
            verdict = (
                "ok" if accuracy >= goal else ("(quick: too few epochs for the goal)" if quick else "MISSED")
            )
            print(
                f"  {key:<22} test accuracy {accuracy:.4f} (goal ≥ {goal}) {verdict}"
                f"  {len(history)} epochs, {result.metrics['train_seconds']:.1f} s"
            )
    return results


#: TP1's goals on the real test set; softmax, the linear baseline, has none
REAL_GOALS: dict[str, float | None] = {"softmax": None, "mlp": 0.89, "cnn": 0.92, "cnn-bn": 0.935}
#: validation accuracies whose time of first reaching the --real mode reports
REACH = (0.80, 0.85, 0.88, 0.89, 0.90, 0.91, 0.92, 0.935)


def _get(record: Any, name: str) -> Any:
    """A figure of an epoch record, whether the record is a dict or a dataclass."""
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def real_section(models: list[str], seeds: list[int]) -> dict[str, Any]:
    """The default recipes on the real Fashion-MNIST: test accuracy, wall time, time to each accuracy."""
    from drlab.data import load_fashion_mnist
    from drlab.train.config import TrainConfig
    from drlab.train.run import train_run

    dataset = load_fashion_mnist(offline=True)  # fails here, in one line, if the real files are absent
    print(f"real Fashion-MNIST from {dataset.source}; {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    results: dict[str, Any] = {"source": dataset.source, "cpus": os.cpu_count(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            runs = []
            for seed in seeds:
                config = TrainConfig(model=model, seed=seed, plots=False, offline=True)  # type: ignore[arg-type]
                out = f"{tmp}/{model}-{seed}"
                load_before = os.getloadavg()[0]
                wall, result = timed(lambda config=config, out=out: train_run(config, out))
                elapsed, reached = 0.0, {}
                for record in result.history:
                    elapsed += float(_get(record, "seconds"))
                    for level in REACH:
                        if level not in reached and float(_get(record, "val_accuracy")) >= level:
                            reached[level] = round(elapsed, 1)
                run = {
                    "seed": seed,
                    "test_accuracy": round(float(result.metrics["test_accuracy"]), 4),
                    "wall_seconds": round(wall, 1),
                    "epochs": len(result.history),
                    "seconds_to_val_accuracy": {f"{level:g}": reached.get(level) for level in REACH},
                    "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                }
                runs.append(run)
                print(f"  {model:<7} seed {seed}: test accuracy {run['test_accuracy']:.4f}, "
                      f"{run['epochs']} epochs in {wall:.0f} s (load {load_before:.1f} → "
                      f"{run['load_average'][1]:.1f}); val accuracy reached at "
                      + ", ".join(f"{k}: {v} s" for k, v in run["seconds_to_val_accuracy"].items() if v is not None))  # fmt: skip
            accuracies = [run["test_accuracy"] for run in runs]
            goal = REAL_GOALS[model]
            summary = {
                "goal": goal,
                "test_accuracy_mean": round(statistics.mean(accuracies), 4),
                "test_accuracy_min": round(min(accuracies), 4),
                "met": None if goal is None else min(accuracies) >= goal,
                "wall_seconds_mean": round(statistics.mean(run["wall_seconds"] for run in runs), 1),
                "runs": runs,
            }
            results["models"][model] = summary
            print(f"  {model:<7} test accuracy mean {summary['test_accuracy_mean']:.4f}, min "
                  f"{summary['test_accuracy_min']:.4f} ("
                  + ("no goal" if goal is None else f"goal ≥ {goal}: {'met' if summary['met'] else 'MISSED'}")
                  + f"), {summary['wall_seconds_mean']:.0f} s per run")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test in seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: 2)")
    parser.add_argument(
        "--epochs", type=int, default=None, help="timed epochs per side (default: 3, quick: 2)"
    )
    parser.add_argument(
        "--real", action="store_true", help="only TP1's default recipes on the real Fashion-MNIST"
    )
    parser.add_argument(
        "--models", default="softmax,mlp", help="--real: comma-separated models (default: softmax,mlp)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="--real: comma-separated seeds (default: 0,1,2)")
    record.add_save_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.real:
        models = [name for name in args.models.split(",") if name]
        unknown = sorted(set(models) - set(REAL_GOALS))
        if unknown:
            parser.error(f"--models: unknown {', '.join(unknown)} (choose from {', '.join(REAL_GOALS)})")
        seeds = [int(seed) for seed in args.seeds.split(",") if seed]
        record.emit("train-real", {"real": real_section(models, seeds)}, args.save)
        return
    n_train, n_test = (4_000, 1_000) if args.quick else (60_000, 10_000)
    epochs = args.epochs or (2 if args.quick else 3)
    print(f"drlab training benchmark: {n_train:,} synthetic 28×28 images, batch {BATCH}, Adam, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")  # fmt: skip
    peak = max(matmul_gflops(1024, 5), matmul_gflops(2048, 3))
    print(f"float32 matmul: {peak:.1f} GFLOP/s (the peak this CPU reaches here)")
    data = synthetic_images(n_train, n_test)
    results: dict[str, Any] = {
        "matmul_gflops": round(peak, 1),
        "train_samples": n_train,
        "threads": args.threads,
    }
    targets = {"mlp": 0.97, "cnn": 1.3}
    for name in ("mlp", "cnn"):
        row = throughput(name, data, epochs, peak)
        results[name] = row
        for side in ("loop", "drlab"):
            r = row[side]
            print(
                f"  {name:<4} {side:<6} train {r['train_samples_per_s']:>7,} samples/s "
                f"({r['fraction_of_matmul_peak']:.0%} of peak)  eval {r['eval_samples_per_s']:>7,} samples/s  "
                f"epoch {r['epoch_seconds']:.2f} s  test acc {r['test_accuracy']:.4f}"
            )
        print(f"  {name:<4} drlab/loop: train {row['ratio_train']:.2f}×, whole epoch (train + eval) "
              f"{row['ratio_epoch']:.2f}× (target ≥ {targets[name]}×)")  # fmt: skip
    lightning = lightning_mlp(data, 2 if args.quick else epochs)
    results["lightning_mlp"] = lightning
    if lightning is None:
        print("  lightning: not installed (section skipped)")
    else:
        print(f"  mlp under Lightning {lightning['lightning_samples_per_s']:,} samples/s, drlab "
              f"{lightning['drlab_samples_per_s']:,}: drlab {lightning['ratio']:.2f}× (target ≥ 1.2×)")  # fmt: skip
    results["startup_seconds"] = startup_seconds()
    print(f"  start-up: {results['startup_seconds']}")
    print("accuracy (drlab train, offline):")
    results["accuracy"] = accuracy_section(args.quick)
    results["targets_met"] = {
        "mlp_ratio_ge_0.97": results["mlp"]["ratio_epoch"] >= 0.97,
        "cnn_ratio_ge_1.3": results["cnn"]["ratio_epoch"] >= 1.3,
        "lightning_ratio_ge_1.2": lightning is not None and lightning["ratio"] >= 1.2,
        "drlab_help_under_1s": (results["startup_seconds"]["drlab_help"] or 99) < 1.0,
    }
    record.emit("train", results, args.save)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
