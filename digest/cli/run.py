"""`digest run`: stay in the foreground and run fetches and sends on the configured crons."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from datetime import UTC, datetime, time
from types import FrameType
from zoneinfo import ZoneInfo

from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import Config, load_config
from digest.errors import InputError
from digest.service import schedule

log = logging.getLogger(__name__)


def cmd_run(args: argparse.Namespace) -> int:
    """Run fetches and sends on the [schedule] crons until SIGTERM or Ctrl-C.

    Prints each job's next time at start. On SIGTERM the running job finishes (its
    deliveries are in the ledger) and digest exits 0.
    """
    config = load_config(args.config)
    send_at = send_at_from(args.send_at, config, datetime.now(UTC)) if args.send_at else None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("still finishing the running job; its deliveries are being recorded")
        stop.set()

    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, on_signal) for s in handled}
    try:
        schedule.run(config, os.environ, lambda: datetime.now(UTC), stop, sys.stdout,
                     send_at=send_at)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print("Stopped.", flush=True)
    return EXIT_OK


def send_at_from(text: str, config: Config, now: datetime) -> datetime:
    """`--send-at`: "now", an ISO-8601 time, or a time of day (today, `now`'s day, in the
    newsletter's time zone); a time without a zone is in the newsletter's time zone.

    Raises:
        InputError: none of those.
    """
    zone = ZoneInfo(config.schedule.timezone)
    if text == "now":
        return now
    try:
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
        if clock:
            at = time(int(clock[1]), int(clock[2]), int(clock[3] or 0))
            return datetime.combine(now.astimezone(zone).date(), at, zone).astimezone(UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--send-at {text!r} is not 'now', a time of day such as 10:52, or "
                         "an ISO-8601 time such as 2026-11-26T07:00") from None
    if when.tzinfo is None:  # a naive time is in the newsletter's own time zone
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    run = add_command(commands, "run", cmd_run, options.common)
    run.add_argument("--send-at", metavar="TIME",
                     help="also send the daily edition once at TIME ('now', a time of day such "
                          "as 10:52 for today, or ISO-8601; without a zone: [schedule] "
                          "timezone): to check a deployment, or catch up a slot")
    run.set_defaults(log_level=logging.INFO)  # a service: its log is its output
