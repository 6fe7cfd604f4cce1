"""`digest status`: is the scheduler up, how each feed's last fetch went and when it is tried
next, the latest editions with their delivery counts, and the live workers."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from digest.bounces.rates import edition_rates, rates_line
from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import Config, load_config
from digest.logs import Redactor
from digest.service import schedule
from digest.store import FeedState, Store
from digest.store.lock import Holder, lock_holder

STATUS_WORDS = {"ok": "ok", "not_modified": "not modified", "failed": "failed",
                "skipped": "skipped", "never": "never fetched"}
_MASK = Redactor(())  # a password in a feed's URL is printed as the logs print it: ***
COUNTS = ("sent", "deferred", "failed", "unknown", "pending")
SIGNUP_WINDOW = timedelta(days=7)


def cmd_status(args: argparse.Namespace) -> int:
    """Show whether digest run is up, each feed's last fetch and next try, the latest
    editions with their delivery counts (sent, deferred, failed, unknown), and the last
    week's signups."""
    config = load_config(args.config)
    now = datetime.now(UTC)
    with Store.open(config.database_path) as store:
        states = store.feed_states()
        editions = store.editions()
        bounces = {e.id: store.bounce_counts(e.id) for e in editions}
        signups = store.signup_counts(now - SIGNUP_WINDOW, now,
                                      timedelta(hours=config.signup.confirm_hours))
        # live: a heartbeat within three of its intervals (a lease)
        workers = store.workers(now - timedelta(seconds=config.smtp.lease_seconds))
    report = _report(config, now, states, editions)
    report["workers"] = [dataclasses.asdict(w) for w in workers]
    for edition in report["editions"]:
        edition["bounces"] = edition_rates(edition, bounces[edition["id"]])
    report["signups"] = {"days": SIGNUP_WINDOW.days, **dataclasses.asdict(signups)}
    if args.json:
        print(json.dumps(report, default=_json_value))
        return EXIT_OK
    _print(report, ZoneInfo(config.schedule.timezone))
    return EXIT_OK


def _report(config: Config, now: datetime, states: dict[str, FeedState],
            editions: list[Any]) -> dict[str, Any]:
    planned = schedule.plan(config)
    jobs = [{"job": j.id, "cron": j.expression, "next": schedule.next_run(j, now)}
            for j in planned]
    # Feeds are fetched by the fetch job, and by every send.
    fetching = [j for j in planned if j.kind == "fetch"] or [j for j in planned if j.kind == "send"]
    next_fetch = min((t for j in fetching if (t := schedule.next_run(j, now))), default=None)
    feeds = []
    for feed in config.feeds:
        state = states.get(feed.url)
        fields = {k: v for k, v in dataclasses.asdict(state).items()} if state else {}
        not_before = _not_before(state)
        next_try = max(next_fetch, not_before) if next_fetch and not_before else next_fetch
        feeds.append({
            **{k: _MASK(v) if isinstance(v, str) else v for k, v in fields.items()},
            "url": _MASK(feed.url), "name": feed.name,
            "status": state.last_status or "never" if state else "never",
            "error": _MASK(state.last_error or "") if state else "",
            "failures": state.failures if state else 0,
            "last_fetch": state.last_fetch if state else None,
            "next_try": next_try,
        })
    return {
        "now": now,
        "timezone": config.schedule.timezone,
        "scheduler": _holder(lock_holder(config.database_path, "scheduler")),
        "running_job": _holder(lock_holder(config.database_path, "jobs")),
        "jobs": jobs,
        "feeds": feeds,
        "editions": [{"id": e.id, "created": e.created, "subject": e.subject,
                      **{c: e.counts.get(c, 0) for c in COUNTS}} for e in editions],
    }


def _not_before(state: FeedState | None) -> datetime | None:
    """A time the feed must not be fetched before (a backoff), if the store keeps one.

    Whatever FeedState offers: any time-valued field named for a next try, a retry or a
    wait (`next_try`, `retry_after`, `backoff_until`, ...).
    """
    if state is None:
        return None
    times = [v for k, v in dataclasses.asdict(state).items()
             if isinstance(v, datetime) and any(w in k for w in ("next", "retry", "until",
                                                                 "after", "backoff"))]
    return max(times, default=None)


def _holder(holder: Holder | None) -> dict[str, Any] | None:
    return None if holder is None else {"pid": holder.pid, "doing": holder.doing}


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value)


def _print(report: dict[str, Any], zone: ZoneInfo) -> None:
    def when(value: datetime | None) -> str:
        return schedule.local(value, zone) if value else "-"

    scheduler, job = report["scheduler"], report["running_job"]
    print("digest run: " + (f"running (PID {scheduler['pid']})" if scheduler
                            else "not running"))
    print("now:        " + (f"a fetch or send is running (PID {job['pid']}"
                            f"{', ' + job['doing'] if job['doing'] else ''})" if job
                            else "no fetch or send running"))
    print(f"\nSchedule ({report['timezone']}):")
    for j in report["jobs"]:
        print(f"  {j['job']:12} {j['cron']:16} next {when(j['next'])}")
    if not report["jobs"]:
        print("  no jobs: every [schedule] cron is empty")
    print("\nFeeds:")
    for f in report["feeds"]:
        status = STATUS_WORDS.get(f["status"], f["status"])
        print(f"  {f['name'][:24]:24} {status:22} last {when(f['last_fetch']):23} "
              f"next try {when(f['next_try'])}")
        if f["error"]:
            print(f"      {f['error']}")
        if f.get("disabled"):  # kept by the store when a feed answered 410 Gone
            print(f"      disabled, not fetched any more: {f['disabled']}")
        elif f["failures"]:
            print(f"      failing: {f['failures']} failures in a row; next try after "
                  f"{when(f['next_try'])}")
        if f.get("moved_to"):  # kept by the store when a feed answered 301/308
            print(f"      moved permanently to {f['moved_to']} (update config.toml)")
    print("\nEditions (latest first):")
    for e in report["editions"]:
        counts = ", ".join(f"{c} {e[c]}" for c in COUNTS)
        print(f"  {e['id']:20} {when(e['created']):22} {counts}")
        if "bounces" in e:
            print(f"      {rates_line(e['bounces'])}")
    if not report["editions"]:
        print("  none yet")
    s = report.get("signups")
    if s:
        print(f"\nSignups (last {s['days']} days): {s['signups']} requests, {s['mailed']} "
              f"confirmation emails sent, {s['confirmed']} confirmed, {s['expired']} links "
              "expired unconfirmed")
    if report["workers"]:
        print("\nWorkers (live):")
    for w in report["workers"]:
        print(f"  {w['host'][:24]:24} PID {w['pid']:<8} claimed {w['claimed']:<8} "
              f"sent {w['sent']:<8} heartbeat {when(w['heartbeat'])}")


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    add_command(commands, "status", cmd_status, options.common, options.json)
