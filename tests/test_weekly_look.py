"""A weekly edition says which week it is (subject, masthead) and shows its stories' days,
not their ages; a daily keeps its day and ages; archive pages show absolute times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import REPO

from digest.model import Cluster, Edition, Section, Story
from digest.render.edition import render_edition
from digest.render.periods import period_label

NEW_YORK = ZoneInfo("America/New_York")
CREATED = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # Thursday of ISO week 49


def _edition(edition_id: str) -> Edition:
    def story(n: int, hours: int) -> Story:
        return Story(feed_url=f"https://f{n}.example/", source=f"Source {n}", section="World",
                     id=str(n), url=f"https://f{n}.example/{n}", title=f"Headline number {n}",
                     summary_html="", summary_text="", published=CREATED - timedelta(hours=hours))
    clusters = (Cluster((story(1, 4),), 2.0), Cluster((story(2, 50),), 1.0))
    return Edition(edition_id, "The Morning Wire", CREATED, (Section("World", clusters),))


def _render(edition_id: str, archive: bool = False) -> tuple[str, str, str]:
    r = render_edition(_edition(edition_id), REPO / "templates", NEW_YORK, "n0nce",
                       archive=archive)
    return r.subject, r.html, r.text


def test_the_weekly_names_its_week_and_shows_days() -> None:
    subject, html, text = _render("weekly-2026-W49")
    week = "Week 49, Nov 30 - Dec 6, 2026"
    assert subject.startswith(f"{week}: Headline number 1")
    assert week in html and week in text
    assert "Thursday, December 3" not in subject + html + text
    assert "Thu, Dec 3" in text and "Tue, Dec 1" in text  # the stories' days
    assert "Thu, Dec 3" in html and "Tue, Dec 1" in html
    assert " ago" not in html and " ago" not in text


def test_the_daily_keeps_its_day_and_ages() -> None:
    subject, html, text = _render("daily-2026-12-03")
    # The Date header says the day: the subject is the news alone.
    assert subject.startswith("Headline number 1") and "December 3" not in subject
    assert "4 h ago" in text and "2 days ago" in text and "4 h ago" in html


def test_an_archive_render_shows_absolute_times_in_the_newsletters_zone() -> None:
    for edition_id in ("daily-2026-12-03", "weekly-2026-W49"):
        _, html, text = _render(edition_id, archive=True)
        assert "Dec 3, 2026, 03:00 EST" in html and "Dec 1, 2026, 05:00 EST" in html
        assert " ago" not in html and " ago" not in text


def test_a_week_across_new_year_names_both_years() -> None:
    assert period_label("weekly-2026-W53", CREATED, NEW_YORK) == (
        "Week 53, Dec 28, 2026 - Jan 3, 2027")
    assert period_label("weekly-2027-W01", CREATED, NEW_YORK) == (
        "Week 1, Jan 4 - Jan 10, 2027")
