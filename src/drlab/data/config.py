"""Options of the ``drlab data`` commands, as a typed dataclass (no NumPy or torch here: the CLI stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

#: seconds a mirror has to deliver one file, from the request to the last byte (a total, not per read):
#: Fashion-MNIST's largest file (26 MB) needs about 90 KB/s
DOWNLOAD_TIMEOUT = 300.0
#: seconds without a byte after which a mirror counts as stalled (at most the timeout)
STALL_SECONDS = 30.0


@dataclass
class DataConfig:
    """Where datasets are cached and how they are fetched and checked."""

    name: str = "fashion-mnist"
    """dataset: fashion-mnist (downloaded, cached) or digits (bundled with drlab)"""
    data_dir: str | None = None
    """data directory (default: $DRLAB_DATA, else ~/.cache/drlab); files in DIR/fashion-mnist/ or DIR itself"""
    mirrors: tuple[str, ...] = ()
    """extra mirror base URLs, tried before the official ones, in order"""
    offline: bool = False
    """never touch the network (also on when DRLAB_OFFLINE=1)"""
    verify: bool = True
    """check cached files against their size and checksums (--no-verify skips it)"""
    timeout: float = DOWNLOAD_TIMEOUT
    """seconds a mirror has to deliver each file, in all, before the next one is tried (one that sends
    nothing for 30 s is left sooner)"""
    quiet: bool = False
    """no progress bar"""
    seed: int = 0
    """random seed (used by the digits' train/test split; harmless for the rest)"""
