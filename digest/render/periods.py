"""Render, times: what period an edition covers and when its stories were published, as
readers read them in the newsletter's time zone.

A daily edition is a day ("Thursday, December 3, 2026") and its stories' ages are relative
("4 h ago"); a weekly edition is an ISO week ("Week 49, Nov 30 - Dec 6, 2026") and its
stories show their day. Archive pages are read any time later, so they show absolute times.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

_WEEKLY = re.compile(r"weekly-(\d{4})-W(\d{2})")


def is_weekly(edition_id: str) -> bool:
    return edition_id.startswith("weekly-")


def period_label(edition_id: str, created: datetime, timezone: tzinfo) -> str:
    """The period an edition covers, for its subject and masthead."""
    local = created.astimezone(timezone)
    if not is_weekly(edition_id):
        return f"{local:%A}, {local:%B} {local.day}, {local.year}"
    named = _WEEKLY.fullmatch(edition_id)
    try:
        year, week = (int(named[1]), int(named[2])) if named else local.isocalendar()[:2]
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:  # an id such as weekly-2026-W60 names no week: the build's week
        year, week = local.isocalendar()[:2]
        monday = date.fromisocalendar(year, week, 1)
    sunday = monday + timedelta(days=6)
    start = f"{monday:%b} {monday.day}" + (f", {monday.year}" if monday.year != sunday.year
                                           else "")
    return f"Week {week}, {start} - {sunday:%b} {sunday.day}, {sunday.year}"


def day_label(when: datetime, timezone: tzinfo) -> str:
    """A story's day, for a weekly edition: "Tue, Dec 1"."""
    local = when.astimezone(timezone)
    return f"{local:%a}, {local:%b} {local.day}"


def absolute_time(when: datetime, timezone: tzinfo) -> str:
    """A story's time for a page read any time later: "Dec 1, 2026, 07:12 EST"."""
    local = when.astimezone(timezone)
    return f"{local:%b} {local.day}, {local.year}, {local:%H:%M %Z}"
