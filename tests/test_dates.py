"""A story's date never depends on when or where the run happens."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from digest.ingest.dates import parse_date, parse_rfc822, parse_rfc3339


@pytest.fixture
def far_zone() -> Iterator[None]:
    """The machine's local zone set far from UTC: a zoneless date must still read as UTC."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kathmandu"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(("text", "expected"), [
    ("2020/1/10 14:33:00", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
    ("2020-01-10 14:33", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
    ("2020.1.10", datetime(2020, 1, 10, tzinfo=UTC)),
    ("2020-01-10T14:33:00+02:00", datetime(2020, 1, 10, 12, 33, tzinfo=UTC)),
    ("2020-01-10T14:33:00.123Z", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
    ("Fri, 10 Jan 2020 14:33:00 GMT", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
    ("Fri, 10 Jan 2020 14:33:00 +0100", datetime(2020, 1, 10, 13, 33, tzinfo=UTC)),
    ("2003-12", datetime(2003, 12, 1, tzinfo=UTC)),  # W3DTF's own rule, not the clock
])
def test_whole_dates_read_the_same_anywhere(far_zone: None, text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", [
    "05-03", "14:33:00", "2020/1", "Tuesday", "", "   ", "2020/13/45 10:00",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "1969-12-31T00:00:00Z",
    "2" * 400,
])
def test_partial_or_impossible_dates_are_undated(text: str) -> None:
    assert parse_date(text) is None


def test_json_and_rss_dates_are_bounded() -> None:
    assert parse_rfc3339("0001-01-01T00:00:00+05:00") is None
    assert parse_rfc3339("2101-01-01T00:00:00Z") is None
    assert parse_rfc3339("2024-05-01T10:00:00-04:00") == datetime(2024, 5, 1, 14, tzinfo=UTC)
    assert parse_rfc822("Mon, 01 Jan 1900 00:00:00 +0500") is None
    assert parse_rfc822("Wed, 01 May 2024 10:00:00 -0400") == datetime(2024, 5, 1, 14, tzinfo=UTC)


@pytest.mark.skipif(shutil.which("faketime") is None, reason="needs the faketime package")
@pytest.mark.parametrize("today", ["2027-03-15 12:00:00", "2031-07-01 00:00:00"])
def test_a_partial_date_does_not_follow_the_clock(today: str) -> None:
    code = "from digest.ingest.dates import parse_date; print(parse_date('2020/1/10 14:33:00'))"
    out = subprocess.run(["faketime", today, sys.executable, "-c", code],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "2020-01-10 14:33:00+00:00"
