"""The scheduler's decisions, computed for given times: no waiting on a wall clock.

Triggers are asked for their fire times across DST changes in many zones; slots and edition
names are computed for late runs; the job bodies run in-process with a fixed clock against a
real SMTP server; the missed-run line comes from a real APScheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import SmtpServer, set_config

from digest import cli
from digest.config import load_config
from digest.cron import cron_trigger, next_fire_times, slot_of
from digest.errors import ConfigError
from digest.service import schedule
from digest.store import Store
from digest.store.lock import hold_lock

ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
NEW_YORK = ZoneInfo("America/New_York")
# Zones with DST in either hemisphere, half-hour DST (Lord Howe), a 45-minute offset
# (Chatham), DST switching at midnight (Santiago), and none at all (Kolkata).
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/Santiago", "Asia/Kolkata", "UTC"]
DAILY = ["0 7 * * *", "30 1 * * *", "30 2 * * *", "0 0 * * *", "59 23 * * *", "45 1 * * *"]


def _local_dates(times: list[datetime], zone: ZoneInfo) -> Counter[date]:
    return Counter(t.astimezone(zone).date() for t in times)


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("expression", DAILY)
def test_a_daily_cron_fires_exactly_once_every_local_day_through_dst(
    zone_name: str, expression: str
) -> None:
    zone = ZoneInfo(zone_name)
    start = datetime(2026, 1, 1, tzinfo=zone)
    times = next_fire_times(cron_trigger(expression, zone), start, 366)
    per_day = _local_dates(times, zone)
    days = [start.date() + timedelta(days=n) for n in range(1, 366)]
    assert [d for d in days if per_day[d] != 1] == []
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_send_time_stays_on_the_local_clock_when_the_offset_changes() -> None:
    times = next_fire_times(cron_trigger("0 7 * * *", NEW_YORK),
                            datetime(2026, 3, 6, 12, tzinfo=UTC), 4)
    assert [t.astimezone(NEW_YORK).strftime("%d %H:%M") for t in times] == [
        "07 07:00", "08 07:00", "09 07:00", "10 07:00"]
    assert [t.astimezone(UTC).hour for t in times] == [12, 11, 11, 11]  # EST, then EDT


def test_the_repeated_hour_when_clocks_fall_back_sends_once() -> None:
    # 2026-11-01 01:30 happens twice in New York; APScheduler alone fires both.
    times = next_fire_times(cron_trigger("30 1 * * *", NEW_YORK),
                            datetime(2026, 10, 31, 12, tzinfo=UTC), 3)
    assert [t.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") for t in times] == [
        "11-01 01:30 EDT", "11-02 01:30 EST", "11-03 01:30 EST"]


def test_the_missing_hour_when_clocks_spring_forward_still_sends_that_day() -> None:
    times = next_fire_times(cron_trigger("30 2 * * *", NEW_YORK),
                            datetime(2026, 3, 7, 12, tzinfo=UTC), 2)
    assert [t.astimezone(NEW_YORK).date().day for t in times] == [8, 9]


@pytest.mark.parametrize(("weekday", "names"), [
    ("1", {"Mon"}), ("0", {"Sun"}), ("7", {"Sun"}), ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
    ("5-7", {"Fri", "Sat", "Sun"}), ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
    ("mon,fri", {"Mon", "Fri"}), ("sat-sun", {"Sat", "Sun"}),
])
def test_weekdays_are_read_as_cron_reads_them(weekday: str, names: set[str]) -> None:
    # APScheduler 3.x alone reads 1 as Tuesday; cron, and operators, mean Monday.
    zone = ZoneInfo("Europe/Berlin")
    times = next_fire_times(cron_trigger(f"0 7 * * {weekday}", zone),
                            datetime(2026, 3, 1, tzinfo=zone), 60)
    assert {t.astimezone(zone).strftime("%a") for t in times} == names


@pytest.mark.parametrize("expression", [
    "0 7 * *", "0 7 * * * *", "x 7 * * *", "0 25 * * *", "0 7 * * 8", "0 7 * * 5-1",
    "0 7 1 * 1", "",
])
def test_expressions_cron_would_refuse_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        cron_trigger(expression, NEW_YORK)


def test_macros_work() -> None:
    times = next_fire_times(cron_trigger("@weekly", NEW_YORK), datetime(2026, 5, 1, tzinfo=UTC), 3)
    assert {t.astimezone(NEW_YORK).strftime("%a %H:%M") for t in times} == {"Sun 00:00"}


def test_a_bad_cron_in_the_config_names_key_and_line(project: Path) -> None:
    set_config(project / "config.toml", {'send = "0 7 * * *"': 'send = "0 7 * * 9"'})
    with pytest.raises(ConfigError) as caught:
        load_config(project / "config.toml")
    message = str(caught.value)
    assert "config.toml:13: schedule.send:" in message and "'0 7 * * 9'" in message


@pytest.mark.parametrize(("expression", "moment", "expected"), [
    ("0 7 * * *", "2026-11-26T07:00:00", "2026-11-26T07:00:00"),
    ("0 7 * * *", "2026-11-26T06:59:59", "2026-11-25T07:00:00"),
    ("50 23 * * *", "2026-11-27T00:10:00", "2026-11-26T23:50:00"),
    ("* * * * *", "2026-11-26T10:10:30", "2026-11-26T10:10:00"),
    ("0 7 * * 1", "2026-11-26T12:00:00", "2026-11-23T07:00:00"),
    ("0 0 1 1 *", "2026-11-26T12:00:00", "2026-01-01T00:00:00"),
    # in the repeated hour after clocks fall back: the 01:30 wall-clock slot (either pass)
    ("30 1 * * *", "2026-11-01T01:45:00-05:00", "2026-11-01T01:30:00-05:00"),
    ("30 1 * * *", "2026-11-01T01:45:00-04:00", "2026-11-01T01:30:00-04:00"),
])
def test_the_slot_of_a_moment_is_the_latest_fire_time_up_to_it(
    expression: str, moment: str, expected: str
) -> None:
    def aware(text: str) -> datetime:
        when = datetime.fromisoformat(text)
        return when if when.tzinfo else when.replace(tzinfo=NEW_YORK)

    found = slot_of(cron_trigger(expression, NEW_YORK), aware(moment))
    # (in UTC: Python never finds a time in a repeated hour equal to one in another zone)
    assert found is not None and found.astimezone(UTC) == aware(expected).astimezone(UTC)


def test_a_late_send_still_makes_its_slots_edition(project: Path) -> None:
    set_config(project / "config.toml", {'send = "0 7 * * *"': 'send = "50 23 * * *"'})
    config = load_config(project / "config.toml")
    (job,) = [j for j in schedule.plan(config) if j.id == "send-daily"]
    on_time = datetime(2026, 11, 26, 23, 50, 1, tzinfo=NEW_YORK)
    after_midnight = datetime(2026, 11, 27, 0, 20, tzinfo=NEW_YORK)
    assert schedule.edition_for(config, job, on_time) == "daily-2026-11-26"
    assert schedule.edition_for(config, job, after_midnight) == "daily-2026-11-26"


def test_both_fall_back_fires_name_the_same_edition(project: Path) -> None:
    set_config(project / "config.toml", {'send = "0 7 * * *"': 'send = "30 1 * * *"'})
    config = load_config(project / "config.toml")
    (job,) = [j for j in schedule.plan(config) if j.id == "send-daily"]
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # EDT
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)  # EST, an hour later
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert schedule.edition_for(config, job, first) == schedule.edition_for(config, job, second)


def test_plan_has_a_job_per_configured_cron(project: Path) -> None:
    set_config(project / "config.toml", {
        'fetch = "*/30 * * * *"': 'fetch = ""\nsend_weekly = "0 8 * * 1"',
    })
    config = load_config(project / "config.toml")
    at = datetime(2026, 11, 26, 12, tzinfo=UTC)
    planned = schedule.plan(config, send_at=at)
    assert [(j.id, j.kind, j.frequency) for j in planned] == [
        ("send-daily", "send", "daily"), ("send-weekly", "send", "weekly"),
        ("retry", "retry", "daily"), ("send-once", "send", "daily")]
    weekly = planned[1]
    assert schedule.edition_for(config, weekly, datetime(2026, 11, 26, 12, tzinfo=UTC)) == (
        "weekly-2026-W48")
    assert schedule.next_run(planned[3], at - timedelta(seconds=1)) == at


def test_start_catches_up_a_send_slot_within_the_grace_only(project: Path) -> None:
    config = load_config(project / "config.toml")  # send 07:00 New York, grace 3600 s
    planned = schedule.plan(config)
    slot = datetime(2026, 11, 26, 7, tzinfo=NEW_YORK)
    late = schedule._catch_up(config, planned, slot + timedelta(minutes=20))
    assert [(job.id, when) for job, when in late] == [("send-daily", slot)]
    assert schedule._catch_up(config, planned, slot + timedelta(hours=2)) == []


# The job bodies, in-process, with a fixed clock and a real SMTP server.

NOW = datetime(2023, 11, 23, 4, 0, 5, tzinfo=UTC)  # 23:00:05 on the 22nd in New York


def _jobs(project: Path, smtp: SmtpServer, clock: datetime, grace: int = 3600,
          retry: float = 0.1) -> tuple[schedule.Jobs, schedule.Job]:
    set_config(project / "config.toml", {
        "port = 1025": f"port = {smtp.port}",
        'send = "0 7 * * *"': f'send = "0 23 * * *"\nmisfire_grace_seconds = {grace}',
    })
    config = load_config(project / "config.toml")
    jobs = schedule.Jobs(config, ENV, lambda: clock, threading.Event(), retry)
    (job,) = [j for j in schedule.plan(config) if j.id == "send-daily"]
    return jobs, job


def test_a_second_run_in_the_same_slot_sends_nothing_new(
    project: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, job = _jobs(project, smtp_server, NOW)
    first = jobs.send(job)
    assert first is not None and first.edition == "daily-2023-11-22"
    assert first.count("sent") == 3 and len(smtp_server.arrived) == 3

    late = schedule.Jobs(jobs.config, ENV, lambda: NOW + timedelta(minutes=40), jobs.stop)
    again = late.send(job)  # the scheduler again, late but in the same slot
    assert again is not None and again.edition == "daily-2023-11-22"
    # ...and cron's `digest send` in the same day
    monkeypatch.setenv("DIGEST_SECRET", ENV["DIGEST_SECRET"])
    code = cli.main(["send", "--config", str(jobs.config.path), "--now", "2023-11-22T23:30"])
    assert code == 0
    assert len(smtp_server.arrived) == 3
    with Store.open(jobs.config.database_path) as store:
        assert set(store.delivery_status("daily-2023-11-22").values()) == {"sent"}
        assert [e.id for e in store.editions()] == ["daily-2023-11-22"]


def test_a_send_job_waits_for_the_lock_then_continues_the_edition(
    project: Path, smtp_server: SmtpServer
) -> None:
    jobs, job = _jobs(project, smtp_server, NOW)
    results: list[object] = []
    with hold_lock(jobs.config.database_path, "a cron digest send"):
        worker = threading.Thread(target=lambda: results.append(jobs.send(job)))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive() and smtp_server.arrived == []
    worker.join(20)
    (summary,) = results
    assert summary is not None and len(smtp_server.arrived) == 3


def test_a_send_job_gives_up_on_the_lock_after_the_grace_and_says_how_to_send(
    project: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The clock says the slot (23:00) was 5 s ago; the grace is 1 s.
    jobs, job = _jobs(project, smtp_server, NOW, grace=1)
    with caplog.at_level(logging.INFO), hold_lock(jobs.config.database_path, "digest send"):
        assert jobs.send(job) is None
    assert smtp_server.arrived == []
    assert "digest send --edition daily-2023-11-22" in caplog.text
    assert "digest send)" in caplog.text  # names what holds the lock


def test_a_run_missed_by_more_than_the_grace_is_skipped_with_a_line(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    set_config(project / "config.toml", {'send = "0 7 * * *"': 'send = ""\n'
                                                              "misfire_grace_seconds = 1"})
    config = load_config(project / "config.toml")
    stop = threading.Event()
    due = datetime.now(UTC) - timedelta(seconds=30)
    planned = schedule.plan(config, send_at=due)
    jobs = schedule.Jobs(config, ENV, lambda: datetime.now(UTC), stop)
    scheduler = schedule.build_scheduler(config, jobs, planned)
    with caplog.at_level(logging.INFO):
        scheduler.start()
        try:
            # The scheduler's thread drops the missed run: wait for its line, then look.
            deadline = time.monotonic() + 10
            while "missed" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            assert {j.id: (j.coalesce, j.misfire_grace_time, j.max_instances)
                    for j in scheduler.get_jobs()} == {"fetch": (True, 1, 1),
                                                       "retry": (True, 1, 1)}  # once: gone
        finally:
            scheduler.shutdown(wait=True)
    line = next(r.getMessage() for r in caplog.records if "missed" in r.getMessage())
    assert line.startswith("send-once: the run due at ")
    assert "schedule.misfire_grace_seconds = 1" in line and "skipped" in line
    assert "digest send --edition daily-" in line
    assert not config.database_path.exists()  # the send never ran


def test_run_refuses_to_start_without_the_secret_its_sends_need(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    assert cli.main(["run", "--config", str(project / "config.toml")]) == 2
    assert "DIGEST_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("DIGEST_SECRET", ENV["DIGEST_SECRET"])
    assert cli.main(["run", "--config", str(project / "config.toml"),
                     "--send-at", "tomorrow"]) == 2
    assert "--send-at 'tomorrow'" in capsys.readouterr().err


def test_the_weekly_job_sends_the_weeks_edition_to_weekly_readers_once(
    project: Path, smtp_server: SmtpServer
) -> None:
    set_config(project / "subscribers" / "subscribers.csv",
               {"alan@example.net,Alan Turing,,daily": "alan@example.net,Alan Turing,,weekly"})
    set_config(project / "config.toml", {
        "port = 1025": f"port = {smtp_server.port}",
        'send = "0 7 * * *"': 'send = ""\nsend_weekly = "0 23 * * 3"\nretry = ""',  # Wed 23:00
    })
    config = load_config(project / "config.toml")
    (job,) = schedule.plan(config)[1:]
    assert job.id == "send-weekly"
    jobs = schedule.Jobs(config, ENV, lambda: NOW, threading.Event())
    first = jobs.send(job)
    again = jobs.send(job)
    assert first is not None and first.edition == "weekly-2023-W47"
    assert again is not None and again.edition == "weekly-2023-W47"
    assert [a.rcpt_tos for a in smtp_server.arrived] == [["alan@example.net"]]
