"""The whole pipeline against real servers: feeds over HTTP, a real aiosmtpd server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import SmtpServer, served_project

from digest import pipeline
from digest.config import load_config
from digest.store import Store

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # 23:00 on the 22nd in New York
ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
# Titles from the sample feeds that the edition must carry (each within the lookback window).
EXPECTED = [
    "U.S. launches airstrikes on Iran-backed militants after attack in Iraq",
    "Israel and Hamas agree to four-day truce and hostage release",
    "Wilders' far-right party wins most seats in Dutch election",
    "Fed minutes show officials in no hurry to cut rates",
]
SUBSCRIBERS = ["ada@example.com", "grace@example.org", "alan@example.net"]


def _served_project(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer) -> Path:
    return served_project(project, feed_server, smtp)


def test_send_delivers_one_message_per_subscriber(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_served_project(project, feed_server, smtp_server))
    assert all(f.url.startswith("http://127.0.0.1:") for f in config.feeds)

    summary = pipeline.send(config, NOW, ENV)

    assert summary.edition == "daily-2023-11-22"
    assert summary.count("sent") == 3 and summary.ok
    arrived = smtp_server.arrived
    assert sorted(a.rcpt_tos[0] for a in arrived) == sorted(SUBSCRIBERS)
    for a in arrived:
        msg = a.message
        assert a.rcpt_tos == [msg["To"].addresses[0].addr_spec]
        assert len(msg["To"].addresses) == 1 and msg["Cc"] is None and msg["Bcc"] is None
        assert msg["Subject"].startswith("Israel and Hamas agree to four-day truce")
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert 'style="' in html and "<style" in html  # inlined, media queries kept
        # Grace's list row asks for World;Politics only: no Featured stories.
        wanted = EXPECTED[2:] if a.rcpt_tos[0] == "grace@example.org" else EXPECTED
        for title in wanted:
            assert title in text
            assert title.replace("'", "&#x27;") in html or title in html
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe?t=v1." in msg["List-Unsubscribe"]
        assert a.rcpt_tos[0] in text  # the footer names the reader


def test_rerun_of_a_sent_edition_sends_nothing_new(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_served_project(project, feed_server, smtp_server))
    pipeline.send(config, NOW, ENV)
    again = pipeline.send(config, NOW, ENV)

    assert len(smtp_server.arrived) == 3
    assert again.count("sent") == 3  # the ledger's totals for the edition, unchanged
    with Store.open(config.database_path) as store:
        statuses = store.delivery_status("daily-2023-11-22")
    assert statuses == dict.fromkeys(SUBSCRIBERS, "sent")


def test_next_day_edition_carries_no_story_sent_before(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_served_project(project, feed_server, smtp_server))
    pipeline.send(config, NOW, ENV)
    tomorrow = pipeline.send(config, datetime(2023, 11, 23, 13, 0, tzinfo=UTC), ENV)

    assert tomorrow.edition == "daily-2023-11-23"
    assert tomorrow.count("sent") == 0 and "no edition sent" in tomorrow.note
    assert len(smtp_server.arrived) == 3


def test_send_refuses_to_start_without_the_token_key(project: Path) -> None:
    config = load_config(project / "config.toml")
    try:
        pipeline.send(config, NOW, {})
    except Exception as e:
        assert "DIGEST_SECRET" in str(e) and "export" in str(e)
    else:
        raise AssertionError("send ran without a token key")
