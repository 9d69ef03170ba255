"""Data parallelism on this machine: samples/s on 1 and 2 processes, and what the all-reduce costs.

Run:  .venv/bin/python benchmarks/distributed.py [--quick]

Three measurements, all on 2 gloo processes over 127.0.0.1 (or 1 process for the baselines):

1. Throughput of the same training step (Adam, global batch 128, synthetic 28×28 images, drlab's
   ``Batches`` sharded by rank, drlab's DDP wrapper with its weighted all-reduce) for the MLP and the small CNN:
   1 process × 2 threads (all the cores: the fair baseline), 1 process × 1 thread, 2 processes × 1 thread.
2. The all-reduce of one step's gradients, timed alone: a flat float32 buffer of each model's gradient
   size, summed across the 2 processes (median of many), plus the *exposed* cost inside DDP: a step
   minus the same step under ``no_sync()`` (DDP overlaps its bucketed all-reduce with the backward pass).
3. A sweep of message sizes, fitted as ``t = latency + bytes / bandwidth``, so the cost of a model of any
   size can be read off — and, on paper, what NCCL would take for the same bytes on GPUs.

The last line is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn import functional as F

import record  # benchmarks/record.py: the RESULT line and --save
from drlab.data import Batches
from drlab.models import build_model, count_parameters
from drlab.train import distributed as D

GLOBAL_BATCH = 128
MODELS = ("mlp", "cnn")
IMAGE_SHAPE = (1, 28, 28)

# On-paper GPU figures. ASSUMPTIONS, not measurements: NCCL's "bus bandwidth" (nccl-tests' busbw) for a
# ring all-reduce of a few MB, and its small-message latency. A ring all-reduce moves 2(W−1)/W × bytes
# through each GPU's link, so t ≈ latency + 2(W−1)/W × bytes / busbw.
GPU_LINKS = {
    "nvlink_8gpu": {"busbw_GBps": 300.0, "latency_us": 15.0, "world_size": 8},
    "pcie4_2gpu": {"busbw_GBps": 20.0, "latency_us": 15.0, "world_size": 2},
    "ethernet_100G_2nodes": {"busbw_GBps": 10.0, "latency_us": 50.0, "world_size": 2},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def synthetic_images(num_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num_samples, 28, 28), dtype=np.uint8)
    return images, rng.integers(0, 10, size=num_samples).astype(np.int64)


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x_batch: torch.Tensor,
    y_batch: torch.Tensor,
    sync: bool,
) -> None:
    """One step of the four, exactly as the trainer does it on every rank."""
    logits = model(x_batch)  # ❶ forward
    loss = F.cross_entropy(logits, y_batch)  # ❷ loss (this rank's mean; the wrapper weights the ranks)
    if sync or not hasattr(model, "no_sync"):
        loss.backward()  # ❸ gradients, all-reduced by DDP during the backward pass
    else:
        with model.no_sync():  # the same step without the all-reduce: what communication costs
            loss.backward()
    optimizer.step()  # ❹ update
    optimizer.zero_grad(set_to_none=True)


def time_training(model_name: str, rank: int, world_size: int, steps: int, repeats: int) -> dict[str, float]:
    """Median step time with DDP's all-reduce and, on several ranks, without it (``no_sync``).

    Steps alternate between the two modes; a barrier before each step lines the ranks up, so a step's
    time is its compute plus whatever waiting on the all-reduce the overlap did not hide.
    """
    torch.manual_seed(0)
    model = D.wrap_model(build_model(model_name, IMAGE_SHAPE, 10), torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = synthetic_images(steps * GLOBAL_BATCH)
    batches = Batches(images, labels, batch_size=GLOBAL_BATCH, rank=rank, world_size=world_size)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for epoch in range(repeats + 1):  # epoch 0 warms up (allocations, DDP's bucket order)
        batches.set_epoch(epoch)
        for step, (x_batch, y_batch) in enumerate(batches):
            sync = world_size == 1 or step % 2 == 0
            D.barrier()
            start = time.perf_counter()
            train_step(model, optimizer, x_batch, y_batch, sync)
            if epoch > 0:
                seconds[sync].append(time.perf_counter() - start)
    step_s = statistics.median(seconds[True])
    result = {"samples_per_s": GLOBAL_BATCH / step_s, "step_ms": step_s * 1e3}
    if world_size > 1:
        result["exposed_allreduce_ms"] = (step_s - statistics.median(seconds[False])) * 1e3
    return result


def time_allreduce(num_bytes: int, repeats: int) -> float:
    """Median seconds of one all-reduce (sum) of ``num_bytes`` of float32 across the ranks."""
    buffer = torch.ones(max(1, num_bytes // 4), dtype=torch.float32)
    for _ in range(3):
        dist.all_reduce(buffer)
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(buffer)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(rank: int, world_size: int, quick: bool) -> dict[str, Any]:
    """Every measurement of one configuration, on this rank."""
    steps = {"mlp": 10 if quick else 80, "cnn": 4 if quick else 16}
    repeats = 1 if quick else 3
    result: dict[str, Any] = {"training": {}, "allreduce": {}}
    for name in MODELS:
        result["training"][name] = time_training(name, rank, world_size, steps[name], repeats)
    if world_size > 1:
        for name in MODELS:
            grad_bytes = 4 * count_parameters(build_model(name, IMAGE_SHAPE, 10))
            result["allreduce"][name] = time_allreduce(grad_bytes, 10 if quick else 50)
        sizes = [2**k for k in (range(12, 25, 4) if quick else range(10, 27, 2))]  # 1 KiB … 64 MiB
        result["sweep"] = [(size, time_allreduce(size, 5 if quick else 20)) for size in sizes]
    return result


def worker(rank: int, world_size: int, port: int, threads: int, quick: bool, out: str) -> None:
    torch.set_num_threads(threads)
    env = D.DistEnv(rank, world_size, rank, "127.0.0.1", port, launched=True)
    D.setup("cpu", env=env, init_method=f"tcp://127.0.0.1:{port}", timeout_s=120)
    try:
        result = measure(rank, world_size, quick)
        if rank == 0:
            Path(out).write_text(json.dumps(result))
        # both ranks leave together: a rank that destroyed its process group while the other still used
        # gloo's sockets aborted the other ("terminate called without an active exception") in 5 of 14 runs
        D.barrier()
    finally:
        D.teardown()


def run(world_size: int, threads: int, quick: bool) -> dict[str, Any]:
    """One configuration: in this process for a single rank, else ``world_size`` spawned gloo ranks."""
    if world_size == 1:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return measure(0, 1, quick)
        finally:
            torch.set_num_threads(previous)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        mp.spawn(worker, args=(world_size, free_port(), threads, quick, out), nprocs=world_size, join=True)
        return json.loads(Path(out).read_text())  # type: ignore[no-any-return]


def fit_latency_bandwidth(sweep: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares t = a + b·bytes over the sweep: latency a (s), bandwidth 1/b (bytes/s)."""
    sizes = np.array([s for s, _ in sweep], dtype=np.float64)
    times = np.array([t for _, t in sweep], dtype=np.float64)
    slope, intercept = np.polyfit(sizes, times, 1)
    return max(float(intercept), 0.0), 1.0 / float(slope)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few steps only (a smoke test in seconds)")
    record.add_save_option(parser)
    args = parser.parse_args(argv)
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo's own sockets stay on loopback
    cores = os.cpu_count() or 1
    configs = {
        f"1proc_{cores}threads": (1, cores),
        "1proc_1thread": (1, 1),
        "2procs_1thread": (2, max(1, cores // 2)),
    }
    results = {label: run(world, threads, args.quick) for label, (world, threads) in configs.items()}
    two = results["2procs_1thread"]
    latency_s, bandwidth = fit_latency_bandwidth([tuple(p) for p in two["sweep"]])  # type: ignore[misc]

    summary: dict[str, Any] = {
        "cpu_count": cores,
        "global_batch": GLOBAL_BATCH,
        "quick": args.quick,
        "models": {},
    }
    print(
        f"{'model':6} {'params':>9} {'grad MB':>8} "
        + " ".join(f"{k:>16}" for k in configs)
        + "  2p/1p  allreduce"
    )
    for name in MODELS:
        params = count_parameters(build_model(name, IMAGE_SHAPE, 10))
        grad_bytes = 4 * params
        rates = {label: results[label]["training"][name]["samples_per_s"] for label in configs}
        step_ms = two["training"][name]["step_ms"]
        allreduce_ms = two["allreduce"][name] * 1e3
        speedup = rates["2procs_1thread"] / rates[f"1proc_{cores}threads"]
        gpu = {
            link: spec["latency_us"] * 1e-3
            + 2
            * (spec["world_size"] - 1)
            / spec["world_size"]
            * grad_bytes
            / (spec["busbw_GBps"] * 1e9)
            * 1e3
            for link, spec in GPU_LINKS.items()
        }
        summary["models"][name] = {
            "parameters": params,
            "grad_bytes_per_step": grad_bytes,
            "samples_per_s": {k: round(v, 1) for k, v in rates.items()},
            "speedup_2procs_vs_1proc_all_cores": round(speedup, 3),
            "step_ms_2procs": round(step_ms, 3),
            "allreduce_ms_gloo": round(allreduce_ms, 3),
            "allreduce_share_of_step": round(allreduce_ms / step_ms, 3),
            "exposed_allreduce_ms_in_ddp": round(two["training"][name]["exposed_allreduce_ms"], 3),
            "gloo_GBps_effective": round(grad_bytes / (allreduce_ms * 1e-3) / 1e9, 3),
            "gpu_allreduce_ms_on_paper": {k: round(v, 4) for k, v in gpu.items()},
        }
        print(
            f"{name:6} {params:>9,} {grad_bytes / 1e6:>8.2f} "
            + " ".join(f"{rates[k]:>16,.0f}" for k in configs)
            + f"  {speedup:4.2f}x  {allreduce_ms:.2f} ms ({100 * allreduce_ms / step_ms:.0f}% of a step)"
        )
    summary["gloo_fit"] = {
        "latency_us": round(latency_s * 1e6, 1),
        "bandwidth_GBps": round(bandwidth / 1e9, 3),
    }
    summary["sweep_ms"] = {str(size): round(t * 1e3, 4) for size, t in two["sweep"]}
    summary["gpu_assumptions"] = GPU_LINKS
    print(
        f"gloo over loopback, 2 processes: t ≈ {latency_s * 1e6:.0f} µs + bytes / {bandwidth / 1e9:.2f} GB/s "
        "(latency + bandwidth fit over 1 KiB … 64 MiB)"
    )
    record.emit("distributed", summary, args.save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
