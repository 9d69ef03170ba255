"""Choosing where tensors live: ``--device auto`` picks CUDA, then MPS, then the CPU; and in which precision."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal

from drlab.common.errors import UsageError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

Precision = Literal["fp32", "bf16", "auto"]
"""what ``--precision`` asks for"""
EffectivePrecision = Literal["fp32", "bf16"]
"""what a run computes in, on its device (:func:`effective_precision`)"""


def check_device(name: object, option: str = "--device") -> str:
    """``name`` if drlab can train on it — ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` — else a
    one-line :class:`UsageError`. The one rule for every ``--device``; torch is not imported.

    PyTorch itself accepts more (``meta``, whose tensors hold no numbers; ``xla``, ``cpu:3``…): none of
    them can run a drlab training, so they are refused here rather than deep inside the first step.
    """
    text = name if isinstance(name, str) else ""
    kind, _, index = text.partition(":")
    if text in DEVICE_CHOICES or (kind == "cuda" and index.isascii() and index.isdigit() and len(index) < 4):
        return text
    raise UsageError(
        f"{option} {name!r} is not a device drlab can use (choose from auto, cpu, cuda, cuda:N, mps)"
    )


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N``/``mps`` into a ``torch.device`` that exists here.

    ``auto`` asks ``torch.accelerator`` (PyTorch ≥ 2.6) for the current accelerator, and falls back to
    probing CUDA then MPS on older versions. A name :func:`check_device` refuses, or a device this
    machine lacks, is a :class:`UsageError`, not a crash deep inside the first ``.to()``.
    """
    import torch

    check_device(name)
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
        raise UsageError(f"--device {name} asked for, but no CUDA GPU is available here (try --device auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(
            f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {name} asked for, but MPS is not available here (try --device auto)")
    return device


@functools.cache
def native_bf16(device_type: str) -> bool:
    """Whether this machine's ``device_type`` computes bfloat16 matmuls and convolutions in hardware.

    CUDA: a GPU that supports bf16 (Ampere and later). CPU: the AVX512-BF16 or AMX instructions
    (recent Intel Xeons, AMD Zen 4 and later), where oneDNN runs bf16 convolutions about twice as fast
    as float32; elsewhere bf16 on the CPU is emulated, slower than float32.
    """
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)
    return False


def effective_precision(precision: Precision, device: torch.device) -> EffectivePrecision:
    """The precision a run computes in: ``bf16`` is bfloat16 autocast on CUDA and on the CPU (float32 on
    MPS); ``auto`` is bf16 where the hardware computes it natively (:func:`native_bf16`), else float32."""
    if precision == "auto":
        return "bf16" if native_bf16(device.type) else "fp32"
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return "bf16"
    return "fp32"


def precision_note(precision: Precision, device: torch.device) -> str | None:
    """One line for the log when ``--precision`` does not do here what it says, else ``None``."""
    effective = effective_precision(precision, device)
    if precision == "bf16" and effective == "fp32":
        return f"note: bf16 autocast runs on CUDA and on the CPU; training in float32 on {device.type}"
    if effective == "bf16" and not native_bf16(device.type):
        return (
            f"note: this {device.type} has no native bfloat16 (on a CPU: AVX512-BF16 or AMX), so bf16 is "
            "emulated and slower than float32; --precision auto picks the faster of the two"
        )
    return None
