"""Options of the ``drlab data`` commands, as a typed dataclass (no NumPy or torch here: the CLI stays fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataConfig:
    """Where datasets are cached and how they are fetched and checked."""

    name: str = "fashion-mnist"
    """dataset: fashion-mnist (downloaded, cached) or digits (bundled with scikit-learn)"""
    data_dir: str | None = None
    """data directory (default: $DRLAB_DATA, else ~/.cache/drlab); files in DIR/fashion-mnist/ or DIR itself"""
    mirrors: tuple[str, ...] = ()
    """extra mirror base URLs, tried before the official ones, in order"""
    offline: bool = False
    """never touch the network (also on when DRLAB_OFFLINE=1)"""
    verify: bool = True
    """check cached files against their size and checksums (--no-verify skips it)"""
    timeout: float = 30.0
    """seconds to wait for a mirror to answer or send more bytes before trying the next one"""
    quiet: bool = False
    """no progress bar"""
    seed: int = 0
    """random seed (used by the digits' train/test split; harmless for the rest)"""
