"""The one seeding function of drlab.

Every command takes ``--seed`` and calls :func:`seed_everything` once, first. Code that needs its own
stream of random numbers (the batch order, an environment) derives it from the same seed through a
``torch.Generator`` or ``numpy.random.Generator`` it owns, so that adding a random call in one place
does not shift the numbers drawn in another.
"""

from __future__ import annotations

import os
import random

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
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
