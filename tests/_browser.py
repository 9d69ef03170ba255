"""Test helper: Debian's Chromium, headless, to look at a page as a person would (a screenshot, the DOM).

Each call starts a fresh browser with a fresh profile and nothing that reaches the network. Where Chromium
is missing, :func:`need_chromium` skips the test with its reason, except in CI (``CI=true``), where
``bash setup.sh --dev`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars")  # fmt: skip


def need_chromium() -> str:
    """The Chromium program; skip the test (fail it in CI) where there is none."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but Chromium is not installed: bash setup.sh --dev installs it (as root)")
        pytest.skip("Chromium is not installed (apt install chromium, or bash setup.sh --dev as root)")
    return browser


def _run(url: str, *args: str, size: tuple[int, int]) -> subprocess.CompletedProcess[str]:
    browser = need_chromium()
    with tempfile.TemporaryDirectory(prefix="drlab-chromium-") as profile:
        command = [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            *args,
            url,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def screenshot(url: str, png: Path, size: tuple[int, int] = (1280, 900)) -> Path:
    """Draw ``url`` into ``png`` (``size`` pixels); with ``DRLAB_SCREENSHOTS=DIR``, keep a copy there."""
    done = _run(url, f"--screenshot={png}", size=size)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    keep = os.environ.get("DRLAB_SCREENSHOTS")
    if keep:
        shutil.copy(png, Path(keep) / png.name)
    return png


def dom(url: str) -> str:
    """The page's DOM once its scripts ran (``--dump-dom``)."""
    done = _run(url, "--dump-dom", size=(1280, 900))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def look(url: str, png: Path, size: tuple[int, int] = (1200, 1600)) -> tuple[str, str]:
    """Draw ``url`` into ``png``; return (the DOM after load, the console's lines from both runs)."""
    logging = ("--enable-logging=stderr", "--v=0")
    shot = _run(url, *logging, f"--screenshot={png}", size=size)
    assert png.is_file(), shot.stderr[-2000:]
    page = _run(url, *logging, "--dump-dom", size=size)
    console = [line for line in (shot.stderr + page.stderr).splitlines() if "CONSOLE" in line]
    return page.stdout, "\n".join(console)
