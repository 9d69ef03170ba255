"""Where datasets live on disk, and whether drlab may use the network.

The data directory is chosen once, in this order: the ``--data-dir`` option (or ``data_dir=``
argument), the ``$DRLAB_DATA`` environment variable, then the user's cache directory
(``$XDG_CACHE_HOME/drlab``, else ``~/.cache/drlab``; ``%LOCALAPPDATA%\\drlab`` on Windows).
Offline mode (``--offline`` or ``DRLAB_OFFLINE=1``) never touches the network.

Before any download, drlab also looks where the operating system's packages put datasets: Debian and
Ubuntu's ``dataset-fashion-mnist`` installs the four files into ``/usr/share/datasets/fashion-mnist/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory that holds every dataset's sub-directory (not created here)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    from_env = os.environ.get("DRLAB_DATA", "")
    if from_env:
        return Path(from_env).expanduser()
    return default_cache_dir()


def default_cache_dir() -> Path:
    """The per-user cache directory drlab uses when nothing else is said."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "drlab"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "drlab"


def offline_from_env(offline: bool | None = None) -> bool:
    """``offline`` when given, else whether ``$DRLAB_OFFLINE`` is set to 1/true/yes/on."""
    if offline is not None:
        return offline
    return os.environ.get("DRLAB_OFFLINE", "").strip().lower() in TRUE_WORDS


#: where ``$XDG_DATA_DIRS`` points when it is not set (the XDG Base Directory specification's default)
DEFAULT_XDG_DATA_DIRS = "/usr/local/share:/usr/share"


def system_dataset_dirs(name: str) -> list[Path]:
    """The folders where system packages put dataset ``name``, most local first: ``DIR/datasets/NAME``
    for each ``DIR`` of ``$XDG_DATA_DIRS`` (default ``/usr/local/share:/usr/share``). drlab reads them,
    never writes to them."""
    dirs = os.environ.get("XDG_DATA_DIRS", "") or DEFAULT_XDG_DATA_DIRS
    found: list[Path] = []
    for entry in dirs.split(os.pathsep):
        if entry and Path(entry).is_absolute() and (folder := Path(entry) / "datasets" / name) not in found:
            found.append(folder)
    return found
