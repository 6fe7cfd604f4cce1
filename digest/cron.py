"""Schedule (pure part): crontab expressions into APScheduler triggers, and their fire times.

In: a five-field crontab expression as operators write it (`0 7 * * 1` = Mondays at 07:00) and
an IANA time zone. Out: an APScheduler trigger that fires when cron would, plus the
questions the scheduler and `digest status` ask of it: the next fire times after a moment,
and the slot a moment belongs to (the latest fire time at or before it).

APScheduler 3.x's `CronTrigger.from_crontab` reads the weekday field with 0 = Monday, unlike
cron (0 and 7 = Sunday); its trigger skips a day after clocks spring forward and fires twice
in the hour they fall back. This module fixes all three, so `0 7 * * 1` means Monday,
`0 0 * * *` fires every night, and `30 1 * * *` sends once on the night the clocks go back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DAY_ITEM = re.compile(r"^(\*|[0-7a-z]{1,3})(?:-([0-7a-z]{1,3}))?(?:/(\d+))?$")


class LocalCronTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler ships no types
    """Fires when the local wall clock matches the cron fields, as cron does.

    APScheduler 3.x's own `CronTrigger` steps through dates in a way that skips a day after
    clocks spring forward (`0 0 * * *` in New York never fires on 2026-03-09) and fires the
    repeated hour twice when they fall back. This trigger matches the fields against the
    wall clock (a `CronTrigger` in UTC, which has no DST, does the matching) and maps each
    match to an instant: a wall time in the spring-forward gap fires at the same offset
    after the change (02:30 → 03:30); a repeated wall time fires once, at its first
    occurrence.
    """

    def __init__(self, fields: dict[str, str], timezone: tzinfo, expression: str) -> None:
        self._wall = CronTrigger(**fields, timezone=UTC)
        self.timezone = timezone
        self.expression = expression

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime | None:
        # After `previous` when given (the scheduler asks so to list missed runs), else `now`.
        start = now if previous is None else previous + timedelta(microseconds=1)
        wall = start.astimezone(self.timezone).replace(tzinfo=UTC)
        for _ in range(1000):  # each turn moves past one wall time: this ends at once
            match: datetime | None = self._wall.get_next_fire_time(None, wall)
            if match is None:
                return None
            naive = match.replace(tzinfo=None)
            for fold in (0, 1):
                fire = naive.replace(tzinfo=self.timezone, fold=fold)
                if fire.astimezone(UTC) >= start.astimezone(UTC):
                    return fire
            wall = match + timedelta(seconds=1)  # both occurrences are already past
        return None

    def __str__(self) -> str:
        return f"cron[{self.expression}] in {self.timezone}"


def cron_trigger(expression: str, timezone: tzinfo) -> LocalCronTrigger:
    """The trigger for a crontab expression, read the way cron reads it.

    Args:
        expression: five fields (minute hour day-of-month month day-of-week) or a macro
            such as `@daily`; weekday 0 or 7 is Sunday, names (`mon`) work too.
        timezone: the zone the fields are in; DST is handled by the trigger.
    Returns:
        A trigger that fires each matching local wall-clock time once.
    Raises:
        ValueError: the expression is not one cron would accept, or it restricts both day of
            month and day of week (cron fires when either matches, APScheduler only when
            both do: write two jobs' worth of intent as one field instead).
    """
    text = MACROS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"has {len(fields)} fields, cron needs 5 (minute hour day month "
                         "weekday) or a macro such as @daily")
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ValueError("restricts both the day of month and the day of week, which cron and "
                         "APScheduler read differently; restrict only one of them")
    matched = {"minute": minute, "hour": hour, "day": day.replace("?", "*"), "month": month,
               "day_of_week": _weekdays(weekday)}
    return LocalCronTrigger(matched, timezone, text)


def _weekdays(field: str) -> str:
    """Cron's weekday field (0/7 = Sunday) as APScheduler's names (which it cannot misread)."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _DAY_ITEM.match(item)
        if not match:
            raise ValueError(f"weekday {item!r} is not a day (0-7 or sun-sat), a range or a step")
        first, last, step = match.groups()
        if first == "*":
            start, end = 0, 6
        else:
            start = _day(first)
            end = _day(last, sunday=7) if last else (6 if step else start)
        if end < start:
            raise ValueError(f"weekday range {item!r} runs backwards")
        days.update(d % 7 for d in range(start, end + 1, int(step or 1)))
    return ",".join(DAYS[d] for d in sorted(days))


def _day(token: str, sunday: int = 0) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise ValueError(f"weekday {token} is not 0-7")
        return sunday if number in (0, 7) else number
    if token not in DAYS:
        raise ValueError(f"weekday {token!r} is not one of {', '.join(DAYS)}")
    return sunday if token == "sun" else DAYS.index(token)


def next_fire_times(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after` (an aware datetime)."""
    times: list[datetime] = []
    previous: datetime | None = None
    now = after + timedelta(microseconds=1)
    while len(times) < count:
        fire: datetime | None = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous = now = fire
    return times


def slot_of(trigger: BaseTrigger, moment: datetime,
            horizon: timedelta = timedelta(days=400)) -> datetime | None:
    """The latest fire time at or before `moment`: the schedule slot a late run belongs to.

    A send due at 23:50 that runs at 00:05 still belongs to the 23:50 slot (and its day's
    edition). Searched backwards in doubling windows, so an every-minute cron costs a few
    steps and a yearly one a few dozen. None when nothing fired within `horizon`.
    """
    window = timedelta(minutes=2)
    while window <= horizon * 2:
        start = moment - window
        fire: datetime | None = trigger.get_next_fire_time(None, start)
        if fire is not None and fire <= moment:
            latest = fire
            while True:
                following: datetime | None = trigger.get_next_fire_time(latest, latest)
                if following is None or following > moment:
                    return latest
                latest = following
        window *= 2
    return None
