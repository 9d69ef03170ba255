"""Data parallelism (drlab.train.distributed): the pieces, then two real gloo processes on loopback.

The oracle for the two-process run is a plain single-process loop over the same global batches: the
wrapper's all-reduce weights each rank by its share of the global batch, so the gradients equal the
gradient of the global mean loss even when the last batch is shared unevenly, the weights after a few
steps agree to float tolerance, and the all-reduced metric sums are the same numbers. Plain DDP (an
average of the ranks' means) is run beside it and must *not* agree: the test can fail.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

from drlab.cli import main
from drlab.common.errors import UsageError
from drlab.data import Batches
from drlab.train import distributed as D
from drlab.train.config import TrainConfig

# --- the environment torchrun sets ------------------------------------------------------------------


def test_read_env_single_process() -> None:
    env = D.read_env({})
    assert (env.rank, env.world_size, env.local_rank, env.launched, env.is_main) == (0, 1, 0, False, True)


def test_read_env_from_torchrun_variables() -> None:
    environ = {
        "RANK": "3",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "node0",
        "MASTER_PORT": "29500",
    }
    env = D.read_env(environ)
    assert env == D.DistEnv(3, 4, 1, "node0", 29500, launched=True)
    assert not env.is_main


@pytest.mark.parametrize(
    "environ",
    [{"RANK": "x", "WORLD_SIZE": "2"}, {"RANK": "2", "WORLD_SIZE": "2"}, {"RANK": "0", "WORLD_SIZE": "0"}],
)
def test_read_env_rejects_inconsistent_values(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        D.read_env(environ)


def test_single_process_helpers_are_identities() -> None:
    # outside torchrun nothing is initialised: metrics pass through, the model is not wrapped
    env, device = D.setup("cpu", env=D.DistEnv())
    assert not env.launched and device.type == "cpu"
    assert D.is_main_process() and not D.is_initialized()
    totals = torch.tensor([2.5, 3.0])
    assert D.all_reduce_sum(totals) is totals
    model = nn.Linear(2, 2)
    assert D.wrap_model(model, device) is model
    D.barrier()
    D.teardown()


# --- the arithmetic of sharding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_samples", "batch_size", "world_size"), [(47, 10, 2), (60, 12, 3), (51, 8, 3), (52, 8, 4)]
)
def test_sharding_covers_every_index_exactly_once(num_samples: int, batch_size: int, world_size: int) -> None:
    images = np.zeros((num_samples, 2, 2), dtype=np.uint8)
    labels = np.zeros(num_samples, dtype=np.int64)
    for epoch in range(3):
        shards = [
            list(
                Batches(images, labels, batch_size=batch_size, seed=7, rank=r, world_size=world_size).indices(
                    epoch
                )
            )
            for r in range(world_size)
        ]
        assert len({len(s) for s in shards}) == 1  # every rank takes the same number of steps
        order = Batches(images, labels, batch_size=batch_size, seed=7).permutation(epoch)
        seen = torch.cat([torch.cat(s) for s in shards])
        assert sorted(seen.tolist()) == list(range(num_samples))  # each sample once per epoch
        for step, per_rank in enumerate(zip(*shards, strict=True)):
            global_batch = order[step * batch_size : (step + 1) * batch_size]
            assert sorted(torch.cat(per_rank).tolist()) == sorted(global_batch.tolist())
            assert sum(len(p) for p in per_rank) == min(batch_size, num_samples - step * batch_size)


# --- the launcher ---------------------------------------------------------------------------------------


def test_torchrun_command_and_thread_share() -> None:
    command = D.torchrun_command(2, ["train", "--epochs", "1"])
    assert command[0] == sys.executable
    assert command[1:] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "drlab", "train", "--epochs", "1",
    ]  # fmt: skip
    with pytest.raises(UsageError):
        D.torchrun_command(0, [])
    assert D.threads_per_process(2, cpu_count=2) == 1
    assert D.threads_per_process(1, cpu_count=2) == 2
    assert D.threads_per_process(4, cpu_count=2) == 1


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(),
        TrainConfig(dataset="digits", epochs=3, lr=3e-4, channels_last=False, limit=300).resolved(),
        TrainConfig(model="cnn-bn", max_grad_norm=0.5, precision="bf16", summary=True).resolved(),
    ],
)
def test_config_argv_parses_back_into_the_same_config(
    config: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the workers of --nproc get the resolved config as options: drlab's own command line reads it back
    import drlab.train.run

    received: list[TrainConfig] = []
    monkeypatch.setattr(drlab.train.run, "train_run", lambda config, out, **run: received.append(config))
    assert main(["train", *D.config_argv(config)]) == 0
    assert [dataclasses.asdict(c) for c in received] == [dataclasses.asdict(config)]


# --- two real processes: gloo over 127.0.0.1 -------------------------------------------------------------

NUM_SAMPLES, GLOBAL_BATCH, EPOCHS, SEED, LR = 47, 10, 2, 3, 0.2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toy_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(NUM_SAMPLES, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, size=NUM_SAMPLES).astype(np.int64)
    return images, labels


def _toy_model() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3))


def _train_on_shards(model: nn.Module, rank: int, world_size: int) -> list[dict[str, float]]:
    """The student's loop, unchanged, on this rank's shard of every global batch."""
    images, labels = _toy_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    batches = Batches(images, labels, batch_size=GLOBAL_BATCH, seed=SEED, rank=rank, world_size=world_size)
    epoch_metrics = []
    for epoch in range(EPOCHS):
        batches.set_epoch(epoch)
        sums = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
        for x_batch, y_batch in batches:
            logits = model(x_batch)  # ❶ forward
            loss = F.cross_entropy(logits, y_batch)  # ❷ loss: this rank's mean
            loss.backward()  # ❸ gradients, all-reduced by the wrapper
            optimizer.step()  # ❹ update, identical on every rank
            optimizer.zero_grad()
            sums += torch.tensor(
                [loss.item() * len(y_batch), float((logits.argmax(1) == y_batch).sum()), len(y_batch)],
                dtype=torch.float64,
            )
        loss_sum, correct, count = D.all_reduce_sum(sums).tolist()
        epoch_metrics.append({"loss_sum": loss_sum, "correct": correct, "count": count})
    return epoch_metrics


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    env = D.DistEnv(rank, world_size, rank, "127.0.0.1", port, launched=True)
    env, device = D.setup("cpu", env=env, init_method=f"tcp://127.0.0.1:{port}", timeout_s=60)
    try:
        # a different seed on rank 1: DDP must broadcast rank 0's initial weights
        raw_model = _toy_model() if rank == 0 else nn.Sequential(
            nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3)
        )  # fmt: skip
        epoch_metrics = _train_on_shards(D.wrap_model(raw_model, device), rank, world_size)
        # the same loop under plain DDP, which averages the ranks' means: wrong on the uneven last batch
        plain_model = _toy_model()
        _train_on_shards(DistributedDataParallel(plain_model), rank, world_size)
        D.barrier()
        # batch-norm statistics: rank 0's become everyone's
        norm = nn.BatchNorm1d(3)
        norm.running_mean.fill_(float(rank + 1))
        D.sync_buffers(norm)
        # integer totals (a confusion matrix) sum exactly
        confusion = D.all_reduce_sum(torch.full((2, 2), rank + 1, dtype=torch.int64))

        # a check that fails on rank 0 stops every rank with the same error
        def busy_run_dir() -> None:
            raise UsageError("runs/x already holds a run")

        try:
            D.main_first(busy_run_dir)
            shared_error = None
        except UsageError as exc:
            shared_error = (str(exc), exc.exit_code, getattr(exc, "reported_by_main", False))
        torch.save(
            {
                "state": raw_model.state_dict(),
                "plain_ddp_state": plain_model.state_dict(),
                "metrics": epoch_metrics,
                "running_mean": norm.running_mean.clone(),
                "confusion": confusion,
                "shared_error": shared_error,
                "main_first_ok": D.main_first(lambda: "rank 0 result"),
                "is_main": D.is_main_process(),
                "world_size": dist.get_world_size(),
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        D.teardown()


def _single_process_reference() -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """The plain loop, one process, the whole global batch at once: the oracle."""
    images, labels = _toy_data()
    model = _toy_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    batches = Batches(images, labels, batch_size=GLOBAL_BATCH, seed=SEED)
    metrics = []
    for epoch in range(EPOCHS):
        batches.set_epoch(epoch)
        loss_sum = correct = count = 0.0
        for x_batch, y_batch in batches:
            logits = model(x_batch)
            loss = F.cross_entropy(logits, y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y_batch)
            correct += float((logits.argmax(1) == y_batch).sum())
            count += len(y_batch)
        metrics.append({"loss_sum": loss_sum, "correct": correct, "count": count})
    return model.state_dict(), metrics


@pytest.mark.timeout(180)
def test_two_gloo_processes_equal_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")  # keep gloo's own sockets on loopback
    world_size = 2
    mp.spawn(_ddp_worker, args=(world_size, _free_port(), str(tmp_path)), nprocs=world_size, join=True)
    results: list[dict[str, Any]] = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world_size)]
    reference_state, reference_metrics = _single_process_reference()

    assert [r["is_main"] for r in results] == [True, False]
    assert [r["world_size"] for r in results] == [2, 2]
    assert [r["running_mean"].tolist() for r in results] == [[1.0, 1.0, 1.0]] * 2
    assert [r["confusion"].tolist() for r in results] == [[[3, 3], [3, 3]]] * 2
    assert [r["shared_error"] for r in results] == [
        ("runs/x already holds a run", 2, False),  # raised by rank 0 itself: it prints it
        ("runs/x already holds a run", 2, True),  # rank 1's copy: rank 0 already said it
    ]
    assert [r["main_first_ok"] for r in results] == ["rank 0 result", None]
    for name, expected in reference_state.items():
        # the copies never drift apart: bit-identical across ranks…
        torch.testing.assert_close(results[1]["state"][name], results[0]["state"][name], rtol=0, atol=0)
        # …and equal to one process on the whole global batch, to float tolerance
        torch.testing.assert_close(results[0]["state"][name], expected, rtol=1e-5, atol=1e-6)
    # plain DDP's average of means is measurably off: the weighting is what makes the two agree
    gap = max((results[0]["plain_ddp_state"][k] - v).abs().max().item() for k, v in reference_state.items())
    assert gap > 1e-4, gap
    # metrics: all-reduced sums and counts equal the single-process numbers (same on every rank)
    for rank_result in results:
        for got, expected in zip(rank_result["metrics"], reference_metrics, strict=True):
            assert got["count"] == expected["count"] == NUM_SAMPLES
            assert got["correct"] == expected["correct"]
            assert got["loss_sum"] == pytest.approx(expected["loss_sum"], rel=1e-5)


def test_a_tail_smaller_than_the_world_is_left_for_the_next_epoch() -> None:
    # 50 = 6×8 + 2: two samples cannot feed four ranks, so Batches drops them (a different two each
    # epoch, since the permutation changes); every other sample is still seen exactly once
    images, labels = np.zeros((50, 2, 2), dtype=np.uint8), np.zeros(50, dtype=np.int64)
    shards = [
        list(Batches(images, labels, batch_size=8, seed=7, rank=r, world_size=4).indices(0)) for r in range(4)
    ]
    seen = torch.cat([torch.cat(s) for s in shards]).tolist()
    order = Batches(images, labels, batch_size=8, seed=7).permutation(0).tolist()
    assert len(seen) == len(set(seen)) == 48 and sorted(seen) == sorted(order[:48])


def test_lossless_batch_size_never_drops_a_sample() -> None:
    for num_samples in (1, 2, 3, 30, 1025, 2049, 10_000):
        for world_size in (1, 2, 3, 4):
            if num_samples < world_size:
                with pytest.raises(UsageError):
                    D.lossless_batch_size(num_samples, 1024, world_size)
                continue
            size = D.lossless_batch_size(num_samples, 1024, world_size)
            assert world_size <= size <= 1024
            images, labels = (
                np.zeros((num_samples, 1, 1), dtype=np.uint8),
                np.zeros(num_samples, dtype=np.int64),
            )
            shards = [
                Batches(
                    images, labels, batch_size=size, shuffle=False, rank=r, world_size=world_size
                ).indices(0)
                for r in range(world_size)
            ]
            seen = sorted(torch.cat([torch.cat(list(s)) for s in shards]).tolist())
            assert seen == list(range(num_samples))


def test_short_reason_keeps_the_gist_of_a_gloo_error() -> None:
    error = RuntimeError(
        "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error "
        "[127.0.0.1]:42395: Connection reset by peer. This is typically caused by a remote worker hanging"
    )
    assert D.short_reason(error) == "Read error [127.0.0.1]:42395: Connection reset by peer"
    assert D.is_collective_failure(error)
    assert not D.is_collective_failure(ValueError("bad value"))


def test_main_first_in_a_single_process() -> None:
    assert D.main_first(lambda: 42) == 42

    def busy() -> None:
        raise UsageError("busy")

    with pytest.raises(UsageError, match="busy"):
        D.main_first(busy)
