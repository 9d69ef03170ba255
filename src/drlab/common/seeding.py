"""The one seeding function of drlab, and the capture and restore of every random state.

Every command takes ``--seed`` and calls :func:`seed_everything` once, first. Code that needs its own
stream of random numbers (the batch order, an environment) derives it from the same seed through a
``torch.Generator`` or ``numpy.random.Generator`` it owns, so that adding a random call in one place
does not shift the numbers drawn in another.

A checkpoint saves the *global* generators with :func:`capture_rng_states` and a resumed run puts
them back with :func:`restore_rng_states`, so that dropout draws the same masks as an uninterrupted run.

``PYTHONHASHSEED`` is not set here: Python reads it once, when the interpreter starts, so setting it
in a running process changes nothing for that process (only for the children it starts). drlab draws
no random number from the order of a ``set`` or a ``dict`` of strings, so string hashing never moves a
result; the determinism tests run with whatever hash seed the interpreter got.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from drlab.common.config import check_seed


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    With ``deterministic=True`` torch also refuses non-deterministic kernels (slower on GPU; on CPU
    the same seed already gives the same numbers).
    """
    import torch

    check_seed(seed)  # a UsageError (one line at the CLI), also a ValueError for library callers
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False


def capture_rng_states() -> dict[str, Any]:
    """Every global random state (torch CPU and CUDA, NumPy, Python) as tensors and plain data.

    Only tensors, numbers and strings: a checkpoint holding it loads with ``torch.load(weights_only=True)``.
    """
    import torch

    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": version,
            "state": torch.tensor(python_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def rng_states_spec() -> dict[str, Any]:
    """The structure of :func:`capture_rng_states`'s result (see :mod:`drlab.common.schema`)."""
    import torch

    from drlab.common.schema import IntIn, ListOf, OneOf, TensorSpec

    return {
        "torch": TensorSpec(tuple(torch.get_rng_state().shape), torch.uint8),
        "cuda": ListOf(TensorSpec((None,), torch.uint8)),
        "numpy": {
            "keys": TensorSpec((624,), torch.int64),
            "position": IntIn(0, 624),
            "has_gauss": IntIn(0, 1),
            "cached_gaussian": float,
        },
        "python": {
            "version": IntIn(3, 3),
            "state": TensorSpec((625,), torch.int64),
            "gauss_next": OneOf((None, float)),
        },
    }


def restore_rng_states(states: dict[str, Any], where: str = "the checkpoint") -> None:
    """Put back the random states saved by :func:`capture_rng_states` (checked against
    :func:`rng_states_spec` first; a state the generators refuse is a one-line :class:`UsageError`)."""
    from drlab.common.errors import UsageError
    from drlab.common.schema import check_structure

    check_structure(states, rng_states_spec(), f"{where}: rng")
    try:
        _restore(states)
    except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
        raise UsageError(f"{where}: its random generators' state is damaged ({exc})") from exc


def _restore(states: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python = states["python"]
    random.setstate(
        (python["version"], tuple(int(v) for v in python["state"].tolist()), python["gauss_next"])
    )
