"""The rendered edition in a real browser (headless Chromium): at phone and desktop widths, in
light and dark mode, nothing overflows sideways and every headline is visible; with the
<style> element removed (as clients that drop it show the email) nothing overflows a 320 or
375 px screen either; and axe-core finds no accessibility violation of any impact at 375 and
1024 px, light and dark. Screenshots go to tests/screenshots/ for people to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser import SCREENSHOTS
from conftest import REPO
from editions import corpus_edition, sample_edition
from emailcheck import demo_preview, run_axe
from test_render import BASE_URL, FEED_ATTACKS, fill_html, hostile_edition

from digest.ingest.sanitize import cap, one_line
from digest.model import Edition
from digest.render.budget import render_within_budget, sample_values
from digest.render.edition import TITLE_LIMIT

# A picture for every image URL, so screenshots look like the inbox without any network.
PICTURE = b"""<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#51749b"/><stop offset="1" stop-color="#c9a66b"/></linearGradient>
</defs><rect width="1200" height="800" fill="url(#g)"/>
<circle cx="850" cy="260" r="120" fill="#f4e3b5" opacity="0.8"/>
<path d="M0 640 L300 420 L520 600 L760 380 L1200 700 L1200 800 L0 800 Z" fill="#2c3e50"/>
</svg>"""


def _page_file(tmp_path: Path, edition: Edition, name: str) -> Path:
    fitted = render_within_budget(edition, REPO / "templates", ZoneInfo("America/New_York"),
                                  nonce="0123456789abcdef", extra={"base_url": BASE_URL})
    values = sample_values(BASE_URL, edition.id)
    path = tmp_path / f"{name}.html"
    path.write_text(fill_html(fitted.rendered, values), encoding="utf-8")
    return path


def _open(browser: Any, path: Path, width: int, scheme: str) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    # Every picture is the same local drawing; nothing else may load (the page is static).
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else route.fulfill(body=PICTURE, content_type="image/svg+xml")
               if route.request.resource_type == "image" else route.abort())
    page.goto(path.as_uri())
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 640])
def test_edition_fits_and_shows_every_headline(
    tmp_path: Path, browser: Any, width: int, scheme: str
) -> None:
    edition = sample_edition()
    page = _open(browser, _page_file(tmp_path, edition, "sample"), width, scheme)
    try:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"edition-{width}-{scheme}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for cluster in edition.clusters:
            headline = page.locator("h3.headline", has_text=cluster.lead.title).first
            assert headline.is_visible(), cluster.lead.title
            box = headline.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        # The lead picture is at most 300 px tall; every thumbnail frame is one shape.
        lead = page.locator("img.lead-image").bounding_box()
        assert lead is not None and lead["height"] <= 300 and lead["width"] <= width
        frames = page.locator("div.thumb-frame")
        assert frames.count() >= 2
        for i in range(frames.count()):
            box = frames.nth(i).bounding_box()
            assert box is not None and (round(box["width"]), round(box["height"])) == (120, 80)
        # The preheader is for the inbox list, never on the page.
        assert not page.locator(".preheader").is_visible()
        if width == 375:  # one column: the container fills the phone's width
            container = page.locator("div.container").bounding_box()
            assert container is not None and container["width"] <= 375
        background = page.evaluate(
            "getComputedStyle(document.querySelector('div.main')).backgroundColor")
        assert (background == "rgb(255, 255, 255)") == (scheme == "light")
    finally:
        page.close()


@pytest.mark.parametrize("width", [375, 640])
def test_real_edition_fits(tmp_path: Path, browser: Any, corpus: Path, width: int) -> None:
    """Real titles, summaries and picture sizes from the corpus's 2023-11-24 feeds."""
    edition = corpus_edition(corpus, 30)
    page = _open(browser, _page_file(tmp_path, edition, "corpus"), width, "light")
    try:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"corpus-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        headlines = page.locator("h3.headline")
        assert headlines.count() == len(edition.clusters) == 30
        for i in range(headlines.count()):
            box = headlines.nth(i).bounding_box()
            assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= width
    finally:
        page.close()


def test_hostile_edition_does_not_overflow_a_phone(tmp_path: Path, browser: Any) -> None:
    edition = hostile_edition()
    page = _open(browser, _page_file(tmp_path, edition, "hostile"), 375, "light")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.reload()
        page.screenshot(path=str(SCREENSHOTS / "hostile-375.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert dialogs == []  # no script ran
        assert page.evaluate("window.__pwned === undefined")
        visible = page.locator("h3.headline").first
        assert visible.is_visible()
        assert one_line(FEED_ATTACKS["long"])[:20] in page.content()
        assert len(cap(one_line(FEED_ATTACKS["long"]), TITLE_LIMIT)) <= TITLE_LIMIT
    finally:
        page.close()


WITHOUT_STYLE = "document.querySelectorAll('style').forEach(element => element.remove())"


@pytest.mark.parametrize("width", [320, 375])
@pytest.mark.parametrize("which", ["sample", "corpus", "hostile"])
def test_fits_a_phone_without_its_style_element(
    tmp_path: Path, browser: Any, request: pytest.FixtureRequest, width: int, which: str
) -> None:
    """Clients that drop <style> (Gmail's apps with other accounts, several webmails) keep only
    the inline styles: the layout must be fluid with those alone."""
    edition = {"sample": sample_edition, "hostile": hostile_edition,  # the corpus only here:
               "corpus": lambda: corpus_edition(request.getfixturevalue("corpus"), 30),
               }[which]()
    page = _open(browser, _page_file(tmp_path, edition, which), width, "light")
    try:
        page.evaluate(WITHOUT_STYLE)
        assert page.locator("style").count() == 0
        page.screenshot(path=str(SCREENSHOTS / f"{which}-{width}-no-style.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        wider = page.evaluate(f"""[...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > {width} + 0.5)
            .map(e => e.tagName + '.' + e.className)""")
        assert wider == []
    finally:
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1024])
@pytest.mark.parametrize("which", ["sample", "demo"])
def test_axe_finds_no_violation(
    tmp_path: Path, browser: Any, width: int, scheme: str, which: str
) -> None:
    """The sample edition (every feature) and the demo edition as `digest demo` writes it."""
    path = (demo_preview(tmp_path) if which == "demo"
            else _page_file(tmp_path, sample_edition(), "sample"))
    page = _open(browser, path, width, scheme)
    try:
        smallest = page.evaluate("""Math.min(...[...document.querySelectorAll('body *')]
            .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
                         && e.getClientRects().length)
            .map(e => parseFloat(getComputedStyle(e).fontSize)))""")
        assert smallest >= 14, "no text under 14 px"
        violations = run_axe(page)
        assert violations == [], [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5]) for v in violations]
    finally:
        page.close()
