"""A reader clicks the unsubscribe button in a real browser; the next send skips them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from browser import SCREENSHOTS
from conftest import SmtpServer, set_config
from webserver import running_web

from digest import pipeline
from digest.config import load_config
from digest.sink.server import free_port
from digest.store import Store

KEY = b"a-test-secret-of-enough-length"
ENV = {"DIGEST_SECRET": KEY.decode()}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # 23:00 on the 22nd in New York


def test_clicking_unsubscribe_in_chromium_stops_the_next_send(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, browser: Any
) -> None:
    base, root = feed_server
    for feed in (project / "samples" / "feeds").iterdir():
        shutil.copy(feed, root / feed.name)
    port = free_port()
    set_config(project / "config.toml", {
        'url = "samples/feeds/': f'url = "{base}/',
        "port = 1025": f"port = {smtp_server.port}",
        'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"',
        "max_stories = 20": "max_stories = 4",  # leave stories for the next day's edition
        "min_stories = 3": "min_stories = 1",
    })
    config = load_config(project / "config.toml")
    first = pipeline.send(config, NOW, ENV)
    assert first.count("sent") == 3
    ada = next(a.message for a in smtp_server.arrived if a.rcpt_tos == ["ada@example.com"])
    link = ada["List-Unsubscribe"].split("<", 1)[1].split(">", 1)[0]
    assert link.startswith(f"http://127.0.0.1:{port}/unsubscribe?t=v1.")
    html_link = ada.get_body(("html",)).get_content()
    assert link.replace("&", "&amp;") in html_link or link in html_link

    with running_web(config, KEY, port):
        page = browser.new_page(viewport={"width": 375, "height": 700})
        try:
            page.goto(link)
            assert "Political IQ Daily" in page.content()
            assert page.get_by_text("ada@example.com").first.is_visible()
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "unsubscribe-375.png"), full_page=True)
            with Store.open(config.database_path) as store:
                assert store.suppressed() == set()  # opening the page changed nothing
            page.get_by_role("button", name="Unsubscribe").click()
            page.wait_for_selector("text=You are unsubscribed")
            assert page.url == link  # no redirect
            page.screenshot(path=str(SCREENSHOTS / "unsubscribed-375.png"), full_page=True)
        finally:
            page.close()

    with Store.open(config.database_path) as store:
        assert store.suppressed() == {"ada@example.com"}
    before = len(smtp_server.arrived)
    second = pipeline.send(config, NOW + timedelta(hours=6), ENV)
    assert second.edition == "daily-2023-11-23" and second.count("sent") == 2
    later = [a.rcpt_tos[0] for a in smtp_server.arrived[before:]]
    assert sorted(later) == ["alan@example.net", "grace@example.org"]
