"""Matplotlib without surprises: a non-interactive backend, no global style, atomic PNG files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drlab.common.io import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` on a figure that is not tied to any GUI (safe in CI, threads and notebooks).

    Uses :class:`matplotlib.figure.Figure` directly, so nothing is registered with pyplot and no window
    or global state is touched; in a notebook, display the returned figure explicitly.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", (6.4, 4.8)), dpi=kwargs.pop("dpi", 100), layout="constrained")
    axes = fig.subplots(*args, **kwargs)
    return fig, axes


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG atomically and return its path."""
    target = Path(path)
    write_bytes_atomic(target, figure_bytes(fig, dpi))
    return target


def figure_bytes(fig: Figure, dpi: int = 120) -> bytes:
    """The PNG file of ``fig``, drawn in memory (no file is touched until it is whole)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
