"""Headless Chromium for tests, driven by Playwright (Debian's /usr/bin/chromium, no download).

Use the `browser` fixture from conftest; it skips cleanly where Chromium is not installed.
Screenshots go to tests/screenshots/ (git-ignored) for people to look at after a run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

# Without the background-networking flags Chromium keeps trying hosts this closed network
# refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    return os.environ.get("DIGEST_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )
