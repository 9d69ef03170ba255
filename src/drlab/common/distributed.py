"""Data-parallel training with PyTorch's own engine, ``torch.distributed``, launched by ``torchrun``.

The idea fits in three lines. Every process ("rank") holds a full copy of the model and takes its
share of each *global* batch; after the backward pass ("rétropropagation") the gradients of all ranks
are summed over the network (an *all-reduce*), so every copy takes the same step of gradient descent
("descente de gradient") and the copies never drift apart. A step on ``W`` ranks therefore equals one
step of one process on the whole global batch — only ``W`` times faster, minus the cost of the
all-reduce. :class:`torch.nn.parallel.DistributedDataParallel` (DDP) does the all-reduce for us,
bucket by bucket, overlapped with the backward pass.

Who is who comes from the environment that ``torchrun`` sets for each worker::

    RANK         this process, 0 … WORLD_SIZE−1, across all machines
    WORLD_SIZE   number of processes in the run
    LOCAL_RANK   this process on this machine (which GPU it drives)
    MASTER_ADDR  MASTER_PORT   where rank 0 waits for the others (the rendezvous)

This module holds the few pieces a training loop needs and nothing more: reading that environment,
starting and ending the process group (gloo on CPU, NCCL on CUDA, one GPU per process), wrapping the
model, all-reducing metric *sums and counts* (never averages of averages), and ``drlab train
--nproc N``, which simply re-runs the same command under ``torchrun``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from drlab.common.errors import DrlabError, UsageError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclasses.dataclass(frozen=True)
class DistEnv:
    """Where this process stands in a distributed run (one process: rank 0 of a world of 1)."""

    rank: int = 0
    """global rank of this process, 0 … world_size − 1"""
    world_size: int = 1
    """number of processes taking part in the run"""
    local_rank: int = 0
    """rank of this process on its own machine: the index of the GPU it drives"""
    master_addr: str | None = None
    """host where rank 0 listens for the rendezvous (``MASTER_ADDR``)"""
    master_port: int | None = None
    """port of that rendezvous (``MASTER_PORT``)"""
    launched: bool = False
    """True when a launcher (``torchrun``) set the environment: a process group must be started"""

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and prints: the others would only repeat it."""
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str) -> int:
    value = environ[name]
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"environment variable {name}={value!r} is not an integer") from None


def read_env(environ: Mapping[str, str] | None = None) -> DistEnv:
    """Read rank, world size and local rank from the variables ``torchrun`` sets.

    Without ``RANK`` and ``WORLD_SIZE`` this is an ordinary single process (``launched=False``).
    """
    environ = os.environ if environ is None else environ
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return DistEnv()
    rank = _env_int(environ, "RANK")
    world_size = _env_int(environ, "WORLD_SIZE")
    local_rank = _env_int(environ, "LOCAL_RANK") if "LOCAL_RANK" in environ else 0
    port = _env_int(environ, "MASTER_PORT") if "MASTER_PORT" in environ else None
    if world_size < 1 or not 0 <= rank < world_size:
        raise UsageError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    if local_rank < 0:
        raise UsageError(f"inconsistent torchrun environment: LOCAL_RANK={local_rank}")
    return DistEnv(rank, world_size, local_rank, environ.get("MASTER_ADDR"), port, launched=True)


def backend_for(device: torch.device) -> str:
    """NCCL moves CUDA tensors GPU to GPU; gloo moves CPU tensors over TCP."""
    return "nccl" if device.type == "cuda" else "gloo"


def setup(
    device_name: str = "auto",
    *,
    env: DistEnv | None = None,
    init_method: str | None = None,
    timeout_s: float = 300.0,
) -> tuple[DistEnv, torch.device]:
    """Start this process's part of the run; return where it stands and the device it computes on.

    - Not launched by torchrun (and no ``env`` given): nothing to start, one process on ``device_name``.
    - On CUDA: one GPU per process, ``cuda:LOCAL_RANK``, and the NCCL backend.
    - On the CPU: the gloo backend.
    ``init_method`` defaults to ``env://`` (``MASTER_ADDR``/``MASTER_PORT``); tests pass
    ``tcp://127.0.0.1:PORT``. ``timeout_s`` bounds how long a collective waits for a missing peer.
    """
    import torch
    import torch.distributed as dist

    from drlab.common.device import resolve_device

    env = read_env() if env is None else env
    device = resolve_device(device_name)
    if not env.launched:
        return env, device
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", env.local_rank)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"rank {env.rank} wants GPU {device.index} but this machine has {torch.cuda.device_count()}; "
                "use --nproc-per-node ≤ the number of GPUs"
            )
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise UsageError("distributed training does not run on MPS; pass --device cpu")
    if not dist.is_available():
        raise UsageError("this PyTorch build has no torch.distributed")
    if not dist.is_initialized():
        dist.init_process_group(
            backend_for(device),
            init_method=init_method or "env://",
            rank=env.rank,
            world_size=env.world_size,
            timeout=timedelta(seconds=timeout_s),
            device_id=device if device.type == "cuda" else None,
        )
    return env, device


def teardown() -> None:
    """End the process group (safe to call when none was started)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed(
    device_name: str = "auto", *, env: DistEnv | None = None, init_method: str | None = None
) -> Iterator[tuple[DistEnv, torch.device]]:
    """``with distributed("auto") as (env, device): …`` — :func:`setup`, then :func:`teardown`, always."""
    try:
        yield setup(device_name, env=env, init_method=init_method)
    finally:
        teardown()


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank (0 outside a distributed run)."""
    if "torch.distributed" in sys.modules and _initialized():
        import torch.distributed as dist

        return dist.get_rank()
    return read_env().rank


def get_world_size() -> int:
    """Number of processes in the run (1 outside a distributed run)."""
    if "torch.distributed" in sys.modules and _initialized():
        import torch.distributed as dist

        return dist.get_world_size()
    return read_env().world_size


def is_main_process() -> bool:
    """True on rank 0, the one process that writes the run directory, checkpoints and plots, and prints."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if _initialized() and get_world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


def all_reduce_sums(values: Mapping[str, float], device: torch.device | str = "cpu") -> dict[str, float]:
    """Sum each named number over all ranks, in one collective.

    Pass *sums and counts* (loss summed over samples, number correct, number of samples), then divide
    after the reduction: the mean of per-rank means is wrong as soon as ranks hold different numbers of
    samples (the last batch of an epoch). float64 keeps counts exact up to 2**53.
    On NCCL the tensor must live on the GPU, hence ``device``.
    """
    if not (_initialized() and get_world_size() > 1):
        return {name: float(value) for name, value in values.items()}
    import torch
    import torch.distributed as dist

    names = list(values)
    packed = torch.tensor([float(values[name]) for name in names], dtype=torch.float64, device=device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return dict(zip(names, packed.tolist(), strict=True))


def broadcast_object(obj: T, src: int = 0) -> T:
    """Send a small picklable object from rank ``src`` to all ranks (identity in a single process)."""
    if not (_initialized() and get_world_size() > 1):
        return obj
    import torch.distributed as dist

    box: list[Any] = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when several ranks train it (else return it as is).

    DDP copies rank 0's weights to every rank when it is built, then all-reduces (averages) the
    gradients during ``backward()``. Save and load through :func:`unwrap`, so checkpoints do not
    depend on the number of processes.
    """
    if not (_initialized() and get_world_size() > 1):
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" and device.index is not None else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DDP wrapper (the model itself when it is not wrapped)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def global_batch_size(num_samples: int, batch_size: int, step: int) -> int:
    """Number of samples in global batch ``step`` of an epoch (the last one may be short)."""
    return max(0, min(batch_size, num_samples - step * batch_size))


def shard_loss_weight(local_count: int, global_count: int, world_size: int) -> float:
    """Factor that turns this rank's *mean* loss into its share of the global batch's mean loss.

    DDP *averages* gradients over ranks: ∇ = (1/W) Σ_r ∇L_r. We want the gradient of the mean loss
    over the global batch, Σ_r (n_r/B)·∇mean_r. So rank r scales its mean loss by W·n_r/B.
    When every rank holds B/W samples the factor is exactly 1; it matters for a short last batch
    (47 samples on 2 ranks: 24 and 23), where the mean of the two means is not the mean.
    """
    return world_size * local_count / global_count


def is_collective_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says a peer went away during a collective (gloo/NCCL errors, store timeouts)."""
    import torch.distributed as dist

    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        marker in text for marker in ("gloo", "Gloo", "NCCL", "Connection reset", "Connection closed")
    )


def short_reason(exc: BaseException) -> str:
    """The gist of a gloo/NCCL error, without the C++ source location: ``Connection reset by peer``."""
    import re

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[[^\]]*\.(?:cc|cpp|h):\d+\]\s*", "", text)  # "[/…/gloo/…/pair.cc:537] "
    return text.split(". ")[0][:160]


# --- `drlab train --nproc N`: the same command, re-run under torchrun --------------------------------


def argv_from_namespace(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace, *, exclude: Sequence[str] = ()
) -> list[str]:
    """Rebuild a command line that ``parser`` parses back into ``namespace`` (minus ``exclude``).

    Every option is written out explicitly (defaults too), so the workers run exactly the resolved
    command whatever the launcher's own ``sys.argv`` was (a test calling ``main([...])``, say).
    """
    argv: list[str] = []
    positionals: list[str] = []
    skipped = set(exclude)
    for action in parser._actions:
        dest = action.dest
        if dest in skipped or dest == argparse.SUPPRESS or not hasattr(namespace, dest):
            continue
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        value = getattr(namespace, dest)
        if not action.option_strings:
            values = value if isinstance(value, (list, tuple)) else [value]
            positionals.extend(str(v) for v in values if v is not None)
            continue
        option = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
        if isinstance(action, argparse.BooleanOptionalAction):
            if value is not None:
                argv.append(option if value else "--no-" + option[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(option)
        elif isinstance(action, argparse._StoreFalseAction):
            if not value:
                argv.append(option)
        elif isinstance(action, argparse._StoreAction):
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                argv.extend([option, *(str(v) for v in value)])
            else:
                argv.extend([option, str(value)])
        else:
            raise TypeError(f"cannot re-emit option {option} ({type(action).__name__})")
    return argv + (["--", *positionals] if positionals else [])


def torchrun_command(nproc: int, module_args: Sequence[str], *, module: str = "drlab") -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m MODULE ARGS…``."""
    if nproc < 1:
        raise UsageError(f"--nproc must be ≥ 1, got {nproc}")
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        module,
        *module_args,
    ]


def threads_per_process(nproc: int, cpu_count: int | None = None) -> int:
    """Split this machine's cores between the workers: one process per core is the fair share."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cores // nproc)


def launch(
    nproc: int, module_args: Sequence[str], *, checkpoint: str | os.PathLike[str] | None = None
) -> int:
    """Run ``python -m drlab ARGS…`` on ``nproc`` processes under torchrun and wait for them.

    Returns 0 when every worker succeeded. When one dies (an error, an out-of-memory kill, Ctrl-C),
    torchrun stops the others and reports the root cause; this raises a one-line :class:`DrlabError`
    (exit 1) that says so and, when ``checkpoint`` exists, how to continue from it.
    """
    command = torchrun_command(nproc, module_args)
    env = dict(os.environ)
    # torchrun would set 1 thread per worker (and print a banner saying so); give each its share
    env.setdefault("OMP_NUM_THREADS", str(threads_per_process(nproc)))
    print(f"launching {nproc} processes: torchrun --standalone --nproc-per-node {nproc} -m drlab "
          + " ".join(module_args), file=sys.stderr, flush=True)  # fmt: skip
    # Ctrl-C reaches torchrun too (same process group): it stops its workers, then we re-raise
    returncode = subprocess.run(command, env=env, check=False).returncode
    if returncode != 0:
        hint = ""
        if checkpoint is not None and os.path.isfile(checkpoint):
            hint = f"; the last checkpoint, {os.fspath(checkpoint)}, is complete: add --resume to continue"
        raise DrlabError(
            f"distributed run failed: a worker exited with an error (torchrun exit code {returncode}; "
            f"its 'Root Cause' report above names the rank){hint}"
        )
    return 0


def sync_buffers(model: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (batch norm's running statistics) to every rank.

    DDP broadcasts them before each training forward, so after the last batch of an epoch each rank
    still holds its own last update; evaluating and saving from the same statistics everywhere needs
    this one broadcast.
    """
    if not (_initialized() and get_world_size() > 1):
        return
    import torch.distributed as dist

    for buffer in unwrap(model).buffers():
        dist.broadcast(buffer, src=src)


def lossless_batch_size(num_samples: int, batch_size: int, world_size: int) -> int:
    """A batch size ≤ ``batch_size`` whose sharded batches over ``world_size`` ranks drop no sample.

    :class:`~drlab.data.Batches` skips a last batch smaller than the world (a rank would get nothing);
    evaluation must count every sample, so it picks a size whose remainder is 0 or ≥ ``world_size``.
    """
    for size in range(min(batch_size, num_samples), world_size - 1, -1):
        rest = num_samples % size
        if rest == 0 or rest >= world_size:
            return size
    raise UsageError(f"{num_samples} samples cannot be shared between {world_size} processes")


# --- fault injection, for the tests of a worker dying mid-run ------------------------------------------

#: ``RANK:EPOCH:STEP`` (epoch and step counted from 1): that rank kills itself with SIGKILL just before
#: that training step, as the out-of-memory killer would. A test aid; unset, it costs one dict lookup.
FAULT_ENV = "DRLAB_FAULT_INJECTION"


def parse_fault(spec: str) -> tuple[int, int, int]:
    """``"1:2:3"`` → ``(rank 1, epoch 2, step 3)``."""
    parts = spec.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{FAULT_ENV}={spec!r}: expected RANK:EPOCH:STEP (three integers)")
    rank, epoch, step = (int(p) for p in parts)
    if epoch < 1 or step < 1:
        raise ValueError(f"{FAULT_ENV}={spec!r}: epoch and step count from 1")
    return rank, epoch, step


def fault_from_env() -> tuple[int, int, int] | None:
    """The fault to inject in this run, if the environment asks for one."""
    spec = os.environ.get(FAULT_ENV)
    return parse_fault(spec) if spec else None


def maybe_inject_fault(fault: tuple[int, int, int] | None, epoch: int, step: int) -> None:
    """SIGKILL this process if ``fault`` names this rank, ``epoch`` and ``step`` (both from 1)."""
    if fault is not None and fault == (get_rank(), epoch, step):
        import signal

        sys.stderr.flush()
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def is_initialized() -> bool:
    """Whether this process has joined a process group."""
    return _initialized()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over every rank (a new tensor; ``tensor`` itself in a single process).

    For metric *totals* — summed losses, correct counts, sample counts, confusion matrices — that are
    divided only afterwards.
    """
    if not (_initialized() and get_world_size() > 1):
        return tensor
    import torch.distributed as dist

    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def main_first(action: Callable[[], T]) -> T | None:
    """Run ``action`` on rank 0 only; if it raises a :class:`DrlabError`, every rank raises it.

    For the checks that touch files (is the run directory free?): rank 0 alone looks, the others learn
    the verdict, so all ranks stop together with the same exit code instead of waiting for a peer that
    has already left. The copies raised on the other ranks carry ``reported_by_main = True``: rank 0
    prints the message, they need not repeat it. Returns ``action()``'s result on rank 0, else ``None``.
    """
    result: T | None = None
    failure: DrlabError | None = None
    if is_main_process():
        try:
            result = action()
        except DrlabError as exc:
            failure = exc
    verdict = broadcast_object(
        None if failure is None else (isinstance(failure, UsageError), failure.exit_code, str(failure))
    )
    if failure is not None:
        raise failure
    if verdict is not None:
        usage, exit_code, message = verdict
        error = UsageError(message) if usage else DrlabError(message)
        error.exit_code = exit_code
        error.reported_by_main = True  # type: ignore[attr-defined]
        raise error
    return result
