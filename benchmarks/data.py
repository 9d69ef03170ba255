"""Benchmark: one epoch of 60,000 28×28 images at batch 128, through three input pipelines.

1. ``drlab.data.Batches`` — the whole dataset normalised once, an epoch one ``randperm`` and slices;
2. ``DataLoader(TensorDataset)`` — the same normalised tensor, but indexed sample by sample and collated;
3. a per-sample ``Dataset`` that converts and normalises each uint8 image in ``__getitem__`` (what a
   torchvision ``ToTensor() + Normalize()`` pipeline does), through a ``DataLoader``.

Each is timed on the data alone, then feeding one training epoch of the TP1 MLP (784-256-128-10, Adam,
cross-entropy: the four steps forward, loss, gradients, update). Medians over repeats, all in this
process, on synthetic images (the speed of a pipeline does not depend on what the pixels show).

    .venv/bin/python benchmarks/data.py           # the full measurement
    .venv/bin/python benchmarks/data.py --quick   # a smoke test in seconds
    .venv/bin/python benchmarks/data.py --verify  # only: how fast the real files are verified by content

``--verify`` (needs Debian's ``dataset-fashion-mnist``) times drlab's check of the real training images
(26 MB packed, 47 MB unpacked): Debian's copy, whose unpacked bytes are hashed as they are decompressed,
in 1 MiB chunks; Zalando's exact bytes, rebuilt from Debian's, which match by their own SHA-256 and MD5;
against the naive way (read the whole file, ``gzip.decompress``, hash), with the peak of Python's
allocations for each (``tracemalloc``); an 8 GiB sparse file, refused from its size; and a whole
``load_fashion_mnist()`` with and without verification.

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import statistics
import struct
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.data import Batches

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's standard normalisation
TARGETS = {"data_vs_tensor_dataset": 5.0, "data_vs_per_sample": 20.0, "mlp_vs_per_sample": 1.5}


class PerSampleImages(Dataset[tuple[torch.Tensor, int]]):
    """The torchvision way: uint8 image → float tensor → normalised, one sample per call."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.images[index]).to(torch.float32).div_(255.0)
        return image.sub_(MEAN).div_(STD).unsqueeze(0), int(self.labels[index])


def make_mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def data_epoch(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> int:
    seen = 0
    for x_batch, y_batch in batches:
        x_batch, y_batch = x_batch.to(device), y_batch.to(device)  # no-op for Batches: already there
        seen += len(y_batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen


def mlp_epoch(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], seed: int, device: torch.device) -> int:
    model = make_mlp(seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    seen = 0
    for x_batch, y_batch in batches:
        x_batch, y_batch = x_batch.to(device), y_batch.to(device)
        logits = model(x_batch)  # 1. forward
        loss = loss_fn(logits, y_batch)  # 2. loss
        optimizer.zero_grad()
        loss.backward()  # 3. gradients
        optimizer.step()  # 4. update
        seen += len(y_batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen


def interleaved_medians(runs: dict[str, Callable[[], int]], repeats: int, expected: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns so that a change of machine load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            seen = run()
            times[name].append(time.perf_counter() - start)
            assert seen == expected, f"{name}: saw {seen} samples, expected {expected}"
    return {name: statistics.median(values) for name, values in times.items()}


def timed_peak(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``fn`` over ``repeats`` calls, and the peak MiB of Python allocations in one call."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak


def verification(repeats: int) -> dict[str, Any]:
    """How fast (and in how much memory) the real Fashion-MNIST files are verified by content."""
    from drlab.data.fashion_mnist import FASHION_MNIST, load_fashion_mnist
    from drlab.data.verify import identify

    debian = Path("/usr/share/datasets/fashion-mnist")
    file = FASHION_MNIST.files["train_images"]
    if not (debian / file.name).is_file():
        print(f"verification: skipped, {debian} is not installed (apt install dataset-fashion-mnist)")
        return {"skipped": "dataset-fashion-mnist not installed"}

    def naive(path: Path) -> str:
        return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = (
            debian / file.name
        ).read_bytes()  # Zalando's header restored (tests/test_real_fashion_mnist.py)
        zalando = Path(tmp) / file.name
        zalando.write_bytes(b"\x1f\x8b\x08\x08" + struct.pack("<I", 1_504_176_606) + b"\x00\x03"
                            + file.unpacked_name.encode() + b"\x00" + data[10:])  # fmt: skip
        huge = Path(tmp) / "huge" / file.name
        huge.parent.mkdir()
        with open(huge, "wb") as handle:
            handle.truncate(8 * 2**30)
        cases: dict[str, Callable[[], object]] = {
            "debian_streamed": lambda: identify(FASHION_MNIST, file, debian / file.name),
            "zalando_own_bytes": lambda: identify(FASHION_MNIST, file, zalando),
            "naive_read_decompress_hash": lambda: naive(debian / file.name),
        }
        for name, fn in cases.items():
            seconds, peak = timed_peak(fn, repeats)
            result[name] = {"seconds": round(seconds, 3), "peak_python_mib": round(peak, 1),
                            "mb_per_s_unpacked": round(file.unpacked_size / seconds / 1e6)}  # fmt: skip
            print(f"verify train images, {name:<28} {seconds:6.3f} s  "
                  f"({file.unpacked_size / seconds / 1e6:5.0f} MB/s of unpacked data), peak {peak:6.1f} MiB")  # fmt: skip
        start = time.perf_counter()
        try:
            identify(FASHION_MNIST, file, huge)
        except Exception as exc:  # the expected refusal
            result["huge_8gib_refused_seconds"] = round(time.perf_counter() - start, 4)
            print(f"8 GiB sparse file refused in {result['huge_8gib_refused_seconds']} s: {exc}")
    empty_cache = tempfile.mkdtemp()
    for verify in (True, False):
        seconds = statistics.median(
            timed(lambda v=verify: load_fashion_mnist(empty_cache, offline=True, verify=v))  # type: ignore[misc]
            for _ in range(repeats)
        )
        result[f"load_seconds_verify_{verify}".lower()] = round(seconds, 3)
        print(f"load_fashion_mnist(verify={verify}) from Debian's copy: {seconds:.3f} s")
    os.rmdir(empty_cache)
    return result


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="6,000 images and fewer repeats (seconds)")
    parser.add_argument("--n", type=int, default=60_000, help="number of images")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each data-alone epoch")
    parser.add_argument("--mlp-repeats", type=int, default=3, help="repeats of each MLP epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="where the model trains and Batches keeps the data")
    parser.add_argument("--verify", action="store_true", help="only time the verification of the real files")
    record.add_save_option(parser)
    args = parser.parse_args()
    if args.verify:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        result = {"benchmark": "data-verify", **verification(2 if args.quick else 5)}
        record.emit("data-verify", {**result, "load_average": round(os.getloadavg()[0], 1)}, args.save)
        return
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.n, args.repeats, args.mlp_repeats = 6_000, 2, 1

    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, (args.n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, args.n).astype(np.int64)

    device = torch.device(args.device)
    start = time.perf_counter()
    batches = Batches(
        images, labels, batch_size=args.batch_size, mean=MEAN, std=STD, seed=args.seed, device=device
    )
    setup_seconds = time.perf_counter() - start  # once per run, not per epoch
    generator = torch.Generator().manual_seed(args.seed)
    tensor_loader = DataLoader(
        TensorDataset(batches.x.cpu(), batches.y.cpu()),
        batch_size=args.batch_size,
        shuffle=True,
        generator=generator,
    )
    per_sample_loader = DataLoader(
        PerSampleImages(images, labels), batch_size=args.batch_size, shuffle=True, generator=generator
    )
    pipelines: dict[str, Iterable[tuple[torch.Tensor, torch.Tensor]]] = {
        "batches": batches, "tensor_dataset": tensor_loader, "per_sample": per_sample_loader,
    }  # fmt: skip

    # warm-up, untimed: the first training steps of a process pay one-time costs (allocator, kernels,
    # autograd threads) that would otherwise be charged to whichever pipeline runs first
    warm_up = Batches(
        images[:2048], labels[:2048], batch_size=args.batch_size, mean=MEAN, std=STD, device=device
    )
    mlp_epoch(warm_up, args.seed, device)
    data_seconds = interleaved_medians(
        {name: (lambda p=pipeline: data_epoch(p, device)) for name, pipeline in pipelines.items()},
        args.repeats,
        args.n,
    )
    mlp_seconds = interleaved_medians(
        {name: (lambda p=pipeline: mlp_epoch(p, args.seed, device)) for name, pipeline in pipelines.items()},
        args.mlp_repeats,
        args.n,
    )
    speedups = {
        "data_vs_tensor_dataset": data_seconds["tensor_dataset"] / data_seconds["batches"],
        "data_vs_per_sample": data_seconds["per_sample"] / data_seconds["batches"],
        "mlp_vs_tensor_dataset": mlp_seconds["tensor_dataset"] / mlp_seconds["batches"],
        "mlp_vs_per_sample": mlp_seconds["per_sample"] / mlp_seconds["batches"],
    }
    print(f"{args.n:,} images 28x28, batch {args.batch_size}, torch {torch.__version__}, {device}, "
          f"{torch.get_num_threads()} threads; Batches set-up (uint8 → normalised float32, once): {setup_seconds:.3f} s")  # fmt: skip
    print(f"{'pipeline':<16}{'data epoch (s)':>16}{'MLP epoch (s)':>16}")
    for name in pipelines:
        print(f"{name:<16}{data_seconds[name]:>16.4f}{mlp_seconds[name]:>16.3f}")
    for key, value in speedups.items():
        target = TARGETS.get(key)
        verdict = (
            "" if target is None else f"  (target ≥ {target:g}×: {'met' if value >= target else 'NOT met'})"
        )
        print(f"Batches speed-up {key:<24}{value:7.1f}×{verdict}")
    result = {
        "benchmark": "data",
        "quick": args.quick,
        "n": args.n,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "setup_seconds": round(setup_seconds, 4),
        "data_seconds": {k: round(v, 4) for k, v in data_seconds.items()},
        "mlp_seconds": {k: round(v, 4) for k, v in mlp_seconds.items()},
        "speedups": {k: round(v, 2) for k, v in speedups.items()},
        "targets": TARGETS,
        "targets_met": all(speedups[k] >= v for k, v in TARGETS.items()),
    }
    record.emit("data", result, args.save)


if __name__ == "__main__":
    main()
