"""Data-parallel training with PyTorch's own engine, ``torch.distributed``, launched by ``torchrun``.

The idea fits in three lines. Every process ("rank") holds a full copy of the model and takes its
share of each *global* batch; after the backward pass ("rétropropagation") the gradients of all ranks
are combined over the network (an *all-reduce*), so every copy takes the same step of gradient descent
("descente de gradient") and the copies never drift apart. A step on ``W`` ranks therefore equals one
step of one process on the whole global batch — only faster, minus the cost of the all-reduce.
:class:`torch.nn.parallel.DistributedDataParallel` (DDP) does the all-reduce for us, bucket by bucket,
overlapped with the backward pass.

This module stands *beside* the training loop, not in it (nanoGPT's layout): the loop of
:mod:`drlab.train.trainer` is the same four steps on one process or many. What differs lives here:

- :func:`read_env` and :func:`setup` / :func:`teardown`: who is who (the variables ``torchrun`` sets:
  ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and the process group
  (gloo on CPU, NCCL on CUDA with one GPU per process);
- :func:`wrap_model`: ``model = DDP(raw_model)``, whose all-reduce weights each rank by its share of
  the global batch, so that a short last batch shared unevenly (15 samples: 8 and 7) still gives the
  gradient of the global mean loss;
- :func:`all_reduce_sum` for metric *sums and counts* (never averages of averages),
  :func:`sync_buffers` for batch norm's running statistics, :func:`main_first` for the checks that
  touch files, :func:`is_main_process` (rank 0 alone prints and writes);
- ``drlab train --nproc N``: :func:`launch` re-runs the resolved command under ``torchrun``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from drlab.common.errors import DrlabError, UsageError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


# --- who is who, and the process group -------------------------------------------------------------------
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
    if is_initialized():
        import torch.distributed as dist

        dist.destroy_process_group()


def is_initialized() -> bool:
    """Whether this process has joined a process group (``torch.distributed`` is imported only then)."""
    if "torch.distributed" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _world_size() -> int:
    if not is_initialized():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0, the one process that writes the run directory, checkpoints and plots, and prints."""
    if is_initialized():
        import torch.distributed as dist

        return dist.get_rank() == 0
    return read_env().is_main


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if _world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


# --- the model: wrapped for training, raw for saving and evaluating ----------------------------------------
class _GlobalMean:
    """The state of :func:`_global_mean_hook`: how many samples this rank's current batch holds."""

    count = 0

    def record(self, module: Any, inputs: tuple[Any, ...]) -> None:
        self.count = len(inputs[0])  # a forward pre-hook: called with the batch, before every forward


# no annotations on ``bucket`` and the result: DDP compares them with ``dist.GradBucket`` and
# ``Future[Tensor]``, and this module's annotations are strings (``from __future__ import annotations``)
def _global_mean_hook(state: _GlobalMean, bucket):  # type: ignore[no-untyped-def]
    """DDP's all-reduce of one bucket of gradients, weighted by each rank's share of the global batch.

    Rank r holds ∇mean_r, the gradient of the mean loss over its n_r samples. DDP's default averages
    the ranks, (1/W) Σ_r ∇mean_r, which is the gradient of the global mean only when every n_r is equal.
    The exact rule is Σ_r n_r·∇mean_r / Σ_r n_r: each rank sends n_r·∇mean_r and n_r in the same
    all-reduce (one message, as before), and the sum is divided by the global batch size Σ_r n_r.
    """
    import torch
    import torch.distributed as dist

    grads = bucket.buffer()
    packed = torch.cat([grads * state.count, grads.new_full((1,), float(state.count))])

    def divide(future: Any) -> torch.Tensor:
        total = future.value()[0]
        return total[:-1] / total[-1]

    return dist.all_reduce(packed, async_op=True).get_future().then(divide)


def wrap_model(raw_model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model = DDP(raw_model)`` when several ranks train it; ``raw_model`` itself in a single process.

    DDP copies rank 0's weights to every rank when it is built, then all-reduces the gradients during
    ``backward()``, weighted so that unequal shards of a global batch give the gradient of its mean
    loss (see :func:`_global_mean_hook`). Train through the wrapper; save, load and evaluate
    ``raw_model``, so that checkpoints do not depend on the number of processes.
    """
    if _world_size() == 1:
        return raw_model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" and device.index is not None else None
    model = DistributedDataParallel(raw_model, device_ids=device_ids)
    share = _GlobalMean()
    model.register_forward_pre_hook(share.record)
    model.register_comm_hook(share, _global_mean_hook)
    return model


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over every rank (a new tensor; ``tensor`` itself in a single process).

    For metric *totals* — summed losses, correct counts, sample counts, confusion matrices — that are
    divided only afterwards: the mean of per-rank means is wrong as soon as ranks hold different
    numbers of samples.
    """
    if _world_size() == 1:
        return tensor
    import torch.distributed as dist

    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def sync_buffers(raw_model: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (batch norm's running statistics) to every rank.

    DDP broadcasts them before each training forward, so after the last batch of an epoch each rank
    still holds its own last update; evaluating and saving from the same statistics everywhere needs
    this one broadcast.
    """
    if _world_size() == 1:
        return
    import torch.distributed as dist

    for buffer in raw_model.buffers():
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


# --- failures: every rank stops together, with one message ------------------------------------------------
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
    verdict: Any = (
        None if failure is None else (isinstance(failure, UsageError), failure.exit_code, str(failure))
    )
    if _world_size() > 1:
        import torch.distributed as dist

        box = [verdict]
        dist.broadcast_object_list(box, src=0)  # rank 0's verdict reaches every rank
        verdict = box[0]
    if failure is not None:
        raise failure
    if verdict is not None:
        usage, exit_code, message = verdict
        error = UsageError(message) if usage else DrlabError(message)
        error.exit_code = exit_code
        error.reported_by_main = True  # type: ignore[attr-defined]
        raise error
    return result


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
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[[^\]]*\.(?:cc|cpp|h):\d+\]\s*", "", text)  # "[/…/gloo/…/pair.cc:537] "
    return text.split(". ")[0][:160]


# --- `drlab train --nproc N`: the same run, re-launched under torchrun -------------------------------------
def config_argv(config: Any) -> list[str]:
    """The command-line options that rebuild the dataclass ``config`` field for field.

    The inverse of :func:`drlab.common.config.add_dataclass_arguments`: ``--x``/``--no-x`` for a bool,
    ``--x a b`` for a tuple, nothing for ``None`` (the option's default), ``--x VALUE`` otherwise
    (``str(float)`` reads back as the same float). Every other field is written out, so the workers
    run exactly the resolved config, whatever the launcher's own command line was.
    """
    argv: list[str] = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        option = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(option if value else "--no-" + option[2:])
        elif isinstance(value, tuple):
            argv.extend([option, *(str(v) for v in value)])
        elif value is not None:
            argv.extend([option, str(value)])
    return argv


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
