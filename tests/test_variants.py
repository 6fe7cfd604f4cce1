"""Variants: each subscriber gets the topics and frequency they asked for, rendered once a group."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import SmtpServer, served_project

from digest import pipeline
from digest.config import load_config
from digest.model import Cluster, Edition, Rendered, Section, Story, Subscriber
from digest.render.variants import (
    Variant,
    filter_edition,
    variant_of,
    weekly_due,
    with_preferences,
)
from digest.store import Store

ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # Wednesday 22nd, 23:00 in New York
# Only the featured feed tells this story (the airstrikes are also World Wire's, so World).
FEATURED = "Senate leaders eye December votes on Ukraine and Israel aid"
WORLD = "Wilders' far-right party wins most seats in Dutch election"
POLITICS = "Fed minutes show officials in no hurry to cut rates"


def _edition(*sections: str) -> Edition:
    def cluster(section: str) -> Cluster:
        story = Story(feed_url="f", source="s", section=section, id=section, url="https://x/",
                      title=section, summary_html="", summary_text="", published=NOW)
        return Cluster((story,), 1.0)
    return Edition("daily-x", "N", NOW, tuple(Section(s, (cluster(s),)) for s in sections))


def test_filter_edition_keeps_only_the_chosen_sections() -> None:
    edition = _edition("Featured", "World", "Politics")
    assert filter_edition(edition, ()) is edition
    assert [s.name for s in filter_edition(edition, ("politics", "World")).sections] == [
        "World", "Politics"]
    assert filter_edition(edition, ("Sports",)).clusters == ()
    assert filter_edition(edition, ("World",)).id == "daily-x"


def test_grouping_by_topics_and_frequency_and_preferences_winning() -> None:
    listed = [Subscriber("a@x.org", topics=("World", "Politics")),
              Subscriber("b@x.org", topics=("Politics", "World")),
              Subscriber("c@x.org"), Subscriber("d@x.org", frequency="weekly")]
    chosen = [with_preferences(s, {"c@x.org": (("World",), "weekly")}) for s in listed]
    groups: dict[Variant, list[Subscriber]] = {}
    for s in chosen:
        groups.setdefault(variant_of(s), []).append(s)
    assert [(v.topics, v.frequency, [s.email for s in members])
            for v, members in groups.items()] == [
        (("Politics", "World"), "daily", ["a@x.org", "b@x.org"]),
        (("World",), "weekly", ["c@x.org"]),
        ((), "weekly", ["d@x.org"]),
    ]


def test_saved_topics_that_left_the_config_are_dropped() -> None:
    saved = {"a@x.org": (("Sports", "World"), "daily"), "b@x.org": (("Sports",), "weekly")}
    known = ("World", "Politics")
    a = with_preferences(Subscriber("a@x.org"), saved, known)
    b = with_preferences(Subscriber("b@x.org"), saved, known)
    assert a.topics == ("World",) and b.topics == () and b.frequency == "weekly"


def test_weekly_is_due_from_the_configured_day_of_the_week() -> None:
    ny = ZoneInfo("America/New_York")
    assert weekly_due(NOW, ny, "monday") and weekly_due(NOW, ny, "Wednesday")
    assert not weekly_due(NOW, ny, "thursday")  # still Wednesday in New York
    assert weekly_due(NOW, UTC, "thursday")


def _project(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer, day: str) -> Path:
    config = served_project(project, feed_server, smtp, {
        'lists = ["subscribers/subscribers.csv"]':
            f'lists = ["subscribers/subscribers.csv"]\nweekly_day = "{day}"',
    })
    with (project / "subscribers" / "subscribers.csv").open("a") as f:
        f.write("wendy@example.com,Wendy,World,weekly\n")
    return config


def test_each_subscriber_gets_their_topics_and_weekly_readers_the_weekly(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_project(project, feed_server, smtp_server, "wednesday"))
    with Store.open(config.database_path) as store:  # Alan chose Politics on his page
        store.set_preference("alan@example.net", ("Politics",), "daily", NOW)

    summary = pipeline.send(config, NOW, ENV)

    assert summary.edition == "daily-2023-11-22" and summary.count("sent") == 3
    assert summary.weekly is not None and summary.weekly.edition == "weekly-2023-W47"
    assert summary.weekly.count("sent") == 1
    got = {a.rcpt_tos[0]: a.message for a in smtp_server.arrived}
    assert sorted(got) == ["ada@example.com", "alan@example.net", "grace@example.org",
                           "wendy@example.com"]
    text = {k: m.get_body(("plain",)).get_content() for k, m in got.items()}
    assert all(t in text["ada@example.com"] for t in (FEATURED, WORLD, POLITICS))
    assert WORLD in text["grace@example.org"] and POLITICS in text["grace@example.org"]
    assert FEATURED not in text["grace@example.org"]
    assert POLITICS in text["alan@example.net"]
    assert WORLD not in text["alan@example.net"] and FEATURED not in text["alan@example.net"]
    assert got["wendy@example.com"]["X-Digest-Edition"] == "weekly-2023-W47"
    assert WORLD in text["wendy@example.com"] and POLITICS not in text["wendy@example.com"]
    assert all(got[k]["X-Digest-Edition"] == "daily-2023-11-22" for k in got
               if k != "wendy@example.com")

    # Each group was rendered once, and kept, so a re-run sends each the same text.
    with Store.open(config.database_path) as store:
        assert store.variant("daily-2023-11-22", "Politics;World") is not None
        assert store.variant("daily-2023-11-22", "Politics") is not None
        assert store.variant("weekly-2023-W47", "World") is not None
    again = pipeline.send(config, NOW, ENV)
    assert len(smtp_server.arrived) == 4 and again.weekly is not None
    assert again.weekly.count("sent") == 1


def test_before_the_weekly_day_weekly_readers_get_nothing(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(_project(project, feed_server, smtp_server, "friday"))
    summary = pipeline.send(config, NOW, ENV)
    assert summary.weekly is None and summary.count("sent") == 3
    assert "wendy@example.com" not in [a.rcpt_tos[0] for a in smtp_server.arrived]


def test_weekly_and_daily_editions_take_stories_independently(tmp_path: Path) -> None:
    story = Story(feed_url="https://f/", source="F", section="World", id="1", url="https://f/1",
                  title="T", summary_html="", summary_text="", published=NOW)
    since, until = NOW.replace(day=20), NOW.replace(day=24)

    def rendered(edition_id: str) -> Rendered:
        return Rendered(edition_id, "S", "<p>x</p>", "x", {})

    with Store.open(tmp_path / "state.sqlite3") as store:
        store.upsert_stories([story], NOW)
        store.save_edition(rendered("weekly-2023-W47"), NOW, [story])
        assert [s.id for s in store.unsent_stories(since, until)] == ["1"]  # still for a daily
        assert store.weekly_stories(since, until) == []  # but no second weekly
        store.save_edition(rendered("daily-2023-11-22"), NOW, [story])
        assert store.unsent_stories(since, until) == []
