"""Ingest: a feed's date text to a UTC datetime, the same whatever day the run happens.

feedparser's ISO 8601 fallback completes a partial date from the clock ("2020/1/10 14:33:00"
reads as the first of the *current* month, "05-03" as this year) and reads a zoneless time in
the machine's time zone, so a story's date would depend on when and where digest runs. Every
feedparser handler that reads only its input is kept; that one is replaced by a strict reading
that needs the year, month and day written out and takes a missing zone as UTC.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from feedparser.datetimes import (
    _parse_date_asctime,
    _parse_date_greek,
    _parse_date_hungarian,
    _parse_date_nate,
    _parse_date_onblog,
    _parse_date_perforce,
    _parse_date_rfc822,
    _parse_date_w3dtf,
)

# Dates outside these are a feed's mistake (year 1 or 9999), and some overflow arithmetic.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2100

_NUMERIC = re.compile(
    r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*\Z",
    re.IGNORECASE,
)

# Tried in this order; each returns a UTC struct_time or None and reads nothing but its input.
_HANDLERS: tuple[Callable[[str], Any], ...] = (
    _parse_date_w3dtf, _parse_date_rfc822, _parse_date_asctime, _parse_date_perforce,
    _parse_date_hungarian, _parse_date_greek, _parse_date_nate, _parse_date_onblog,
)


def parse_date(text: object) -> datetime | None:
    """The UTC time a feed's date text names, or None when it names no whole date.

    Args:
        text: the element's text as the feed wrote it (anything else is None).
    Returns:
        An aware UTC datetime between 1970 and 2100, or None.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        return None
    when = _numeric(text)
    if when is None:
        for handler in _HANDLERS:
            try:
                parsed = handler(text)
            except (KeyError, OverflowError, ValueError, AttributeError, TypeError, IndexError):
                continue
            if parsed and len(parsed) == 9:
                when = _from_struct(parsed)
                break
    return in_range(when)


def parse_rfc3339(text: object) -> datetime | None:
    """A JSON Feed date (RFC 3339), else any date `parse_date` reads, in UTC."""
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_date(text)
    try:
        return in_range(when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC))
    except OverflowError:  # year 1 with a positive offset
        return None


def parse_rfc822(text: object) -> datetime | None:
    """An RSS pubDate read by the standard library, else by `parse_date`, in UTC."""
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return parse_date(text)
    try:
        return in_range(when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC))
    except OverflowError:
        return None


def in_range(when: datetime | None) -> datetime | None:
    """`when` if it falls in 1970..2100, else None (undated)."""
    if when is None or not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        return None
    return when


def _numeric(text: str) -> datetime | None:
    m = _NUMERIC.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        int(second or 0), tzinfo=UTC)
        return when - _offset(zone)
    except (ValueError, OverflowError):
        return None


def _offset(zone: str | None) -> timedelta:
    if not zone or zone.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timedelta(minutes=minutes if zone[0] == "+" else -minutes)


def _from_struct(parsed: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None

