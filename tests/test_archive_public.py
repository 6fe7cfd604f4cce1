"""The public archive carries no personal links: no unsubscribe or preferences link, no
reader's address, but a line on how to subscribe; every link on it works; story times are
absolute. The archive index tells a daily from a weekly."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from conftest import SmtpServer, served_project
from test_editions_exact import ENV, NOW
from webserver import running_web

from digest import pipeline
from digest.config import load_config
from digest.sink.server import free_port

KEY = ENV["DIGEST_SECRET"].encode()


def test_archive_pages_are_public_and_the_index_names_each_kind(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    port = free_port()
    config_path = served_project(project, feed_server, smtp_server, {
        'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"',
        'lists = ["subscribers/subscribers.csv"]':
            'lists = ["subscribers/subscribers.csv"]\nweekly_day = "wednesday"'})
    with (project / "subscribers" / "subscribers.csv").open("a") as f:
        f.write("wendy@example.com,Wendy,World,weekly\n")
    config = load_config(config_path)
    summary = pipeline.send(config, NOW, ENV)
    assert summary.weekly is not None and summary.weekly.count("sent") == 1

    written = (config.database_path.parent / "archive" / "daily-2023-11-22.html").read_text()
    with running_web(config, KEY, port) as base, httpx.Client(base_url=base) as client:
        index = client.get("/archive/")
        pages = {e: client.get(f"/archive/{e}").text
                 for e in ("daily-2023-11-22", "weekly-2023-W47")}
        for html in (*pages.values(), written):
            assert "public archive of Political IQ Daily" in html
            assert "mailto:digest@politicaliq.example.com" in html
            assert "/unsubscribe" not in html and "/preferences" not in html
            assert "your email address" not in html and "@@digest-" not in html
            assert "Wilders" in html or "Gaza" in html  # the stories are all there
            assert " ago" not in html and ", 2023, " in html  # absolute times, read any day
            for link in re.findall(r'href="(http://127\.0\.0\.1:[0-9]+/[^"]*)"', html):
                assert client.get(link).status_code == 200, link
    assert index.status_code == 200
    rows = re.findall(r"<li>(.*?)</li>", index.text, re.S)
    assert any("daily-2023-11-22" in r and "Daily" in r for r in rows), rows
    assert any("weekly-2023-W47" in r and "Weekly" in r for r in rows), rows
