"""The suppression policy: hard bounces and complaints at once, soft bounces after soft_limit
editions in a row within window_days (a pure function: histories are built here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.bounces.classify import Finding, severity
from digest.bounces.policy import decide, soft_in_a_row
from digest.config import BouncesConfig
from digest.store.bounces import BounceEvent, History

T0 = datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
DAY = timedelta(days=1)
EMAIL = "ada@example.com"
SOFT = Finding("soft", EMAIL, "4.2.2", "452 4.2.2 mailbox full")


def _event(day: int, kind: str = "soft") -> BounceEvent:
    return BounceEvent(f"k{day}{kind}", EMAIL, f"daily-{day}", kind, "4.2.2", "full",
                       T0 + day * DAY + timedelta(hours=1))


def _sent(*days: int) -> list[tuple[str, datetime]]:
    return [(f"daily-{d}", T0 + d * DAY) for d in days]


def test_severity_of_status_codes() -> None:
    assert severity("5.1.1") == "hard" and severity("5.1.10") == "hard"
    assert severity("5.4.4") == "hard" and severity("5.0.0") == "hard"
    for soft in ("4.2.2", "4.4.1", "5.2.2", "5.2.3", "5.3.4", "5.7.1", "4.0.0"):
        assert severity(soft) == "soft", soft


def test_hard_and_complaint_suppress_at_once_with_their_evidence() -> None:
    history = History([], [])
    hard = decide(EMAIL, "daily-1", Finding("hard", EMAIL, "5.1.1", "550 5.1.1 no such user"),
                  history, BouncesConfig(), T0)
    assert hard is not None and (hard.kind, hard.status, hard.edition_id) == (
        "hard", "5.1.1", "daily-1") and "no such user" in hard.evidence
    spam = decide(EMAIL, "daily-1", Finding("complaint", EMAIL, "", "Feedback-Type: abuse"),
                  history, BouncesConfig(), T0)
    assert spam is not None and spam.kind == "complaint"
    assert decide(EMAIL, "daily-1", Finding("ignored", EMAIL, "4.4.7", "delayed"), history,
                  BouncesConfig(), T0) is None


def test_soft_bounces_suppress_after_the_limit_in_a_row() -> None:
    settings = BouncesConfig(soft_limit=3, window_days=14)
    events = [_event(1), _event(2)]
    two = History(_sent(1, 2), events)
    assert soft_in_a_row(two, T0 + 3 * DAY, timedelta(days=14)) == 2
    assert decide(EMAIL, "daily-2", SOFT, two, settings, T0 + 3 * DAY) is None
    three = History(_sent(1, 2, 3), [*events, _event(3)])
    made = decide(EMAIL, "daily-3", SOFT, three, settings, T0 + 4 * DAY)
    assert made is not None and made.kind == "soft" and "3 editions in a row" in made.evidence


def test_a_delivery_between_soft_bounces_starts_the_count_again() -> None:
    # days 1 and 2 bounced, day 3 arrived, days 4 and 5 bounced
    history = History(_sent(1, 2, 3, 4, 5), [_event(1), _event(2), _event(4), _event(5)])
    assert soft_in_a_row(history, T0 + 6 * DAY, timedelta(days=14)) == 2
    # an edition accepted after the latest bounce does not reset it: its bounce may be coming
    later = History(_sent(1, 2, 3, 6), [_event(1), _event(2), _event(3)])
    assert soft_in_a_row(later, T0 + 6 * DAY, timedelta(days=14)) == 3


def test_soft_bounces_older_than_the_window_do_not_count() -> None:
    history = History(_sent(1, 2, 30), [_event(1), _event(2), _event(30)])
    assert soft_in_a_row(history, T0 + 31 * DAY, timedelta(days=14)) == 1
    assert decide(EMAIL, "daily-30", SOFT, history, BouncesConfig(soft_limit=2),
                  T0 + 31 * DAY) is None


def test_the_same_edition_bouncing_twice_counts_once() -> None:
    history = History(_sent(1), [_event(1), BounceEvent("other", EMAIL, "daily-1", "soft", "",
                                                        "", T0 + DAY * 2)])
    assert soft_in_a_row(history, T0 + 3 * DAY, timedelta(days=14)) == 1
