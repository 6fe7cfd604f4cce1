"""The demo's preview opens in a real browser, one column on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser import SCREENSHOTS

from digest import pipeline
from digest.config import load_config


def test_preview_fits_a_phone_screen(project: Path, browser: Any) -> None:
    result = pipeline.demo(load_config(project / "config.toml"), project / "out", {})
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto(result.preview.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        headline = page.get_by_text("U.S. launches airstrikes on Iran-backed militants")
        # The hidden preheader may repeat the lead headline: one of the matches must show.
        assert any(headline.nth(i).is_visible() for i in range(headline.count()))
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "demo-preview-375.png"), full_page=True)
    finally:
        page.close()
