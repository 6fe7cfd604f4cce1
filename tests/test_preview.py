"""`digest preview` as an operator runs it: the next edition as preview.html, .txt and .eml,
for one subscriber with --to; and the archive page a sent edition leaves behind."""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import SmtpServer, set_config

from digest import pipeline
from digest.audience.subscribers import read_token
from digest.cli import main
from digest.config import load_config

SECRET = "a-preview-secret-of-enough-length"
NOW = "2023-11-23T04:00:00+00:00"


def test_preview_to_one_subscriber(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    out = project / "out"
    code = main(["preview", "--config", str(project / "config.toml"), "--now", NOW,
                 "--to", "Grace@EXAMPLE.org", "--out", str(out)])
    assert code == 0
    page = (out / "preview.html").read_text()
    text = (out / "preview.txt").read_text()
    message = message_from_bytes((out / "preview.eml").read_bytes(), policy=policy.default)
    assert message["To"] == "Grace Hopper <grace@example.org>"  # found on the list
    assert "grace@&#8203;example.&#8203;org" in page and "grace@example.org" in text
    token = re.search(r"/unsubscribe\?t=([\w.-]+)", text)
    assert token and read_token(SECRET.encode(), token.group(1)) == (
        "subscribers", "grace@example.org")
    assert html.escape(f"/unsubscribe?t={token.group(1)}") in page
    assert "@@digest-" not in page + text
    # The .eml is the wire form (CRLF line ends); the same HTML.
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == page
    # Grace reads World and Politics only: her variant, as send would pick it, is the part of
    # the edition that touches those sections; Ada reads everything.
    main(["preview", "--config", str(project / "config.toml"), "--now", NOW,
          "--to", "ada@example.com", "--out", str(out)])
    whole = (out / "preview.txt").read_text()
    count = re.compile(r"· (\d+) stories")
    assert int(count.findall(text)[0]) < int(count.findall(whole)[0])
    assert "\nWORLD\n" in text and "\nPOLITICS\n" in text


def test_preview_to_an_unknown_address_says_so(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(project / "config.toml")
    with caplog.at_level(logging.WARNING):
        files = pipeline.preview(config, pipeline_now(), project / "out", {},
                                 to="nobody@example.com")
    assert "nobody@example.com is not an active subscriber" in caplog.text
    assert "nobody@example.com" in files.text.read_text()
    assert files.stories >= 3


def pipeline_now() -> datetime:
    return datetime.fromisoformat(NOW)


def test_sent_edition_is_archived_for_view_in_browser(
    project: Path, smtp_server: SmtpServer
) -> None:
    set_config(project / "config.toml", {"port = 1025": f"port = {smtp_server.port}"})
    config = load_config(project / "config.toml")
    summary = pipeline.send(config, pipeline_now(), {"DIGEST_SECRET": SECRET})
    assert summary.count("sent") == 3
    archive = config.database_path.parent / "archive" / f"{summary.edition}.html"
    page = archive.read_text()
    assert "@@digest-" not in page and "?t=" not in page
    for address in ("ada@example.com", "grace@example.org", "alan@example.net"):
        assert address not in page  # nobody's address on a public page
    sent_html = smtp_server.arrived[0].message.get_body(("html",)).get_content()
    browser_link = re.search(r'href="([^"]+/archive/[^"]+)"', sent_html)
    assert browser_link and browser_link.group(1).endswith(f"/archive/{summary.edition}")
    headlines = re.findall(r'class="headline-link"[^>]*>([^<]+)<', sent_html)
    assert headlines and all(h in page for h in headlines)


def test_preview_eml_carries_the_headers_exactly_as_sent(
    project: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preview.eml is what `send` puts on the wire: List-Unsubscribe as a plain <https...>
    URL (the email package alone would RFC 2047-encode it, which nothing reads as a URL)."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    config = project / "config.toml"
    set_config(config, {"port = 1025": f"port = {smtp_server.port}"})
    out = project / "out"
    assert main(["preview", "--config", str(config), "--now", NOW, "--to", "ada@example.com",
                 "--out", str(out)]) == 0
    assert main(["send", "--config", str(config), "--now", NOW, "--to",
                 "ada@example.com"]) == 0
    [sent] = smtp_server.arrived
    preview = (out / "preview.eml").read_bytes()
    head, sent_head = preview.split(b"\r\n\r\n")[0], sent.raw.split(b"\r\n\r\n")[0]
    assert b"=?" not in head
    assert re.search(rb"^List-Unsubscribe: <http[^>]+/unsubscribe\?t=", head, re.M)
    # Every header the same, but To (`send --to` addresses the bare address, not the list's
    # entry with its name), Date (a send is dated when it goes out) and the MIME boundary.
    def headers(block: bytes) -> list[bytes]:
        unfolded = re.sub(rb'boundary="[^"]+"', b"boundary", block.replace(b"\r\n ", b" "))
        return [line for line in unfolded.splitlines()
                if not line.startswith((b"To: ", b"Date: "))]

    assert headers(head) == headers(sent_head)
