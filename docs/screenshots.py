"""Screenshots of an edition for the README and the docs, made from the demo, never by hand.

    .venv/bin/python docs/screenshots.py

runs `digest demo` on the sample config into a temporary folder and photographs the
preview.html it writes with headless Chromium (Playwright) at 375 and 1024 px wide, in light
and dark mode, into docs/images/edition-{375,1024}-{light,dark}.png. Run it again after a
template change and commit the pictures.

Needs the test extra (Playwright) and Chromium (/usr/bin/chromium, or DIGEST_CHROMIUM). The
page is opened offline: the stories' pictures (remote URLs in the sample feeds) are all shown
as one local drawing, as in tests/test_render_browser.py, so no network is needed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Route, sync_playwright

from digest.cli import main as digest

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
WIDTHS = (375, 1024)
SCHEMES = ("light", "dark")
# The flags tests/browser.py uses: Chromium in a closed network, as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PICTURE = b"""<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#51749b"/><stop offset="1" stop-color="#c9a66b"/></linearGradient>
</defs><rect width="1200" height="800" fill="url(#g)"/>
<circle cx="850" cy="260" r="120" fill="#f4e3b5" opacity="0.8"/>
<path d="M0 640 L300 420 L520 600 L760 380 L1200 700 L1200 800 L0 800 Z" fill="#2c3e50"/>
</svg>"""


def _offline(route: Route) -> None:
    request = route.request
    if request.url.startswith("file:"):
        route.continue_()
    elif request.resource_type == "image":
        route.fulfill(body=PICTURE, content_type="image/svg+xml")
    else:
        route.abort()


def shoot(preview: Path, images: Path) -> list[Path]:
    """Photograph `preview` at every width and scheme; returns the files written."""
    chromium = os.environ.get("DIGEST_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium), or set DIGEST_CHROMIUM")
    images.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                for scheme in SCHEMES:
                    page: Any = browser.new_page(viewport={"width": width, "height": 900},
                                                 color_scheme=scheme)
                    page.route("**/*", _offline)
                    page.goto(preview.as_uri())
                    path = images / f"edition-{width}-{scheme}.png"
                    page.screenshot(path=str(path), full_page=True)
                    page.close()
                    written.append(path)
        finally:
            browser.close()
    return written


def run() -> int:
    with tempfile.TemporaryDirectory(prefix="digest-screenshots-") as folder:
        code = digest(["demo", "--config", str(REPO / "config.toml"), "--dir", folder, "-q"])
        if code != 0:
            print(f"digest demo exited {code}; no screenshots taken", file=sys.stderr)
            return code
        for path in shoot(Path(folder) / "preview.html", IMAGES):
            print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(run())
