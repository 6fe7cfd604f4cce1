"""Every run of an edition sends each reader exactly the variant stored with the edition: a
reader whose topics have no story is skipped on every run, and a reader who joins between two
runs of an edition gets their topics' part of that edition, not of that day's new stories."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import SmtpServer, served_project

from digest import pipeline
from digest.config import load_config
from digest.store import Store

ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # Wednesday 22nd, 23:00 in New York
WORLD = "Wilders' far-right party wins most seats in Dutch election"
POLITICS = "Fed minutes show officials in no hurry to cut rates"
LATE = "Late word: ceasefire talks resume in Doha"
FEED_CHANGED = datetime(2100, 1, 1, tzinfo=UTC)
EMPTY_RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Tech</title>'
             "<link>https://tech.example.org/</link><description>x</description></channel></rss>")


def _project(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer) -> Path:
    """The sample project with a fourth feed, "Tech", that has no story this edition."""
    config = served_project(project, feed_server, smtp)
    base, root = feed_server
    (root / "tech.xml").write_text(EMPTY_RSS)
    with config.open("a") as f:
        f.write(f'\n[[feeds]]\nurl = "{base}/tech.xml"\nname = "Tech Wire"\nsection = "Tech"\n')
    return config


def _add_reader(project: Path, row: str) -> None:
    with (project / "subscribers" / "subscribers.csv").open("a") as f:
        f.write(row + "\n")


def _texts(smtp: SmtpServer, address: str) -> list[str]:
    return [a.message.get_body(("plain",)).get_content() for a in smtp.arrived
            if a.rcpt_tos == [address]]


def test_a_reader_whose_topics_have_no_story_is_skipped_on_every_run(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_project(project, feed_server, smtp_server))
    _add_reader(project, "hans@example.de,Hans,Tech,daily")

    first = pipeline.send(config, NOW, ENV)
    second = pipeline.send(config, NOW + timedelta(minutes=5), ENV)
    third = pipeline.send(config, NOW + timedelta(minutes=10), ENV, edition_id=first.edition)

    assert first.count("sent") == 3 and second.count("sent") == 3 and third.count("sent") == 3
    assert _texts(smtp_server, "hans@example.de") == []
    assert len(smtp_server.arrived) == 3
    with Store.open(config.database_path) as store:
        assert "hans@example.de" not in store.delivery_status(first.edition)
        assert "Tech" in store.variants(first.edition)  # kept as empty: decided once
        assert store.variant(first.edition, "Tech") is None


def test_a_reader_who_joins_mid_edition_gets_their_part_of_that_edition(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_project(project, feed_server, smtp_server))
    first = pipeline.send(config, NOW, ENV)
    assert first.count("sent") == 3
    # Between the two runs of the edition: a new reader of World, and a new World story.
    _add_reader(project, "joe@example.com,Joe,World,daily")
    _add_reader(project, "tim@example.com,Tim,Tech,daily")
    _, root = feed_server
    feed = root / "world-wire.xml"
    entry = (f"<entry><title>{LATE}</title><link href='https://worldwire.example.org/late'/>"
             "<id>tag:worldwire.example.org,2023:late</id>"
             "<published>2023-11-23T03:50:00Z</published><summary>Talks.</summary></entry>")
    feed.write_text(feed.read_text().replace("</updated>", "</updated>" + entry, 1))
    later = FEED_CHANGED.timestamp()  # a Last-Modified after the first fetch's: no 304
    os.utime(feed, (later, later))

    second = pipeline.send(config, NOW + timedelta(minutes=20), ENV)
    with Store.open(config.database_path) as store:  # the new story is in, and still unsent
        assert LATE in [s.title for s in store.unsent_stories(NOW - timedelta(days=1), NOW)]

    assert second.edition == first.edition and second.count("sent") == 4
    (joe,) = _texts(smtp_server, "joe@example.com")
    assert WORLD in joe and POLITICS not in joe and LATE not in joe
    assert _texts(smtp_server, "tim@example.com") == []
    # The others were not sent again; and a third run changes nothing.
    assert len(smtp_server.arrived) == 4
    pipeline.send(config, NOW + timedelta(minutes=30), ENV)
    assert len(smtp_server.arrived) == 4
    with Store.open(config.database_path) as store:
        stored = store.variant(first.edition, "World")
        assert stored is not None and LATE not in stored.text and WORLD in stored.text


def test_the_weekly_rerun_is_exact_too(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config_path = _project(project, feed_server, smtp_server)
    text = config_path.read_text().replace(
        'lists = ["subscribers/subscribers.csv"]',
        'lists = ["subscribers/subscribers.csv"]\nweekly_day = "wednesday"')
    config_path.write_text(text)
    config = load_config(config_path)
    _add_reader(project, "wendy@example.com,Wendy,World,weekly")
    _add_reader(project, "hans@example.de,Hans,Tech,weekly")
    first = pipeline.send(config, NOW, ENV)
    assert first.weekly is not None and first.weekly.count("sent") == 1

    _add_reader(project, "walt@example.com,Walt,Politics,weekly")
    second = pipeline.send(config, NOW + timedelta(minutes=20), ENV)

    assert second.weekly is not None and second.weekly.edition == first.weekly.edition
    assert second.weekly.count("sent") == 2
    (walt,) = _texts(smtp_server, "walt@example.com")
    assert POLITICS in walt and WORLD not in walt
    assert len(_texts(smtp_server, "wendy@example.com")) == 1
    assert _texts(smtp_server, "hans@example.de") == []
