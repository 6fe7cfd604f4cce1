"""`digest sink --web` in headless Chromium: the live list, a message at both widths, the
sandbox holding against a hostile message, reading without JavaScript, and delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import SCREENSHOTS
from sinkweb import WebSink, newsletter, running_web_sink, scripted


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[WebSink]:
    with running_web_sink(tmp_path) as running:
        yield running


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"sink-{name}.png"), full_page=True)


def test_list_updates_live_then_a_message_at_phone_and_desktop_width(
    sink: WebSink, browser: Any
) -> None:
    sink.send(newsletter(subject="The first edition", to="ada@example.com"))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(sink.url + "/")
        page.wait_for_selector("text=The first edition")
        page.evaluate("window.notReloaded = true")
        sink.send(newsletter(subject="The second edition <b>bold?</b>", to="grace@example.org"))
        # Arrives without a reload, newest first, the subject as text.
        page.wait_for_selector("tbody tr:first-child >> text=The second edition <b>bold?</b>",
                               timeout=10_000)
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("tbody tr").count() == 2 and page.locator("#count").inner_text() == "2"
        assert page.locator("tbody b").count() == 0
        shot(page, "list")

        page.click("text=The first edition")
        page.wait_for_selector("#preview-frame")
        frame_el = page.locator("#preview-frame")
        assert frame_el.get_attribute("sandbox") == ""
        assert frame_el.get_attribute("width") == "640"
        frame = page.frame_locator("#preview-frame")
        assert frame.locator("text=Alpha council approves the new bridge").is_visible()
        page.evaluate("window.notReloaded = true")
        for width in (375, 640):
            page.click(f"a[data-width='{width}']")
            assert frame_el.get_attribute("width") == str(width)
            assert frame_el.bounding_box()["width"] == pytest.approx(width, abs=1)
            assert page.url.endswith(f"?width={width}#preview")
            assert page.locator(f"a[data-width='{width}']").get_attribute("aria-current") == "true"
            shot(page, f"message-{width}")
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("[data-check='links'][data-verdict='pass']").count() == 1
        # SpamAssassin's verdict is filled in by the page's script once it is done.
        page.wait_for_selector("li[data-check='spamassassin'][data-verdict='pass']"
                               ":not([data-pending])", timeout=60_000)
        assert page.locator("#overall").inner_text().lower() == "pass"
        # The app's own CSP lets its own script and styles through.
        assert [e for e in errors if "Content Security Policy" in e] == []
    finally:
        page.close()


def test_a_script_inside_a_captured_message_does_not_run(sink: WebSink, browser: Any) -> None:
    sink.send(scripted(subject="Hostile"))
    key = sink.key_of("Hostile")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{sink.url}/message/{key}")
        frame = page.frame_locator("#preview-frame")
        assert frame.locator("#marker").inner_text() == "The body as sent."
        page.wait_for_timeout(500)  # give any handler that could run the time to run
        assert page.title() == "Hostile · digest sink"
        assert frame.locator("#marker").inner_text() == "The body as sent."
        assert "SCRIPT RAN" not in frame.locator("body").inner_text()
        # The form in the message cannot submit, and nothing set a cookie anywhere.
        frame.locator("button").click()
        page.wait_for_timeout(300)
        assert frame.locator("#marker").inner_text() == "The body as sent."
        assert context.cookies() == []
        # Opened alone, the part is still sandboxed by its own CSP.
        page.goto(f"{sink.url}/message/{key}/html")
        page.wait_for_timeout(300)
        assert page.locator("#marker").inner_text() == "The body as sent."
        assert page.title() != "PWNED" and context.cookies() == []
        assert page.evaluate("window.origin") == "null"  # an opaque origin: no same-origin
        shot(page, "hostile-alone")
    finally:
        context.close()


def test_reading_works_without_javascript(sink: WebSink, browser: Any) -> None:
    sink.send(newsletter(subject="Read me without scripts"))
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": 900, "height": 900})
    page = context.new_page()
    try:
        page.goto(sink.url + "/")
        page.click("text=Read me without scripts")
        page.wait_for_selector("#preview-frame")
        assert "Beta team wins the regional cup" in page.locator("pre.text-part").inner_text()
        page.click("a[data-width='375']")  # a plain link: the server sets the width
        page.wait_for_selector("#preview-frame[width='375']")
        assert "?width=375" in page.url
        shot(page, "message-375-nojs")
    finally:
        context.close()


def test_delete_buttons_work_from_the_page(sink: WebSink, browser: Any) -> None:
    for subject in ("Delete me", "Keep me", "Me too"):
        sink.send(newsletter(subject=subject))
        sink.key_of(subject)
    page = browser.new_page()
    try:
        page.goto(sink.url + "/")
        page.click("text=Delete me")
        page.click("button:has-text('Delete')")
        page.wait_for_url(sink.url + "/")
        assert page.locator("text=Delete me").count() == 0
        assert sorted(m["subject"] for m in sink.messages()) == ["Keep me", "Me too"]
        page.click("#delete-all")
        page.wait_for_selector("#empty:not([hidden])")
        assert sink.messages() == []
        shot(page, "empty")
    finally:
        page.close()
