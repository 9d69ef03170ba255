"""Choosing where tensors live: ``--device auto`` picks CUDA, then MPS, then the CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drlab.common.errors import UsageError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N``/``mps`` into a ``torch.device`` that exists here.

    ``auto`` asks ``torch.accelerator`` (PyTorch ≥ 2.6) for the current accelerator, and falls back to
    probing CUDA then MPS on older versions. Asking for a device this machine lacks is a
    :class:`UsageError`, not a crash deep inside the first ``.to()``.
    """
    import torch

    if name == "auto":
        accelerator = getattr(torch, "accelerator", None)
        if accelerator is not None and accelerator.is_available():
            current = accelerator.current_accelerator()
            if current is not None and current.type in ("cuda", "mps"):
                return torch.device(current.type)
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {name!r} (choose from {', '.join(DEVICE_CHOICES)})") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but no CUDA GPU is available here (try --device auto)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps asked for, but MPS is not available here (try --device auto)")
    return device
