"""One story, one loss: a story whose fields break rendering is left out of the edition
(with a log line naming it), never the edition; and numbers and sizes from feeds are bounded
before they reach a template."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, SmtpServer, served_project
from editions import edition, story

from digest import pipeline
from digest.config import load_config
from digest.model import Cluster, Image, Story
from digest.render.budget import render_within_budget
from digest.store import Store

ZONE = ZoneInfo("America/New_York")


def breakers() -> dict[str, Story]:
    """Stories whose fields a template cannot draw, each in its own way."""
    base = story(90, "Broken story")
    return {
        "a 400-digit image height": dataclasses.replace(
            base, image=Image("https://img.example/a.jpg", 3, 10**400)),
        "a publication time without a zone": dataclasses.replace(
            base, published=datetime(2023, 11, 24, 8, 0)),
    }


@pytest.mark.parametrize("kind", sorted(breakers()))
@pytest.mark.parametrize("where", ["lead", "thumbnail"])
def test_a_story_that_breaks_rendering_is_left_out_and_the_edition_goes_out(
    kind: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = breakers()[kind]
    good = [story(n, f"Good story {n}") for n in range(3)]
    if where == "lead":
        clusters = [Cluster((bad,), 9.0), *(Cluster((s,), 1.0) for s in good)]
    else:
        clusters = [Cluster((good[0],), 9.0), Cluster((bad,), 5.0),
                    *(Cluster((s,), 1.0) for s in good[1:])]
    with caplog.at_level(logging.WARNING):
        fitted = render_within_budget(edition([("World", clusters)]), REPO / "templates",
                                      ZONE, "0123456789abcdef", {"base_url": "https://x.example"})
    assert [s.title for s in fitted.edition.stories] == [f"Good story {n}" for n in range(3)]
    assert all(f"Good story {n}" in fitted.rendered.html for n in range(3))
    assert "Broken story" not in fitted.rendered.html
    assert any("Broken story" in r.getMessage() and "breaks rendering" in r.getMessage()
               for r in caplog.records)


NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
HUGE = "9" * 400
LONG_URL = "http://bloat.example/" + "a" * 3_000_000


def hostile_rss() -> str:
    item = ('<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>'
            "<pubDate>Thu, 23 Nov 2023 03:00:00 GMT</pubDate>"
            "<description><![CDATA[{description}]]></description>{extra}</item>")
    items = [
        item.format(title="Tall picture in media", link="http://h.example/1", guid="1",
                    description="A story.",
                    extra=f'<media:content url="http://h.example/a.jpg" medium="image" '
                          f'width="600" height="{HUGE}"/>'),
        item.format(title="Wide picture in summary", link="http://h.example/2", guid="2",
                    description=f'<img src="http://h.example/b.jpg" width="{HUGE}" '
                                'height="300"> Words.', extra=""),
        item.format(title="Three megabyte link", link=LONG_URL, guid="3",
                    description="Bloat.", extra=""),
        item.format(title="Three megabyte picture", link="http://h.example/4", guid="4",
                    description=f'<img src="{LONG_URL}.jpg"> Words.', extra=""),
    ]
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Hostile</title>'
            "<link>http://h.example/</link>" + "".join(items) + "</channel></rss>")


def hostile_json() -> str:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Year one",
        "items": [{"id": "y1", "url": "http://y.example/1", "title": "Dated in year one",
                   "content_text": "Old.", "date_published": "0001-01-01T00:00:00+05:00",
                   "image": f"{LONG_URL}.png"}],
    })


def test_numbers_and_sizes_from_feeds_cannot_stop_or_bloat_an_edition(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    base, root = feed_server
    (root / "hostile.xml").write_text(hostile_rss())
    (root / "year-one.json").write_text(hostile_json())
    config_path = served_project(project, feed_server, smtp_server)
    with config_path.open("a") as f:
        for name, file in (("Hostile", "hostile.xml"), ("Year one", "year-one.json")):
            f.write(f'\n[[feeds]]\nurl = "{base}/{file}"\nname = "{name}"\nsection = "World"\n')
    config = load_config(config_path)
    with Store.open(config.database_path) as store:
        fetched = pipeline.fetch(config, store, NOW)
        stored = {s.title: s for s in store.unsent_stories(NOW - timedelta(days=30), NOW)}
    assert fetched.failed == 0
    for title in ("Tall picture in media", "Wide picture in summary"):
        image = stored[title].image
        assert image is not None and (image.width, image.height) in ((600, None), (None, 300))
    assert "Three megabyte link" not in stored  # no usable link: left out
    assert stored["Three megabyte picture"].image is None
    year_one = stored["Dated in year one"]
    assert year_one.published == NOW and year_one.image is None  # undated: seen at NOW
    summary = pipeline.send(config, NOW, {"DIGEST_SECRET": "a-test-secret-of-enough-length"})
    assert summary.count("sent") == len(smtp_server.arrived) > 0
    for arrived in smtp_server.arrived:
        assert len(arrived.raw) < 300_000
        html = arrived.message.get_body(("html",)).get_content()
        assert "Tall picture in media" in html or "Dated in year one" in html
        assert "aaaaaaaaaa" not in arrived.raw.decode("ascii", "replace")


def test_the_size_budget_drops_one_bloated_story_before_good_ones(
    caplog: pytest.LogCaptureFixture
) -> None:
    """A cluster covered by hundreds of sources with 2,000-character links is far larger than
    any other: the budget is met by leaving it out, not the fifteen good stories."""
    long = "https://mirror.example/" + "p" * 1_950
    bloated = Cluster((story(100, "Bloated story"), *(
        story(101 + n, f"copy {n}", source=f"Mirror {n}", url=f"{long}/{n}")
        for n in range(300))), 50.0)
    good = [Cluster((story(n, f"Good story {n}"),), 10.0 - n / 10) for n in range(15)]
    fitted = render_within_budget(edition([("World", [bloated, *good])]), REPO / "templates",
                                  ZONE, "0123456789abcdef", {"base_url": "https://x.example"})
    assert fitted.size <= 100_000
    assert [c.lead.title for c in fitted.dropped] == ["Bloated story"]
    assert [c.lead.title for c in fitted.edition.clusters] == [c.lead.title for c in good]
