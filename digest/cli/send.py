"""`digest send` and `digest demo`: build an edition and deliver it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from digest import pipeline
from digest.cli.options import (
    EXIT_FAILURES,
    EXIT_OK,
    Commands,
    Options,
    add_command,
    now_from,
)
from digest.config import load_config
from digest.deliver.compliance import send_problems
from digest.deliver.delivery import Progress
from digest.deliver.dispatch import Controls
from digest.errors import ConfigError

log = logging.getLogger("digest.send")
COUNTS = ("sent", "deferred", "failed", "unknown", "skipped")


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole pipeline on the config's feeds into a built-in SMTP sink.

    The sample config's feeds are bundled files (no network); a config that names http(s)
    feeds fetches them first.
    """
    config = load_config(args.config)
    remote = sum(f.url.startswith(("http://", "https://")) for f in config.feeds)
    if remote:  # a fetch over the network can take a while: say so before it starts
        print(f"Fetching {len(config.feeds)} feeds named by {config.path} ({remote} over the "
              f"network, up to {config.fetch.timeout_seconds:g} s each)...", file=sys.stderr,
              flush=True)
    report = _bar(sys.stderr) if sys.stderr.isatty() and not args.quiet else _log_lines()
    result = pipeline.demo(config, args.dir, os.environ, Controls(report=report))
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress bar's line
    summary = result.summary
    print(f"Delivered {result.delivered} messages to {result.subscribers} subscribers "
          f"(edition {summary.edition}; the ledger shows {summary.count('sent')} sent in all).")
    if summary.note:
        print(summary.note)
    print(f"Maildir:  {result.maildir}   (read it with: mutt -f {result.maildir})")
    print(f"Preview:  {result.preview}")
    return EXIT_OK if result.summary.ok else EXIT_FAILURES


def cmd_send(args: argparse.Namespace) -> int:
    """Fetch, rank, render and send one edition to every active subscriber.

    SIGTERM or Ctrl-C stops gracefully: the messages in flight finish, the ledger is
    committed, the exit code is 1 and the summary says how many are left for the next run.
    """
    config = load_config(args.config)
    problems = send_problems(config.newsletter)
    for problem in problems:
        log.warning("%s", problem)
    if problems and args.strict:
        raise ConfigError(f"{config.path}: not sending with --strict: "
                          f"{len(problems)} problem(s) above; fix them or drop --strict")
    stop = threading.Event()
    report = _bar(sys.stderr) if sys.stderr.isatty() and not args.quiet else _log_lines()
    with _stop_on_signals(stop):
        summary = pipeline.send(config, now_from(args, config), os.environ,
                                edition_id=args.edition, dry_run=args.dry_run, to=args.to,
                                controls=Controls(stop=stop, report=report))
    if sys.stderr.isatty() and summary.progress:
        print(file=sys.stderr)  # end the progress bar's line
    counts = {s: summary.count(s) for s in COUNTS}
    weekly = summary.weekly
    if args.json:
        out: dict[str, object] = {"edition": summary.edition, **counts, "left": summary.left,
                                  "note": _note(summary), "bad_rows": summary.bad_rows}
        if weekly is not None:  # sent in the same run
            out["weekly"] = {"edition": weekly.edition, "note": _note(weekly),
                             "left": weekly.left, **{s: weekly.count(s) for s in counts}}
        out["retried"] = [{"edition": r.edition, "left": r.left,
                           **{s: r.count(s) for s in counts}} for r in summary.retried]
        print(json.dumps(out))
    else:
        for retried in summary.retried:  # earlier editions' deferrals, retried first
            detail = ", ".join(f"{retried.count(s)} {s}" for s in counts if retried.count(s))
            print(f"Edition {retried.edition} (deferrals retried): {detail}."
                  + (f" {retried.left} still deferred." if retried.left else ""))
        if summary.bad_rows:
            rows = "row was" if summary.bad_rows == 1 else "rows were"
            print(f"{summary.bad_rows} subscriber {rows} skipped (see the warnings above); "
                  "fix them in the list for the next run.")
        for one in (summary, weekly):
            if one is None:
                continue
            note = _note(one)
            print(f"Edition {one.edition}: {_counts(one, bool(args.to))}."
                  + (f" {note}" if note else ""))
    return EXIT_OK if summary.ok else EXIT_FAILURES


def _counts(summary: pipeline.SendSummary, test: bool) -> str:
    """This run's counts first, then the edition's totals in the ledger (a test send to one
    address records nothing: its counts are all there is)."""
    total = ", ".join(f"{summary.count(s)} {s}" for s in COUNTS if summary.count(s))
    progress = summary.progress
    if progress is None or test:  # nothing was sent: a dry run, or no edition
        return total or "nothing to send"
    now = ", ".join(f"{n} {s}" for s, n in (("sent", progress.sent),
                                            ("deferred", progress.deferred),
                                            ("failed", progress.failed),
                                            ("unknown", progress.unknown)) if n)
    return f"{now or 'nothing to send'} now; {total or 'nothing'} in all for this edition"


def _note(summary: pipeline.SendSummary) -> str:
    """What the operator should know beyond the counts: why it stopped, what is left."""
    parts = [summary.note] if summary.note else []
    progress = summary.progress
    if progress and progress.stopped:
        parts.append(f"Stopped: {summary.left} left; run the same command again to continue.")
    elif progress and progress.error:
        parts.append(f"Stopped early: {progress.error}. {summary.left} left.")
    elif summary.left:
        when = f" (next due {summary.next_try:%Y-%m-%d %H:%M} UTC)" if summary.next_try else ""
        parts.append(f"{summary.left} left for the next run{when}.")
    return " ".join(parts)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and the first Ctrl-C set `stop`; a second Ctrl-C interrupts at once."""

    def handle(number: int, frame: FrameType | None) -> None:
        if stop.is_set() and number == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        log.warning("stopping: finishing the messages in flight (Ctrl-C again to abort)")

    previous = {n: signal.signal(n, handle) for n in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _bar(stream: TextIO) -> Callable[[Progress], None]:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""
    last = [0.0]

    def draw(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.1 and p.done < p.total:
            return
        last[0] = now
        width = 30
        filled = int(width * p.done / p.total) if p.total else width
        eta = f"{p.eta_seconds:.0f}s left" if p.eta_seconds is not None else ""
        stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total} "
            f"sent {p.sent} deferred {p.deferred + p.retrying} failed {p.failed} "
            f"{p.rate:.0f} msg/s {eta}\x1b[K"
        )
        stream.flush()

    return draw


def _log_lines(every: float = 10.0) -> Callable[[Progress], None]:
    """Plain log lines when not on a terminal: one every `every` seconds."""
    last = [time.monotonic()]

    def line(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        log.info("%d/%d: %d sent, %d deferred, %d failed, %.0f msg/s", p.done, p.total,
                 p.sent, p.deferred + p.retrying, p.failed, p.rate)

    return line


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    demo = add_command(commands, "demo", cmd_demo, options.common)
    demo.add_argument("--dir", type=Path, default=Path("demo"),
                      help="where the demo writes everything (default: ./demo)")
    send = add_command(commands, "send", cmd_send, options.common, options.json, options.now)
    send.add_argument("--dry-run", action="store_true", help="build every message, send none")
    send.add_argument("--to", metavar="ADDR", help="send only to ADDR, as a test; records nothing")
    send.add_argument("--edition", metavar="ID", help="continue (or start) this edition")
    send.add_argument("--strict", action="store_true",
                      help="refuse to send when a compliance check warns (http base_url, no "
                           "postal address)")
