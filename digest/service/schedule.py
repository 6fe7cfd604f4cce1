"""Schedule: `digest run`, APScheduler jobs that call the pipeline on the configured crons.

In: the `[schedule]` section (crons for fetch, the daily send and the weekly send, in its time
zone, and the misfire grace), the environment, a clock and a stop event. Out: fetches and sends
run at their times, one at a time, each logged with its outcome and the job's next time.

How it keeps its promises:
- **never twice**: each send continues the edition of its schedule slot (`daily-2026-11-26`,
  named by the slot's day even when the run is late), so a second run in the slot, a cron
  `digest send` in the same day, or the repeated hour when clocks fall back sends only what
  the ledger shows unsent; jobs run one at a time in one worker thread.
- **on time, or said plainly**: a job late by up to `misfire_grace_seconds` runs once (missed
  runs coalesce); later than that it is skipped with a log line saying how to send it anyway.
  At start, a send slot that passed less than the grace ago is caught up.
- **one run at a time**: the scheduler lock for the process's life (a second `digest run`
  exits 3; on a shared PostgreSQL database it stands by as a worker instead, and takes the
  scheduler over when the holder stops or dies), the jobs lock per job (a cron `digest send`
  exits 3 while a job runs; a send job that finds the lock held waits for it, up to the
  grace).
- **deferrals retried**: the `retry` job (`[schedule] retry`) sends the deferred deliveries
  of every edition that are due again, under the same lock and into the same ledger, until
  `[smtp] give_up_after_hours`, and then fails them with their last reply.
- **stops cleanly**: after the stop event (SIGTERM), the running job finishes (every delivery
  is committed to the ledger as the server answers), queued jobs are dropped, and it returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TextIO
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from digest import pipeline
from digest.bounces.mailbox import ScanSummary
from digest.config import Config
from digest.cron import cron_trigger, next_fire_times, slot_of
from digest.deliver.dispatch import Controls
from digest.errors import ConfigError, DigestError, LockHeld
from digest.model import DatabaseUrl, Frequency
from digest.pipeline.bounces import scan_bounces
from digest.store import Store
from digest.store.lock import hold_lock

log = logging.getLogger(__name__)

JobKind = Literal["fetch", "send", "bounces", "retry"]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Job:
    """One scheduled job: what it does and when."""

    id: str  # "fetch", "send-daily", "send-weekly", "send-once", "retry"
    kind: JobKind
    expression: str  # the cron, or "once at ..." for a one-off
    trigger: Any  # an APScheduler trigger
    frequency: Frequency = "daily"
    at: datetime | None = None  # a one-off's own time, which is its slot


def plan(config: Config, send_at: datetime | None = None) -> list[Job]:
    """The jobs `[schedule]` asks for, plus a one-off send at `send_at` when given.

    An empty cron turns its job off. The one-off sends the daily edition of `send_at`'s day,
    like a scheduled send in that slot would.
    """
    schedule = config.schedule
    zone = ZoneInfo(schedule.timezone)
    crons: tuple[tuple[str, JobKind, str, Frequency], ...] = (
        ("fetch", "fetch", schedule.fetch, "daily"),
        ("send-daily", "send", schedule.send, "daily"),
        ("send-weekly", "send", schedule.send_weekly, "weekly"),
        ("bounces", "bounces", schedule.bounces, "daily"),
        ("retry", "retry", schedule.retry, "daily"),
    )
    jobs = []
    for job_id, kind, expression, frequency in crons:
        if expression.strip():
            jobs.append(Job(job_id, kind, expression.strip(), cron_trigger(expression, zone),
                            frequency))
    if send_at is not None:
        jobs.append(Job("send-once", "send", f"once at {local(send_at, zone)}",
                        DateTrigger(run_date=send_at, timezone=zone), "daily", at=send_at))
    return jobs


def next_run(job: Job, after: datetime) -> datetime | None:
    """When `job` fires next after `after` (a one-off: its time, if still ahead)."""
    if job.at is not None:
        return job.at if job.at > after else None
    times = next_fire_times(job.trigger, after, 1)
    return times[0] if times else None


def slot(job: Job, now: datetime) -> datetime:
    """The schedule slot a run of `job` at `now` belongs to: the latest fire time up to now."""
    return job.at or slot_of(job.trigger, now) or now


def edition_for(config: Config, job: Job, now: datetime) -> str:
    """The edition a send job at `now` continues: the one named by its slot."""
    return pipeline.edition_id_for(config, slot(job, now), job.frequency)


def local(when: datetime, zone: ZoneInfo) -> str:
    """A time as operators read it: `2026-11-26 07:00 EST`."""
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}".replace(":00 ", " ", 1)


class Jobs:
    """What runs when a trigger fires; the scheduler only decides when."""

    def __init__(self, config: Config, environ: Mapping[str, str], clock: Clock,
                 stop: threading.Event, lock_retry_seconds: float = 2.0) -> None:
        self.config = config
        self.environ = environ
        self.clock = clock
        self.stop = stop
        self.lock_retry_seconds = lock_retry_seconds
        self.zone = ZoneInfo(config.schedule.timezone)
        self.grace = timedelta(seconds=config.schedule.misfire_grace_seconds)

    def run(self, job: Job, at_slot: datetime | None = None) -> None:
        """Run one job, logging its outcome; a failure costs this run, never the scheduler."""
        if self.stop.is_set():
            log.info("%s: not started, digest run is stopping", job.id)
            return
        try:
            if job.kind == "fetch":
                self.fetch(job)
            elif job.kind == "bounces":
                self.bounces(job)
            elif job.kind == "retry":
                self.retry(job)
            else:
                self.send(job, at_slot)
        except DigestError as e:
            log.error("%s failed: %s", job.id, e, extra={"job": job.id})
        except Exception:
            log.exception("%s failed unexpectedly; the scheduler goes on", job.id,
                          extra={"job": job.id})
        following = next_run(job, self.clock())
        if following is not None:
            log.info("%s: next at %s", job.id, local(following, self.zone),
                     extra={"job": job.id, "next": following.isoformat()})

    def fetch(self, job: Job) -> pipeline.FetchSummary | None:
        """Fetch every feed under the jobs lock; skipped when another process holds it."""
        database = self.config.database_path
        try:
            with hold_lock(database, f"digest run: {job.id}"), Store.open(database) as store:
                summary = pipeline.fetch(self.config, store, self.clock())
        except LockHeld as e:
            log.info("%s skipped: %s", job.id, e, extra={"job": job.id})
            return None
        log.info("%s: %d feeds, %d new stories, %d failed", job.id, len(summary.feeds),
                 summary.new_stories, summary.failed,
                 extra={"job": job.id, "new_stories": summary.new_stories,
                        "failed": summary.failed})
        return summary

    def bounces(self, job: Job) -> ScanSummary:
        """Scan `[bounces] maildir` for bounces and complaints (no lock: a scan's writes are
        idempotent, and it can run beside a send)."""
        path = self.config.resolve(self.config.bounces.maildir)
        summary = scan_bounces(self.config, path, self.environ, self.clock, self.stop)
        log.info("%s: %d messages, %s; %d suppressed", job.id, summary.messages,
                 ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items())) or "none",
                 len(summary.suppressed), extra={"job": job.id})
        return summary
    def retry(self, job: Job) -> tuple[pipeline.SendSummary, ...] | None:
        """Retry the deferred deliveries that are due (and give up the too old ones), under
        the jobs lock; skipped when another process holds it (the next run retries)."""
        try:
            summaries = pipeline.retry_deferred(self.config, self.environ,
                                                controls=self.controls())
        except LockHeld as e:
            log.info("%s skipped: %s", job.id, e, extra={"job": job.id})
            return None
        for summary in summaries:
            counts = {s: summary.count(s) for s in ("sent", "deferred", "failed", "unknown")}
            log.log(logging.INFO if summary.ok else logging.WARNING, "%s: edition %s: %s",
                    job.id, summary.edition, ", ".join(f"{n} {s}" for s, n in counts.items()),
                    extra={"job": job.id, "edition": summary.edition, **counts})
        return summaries

    def controls(self) -> Controls:
        """A send's controls: the scheduler's clock (the ledger's times and the deferrals'
        next tries are on it); a stop of its own, since a running job finishes whole."""
        return Controls(clock=self.clock)

    def send(self, job: Job, at_slot: datetime | None = None) -> pipeline.SendSummary | None:
        """Send (or continue) the edition of the job's slot.

        When another process holds the jobs lock (a cron `digest send`), waits for it, up to
        the misfire grace after the slot, then continues the same edition: whatever that
        process sent is in the ledger and is not sent again.
        """
        now = self.clock()
        when = at_slot or slot(job, now)
        edition_id = pipeline.edition_id_for(self.config, when, job.frequency)
        # On time, the slot's edition is the one a cron `digest send` would make now: let the
        # pipeline name it, exactly as from cron. Late past midnight, name the slot's edition.
        named = edition_id if (job.frequency != "daily" or
                               edition_id != pipeline.edition_id_for(self.config, now)) else None
        waited = False
        while True:
            try:
                summary = pipeline.send(self.config, self.clock(), self.environ,
                                        edition_id=named, controls=self.controls())
                break
            except LockHeld as e:
                if self.clock() - when > self.grace or self.stop.is_set():
                    why = ("digest run is stopping" if self.stop.is_set() else
                           f"the lock was still held {self.grace} after the slot")
                    log.error("%s: edition %s not sent: %s; %s. To send it: digest send "
                              "--edition %s", job.id, edition_id, e, why, edition_id,
                              extra={"job": job.id, "edition": edition_id})
                    return None
                log.log(logging.DEBUG if waited else logging.INFO,
                        "%s: waiting for the lock: %s", job.id, e, extra={"job": job.id})
                waited = True
                self.stop.wait(self.lock_retry_seconds)
        counts = {s: summary.count(s) for s in ("sent", "deferred", "failed", "unknown")}
        detail = ", ".join(f"{n} {s}" for s, n in counts.items())
        if summary.note and not any(counts.values()):
            detail = f"nothing sent: {summary.note}"
        log.log(logging.INFO if summary.ok else logging.WARNING, "%s: edition %s: %s",
                job.id, summary.edition, detail,
                extra={"job": job.id, "edition": summary.edition, **counts})
        return summary


def check_ready(config: Config, environ: Mapping[str, str]) -> None:
    """Refuse to start a scheduler whose sends would all fail for want of a secret.

    Raises:
        ConfigError: the token key or the SMTP password is missing from the environment.
    """
    pipeline.token_key(config, environ)
    if config.smtp.username and not environ.get(config.smtp.password_env):
        raise ConfigError(f"[smtp] username is set but ${config.smtp.password_env} is empty; "
                          "export the SMTP password in that variable")


def build_scheduler(config: Config, jobs: Jobs, planned: list[Job]) -> BackgroundScheduler:
    """An APScheduler with one worker, the grace and coalescing, and our missed-run lines."""
    zone = ZoneInfo(config.schedule.timezone)
    grace = config.schedule.misfire_grace_seconds
    scheduler = BackgroundScheduler(
        timezone=zone,
        # One worker: jobs never overlap (they would contend for the lock and the database).
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
    )
    by_id = {job.id: job for job in planned}

    def on_event(event: JobEvent) -> None:
        job = by_id.get(event.job_id.removesuffix("-catch-up"))
        if job is None:
            return
        if event.code == EVENT_JOB_MISSED:
            due: datetime = event.scheduled_run_time
            late = jobs.clock() - due
            how = (f" To send it now: digest send --edition "
                   f"{pipeline.edition_id_for(config, job.at or due, job.frequency)}"
                   if job.kind == "send" else "")
            log.warning("%s: the run due at %s was missed by %s (more than "
                        "schedule.misfire_grace_seconds = %d); skipped.%s", job.id,
                        local(due, zone), _round(late), grace, how,
                        extra={"job": job.id, "due": due.isoformat()})
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("%s: skipped a run, the previous one is still running", job.id,
                        extra={"job": job.id})

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    for job in planned:
        scheduler.add_job(jobs.run, job.trigger, args=[job], id=job.id, name=job.id)
    return scheduler


def run(config: Config, environ: Mapping[str, str], clock: Clock, stop: threading.Event,
        out: TextIO, send_at: datetime | None = None) -> None:
    """Run the scheduler until `stop` is set; then let the running job finish and return.

    Args:
        config: the validated config; `[schedule]` says what runs when.
        environ: where the secrets are.
        clock: the current time (aware).
        stop: set it (from a SIGTERM handler) to stop.
        out: where the start-up lines go: each job's next time.
        send_at: a one-off send at this time (tests, a deployment check, a catch-up).
    Raises:
        LockHeld: another `digest run` uses this state database.
        ConfigError: a secret the sends need is missing.
    """
    planned = plan(config, send_at)
    if any(job.kind == "send" for job in planned):
        check_ready(config, environ)
    zone = ZoneInfo(config.schedule.timezone)
    database = config.database_path
    with contextlib.ExitStack() as held:
        if isinstance(database, DatabaseUrl):
            held.enter_context(_working(config, environ, clock, stop))
            if not _take_scheduler(held, database, stop, config.smtp.lease_seconds / 3):
                return
        else:
            held.enter_context(hold_lock(database, kind="scheduler"))
        with Store.open(database):
            pass  # migrate the state database now, so a problem shows at start
        jobs = Jobs(config, environ, clock, stop)
        scheduler = build_scheduler(config, jobs, planned)
        now = clock()
        catch_up = _catch_up(config, planned, now)
        scheduler.start()
        print(f"digest run: PID {os.getpid()}, state {database}, times in {zone.key}", file=out)
        for job in planned:
            following = next_run(job, now) or job.at
            when = local(following, zone) if following else "never"
            print(f"  {job.id:12} next at {when}   ({job.expression})", file=out)
        for job, missed in catch_up:
            print(f"  {job.id:12} catching up the slot of {local(missed, zone)} now "
                  f"(within the {config.schedule.misfire_grace_seconds} s grace)", file=out)
            scheduler.add_job(jobs.run, DateTrigger(run_date=now, timezone=zone),
                              args=[job, missed], id=f"{job.id}-catch-up")
        out.flush()
        log.info("digest run started with %d jobs", len(planned))
        while not stop.wait(1.0):
            pass
        log.info("stopping: letting the running job finish")
        scheduler.shutdown(wait=True)
        log.info("stopped")


@contextlib.contextmanager
def _working(config: Config, environ: Mapping[str, str], clock: Clock,
             stop: threading.Event) -> Iterator[None]:
    """On a shared database every `digest run` is also a worker, scheduler or not."""

    def work() -> None:
        try:
            pipeline.work(config, environ, Controls(clock=clock, stop=stop), once=False)
        except DigestError as e:
            log.error("this digest run sends nothing as a worker: %s", e)

    thread = threading.Thread(target=work, name="worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _take_scheduler(held: contextlib.ExitStack, database: DatabaseUrl, stop: threading.Event,
                    every: float) -> bool:
    """Hold the scheduler lock of a shared database: at once when it is free, else when its
    holder stops or dies (the server frees a dead session's lock). False: stopped first."""
    said = False
    while not stop.is_set():
        try:
            held.enter_context(hold_lock(database, "digest run", kind="scheduler"))
            if said:
                log.info("took over the scheduler")
            return True
        except LockHeld as e:
            if not said:
                log.info("standing by as a worker: %s; this one takes over if it stops", e)
                said = True
        stop.wait(every)
    return False


def _catch_up(config: Config, planned: list[Job], now: datetime) -> list[tuple[Job, datetime]]:
    """Send slots that passed less than the grace ago, while no scheduler was running."""
    grace = timedelta(seconds=config.schedule.misfire_grace_seconds)
    due = []
    for job in planned:
        if job.kind == "send" and job.at is None:
            missed = slot_of(job.trigger, now)
            if missed is not None and now - missed <= grace:
                due.append((job, missed))
    return due


def _round(delta: timedelta) -> timedelta:
    return timedelta(seconds=round(delta.total_seconds()))
