"""The command line: parse argv, call the pipeline, print the result. No logic of its own.

Errors that users can cause are caught here, once: bad config or input → exit 2, the lock
held by another run → exit 3, any other DigestError → exit 1; a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import __version__, pipeline
from digest.config import Config, load_config
from digest.errors import DigestError, InputError
from digest.sink import Received, running_sink
from digest.store import Store

log = logging.getLogger("digest")

EXIT_OK, EXIT_FAILURES, EXIT_BAD_INPUT, EXIT_LOCKED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run one digest command; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _logging(args)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except DigestError as e:
        if args.debug:
            raise
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_FAILURES


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole pipeline on the sample feeds into a built-in SMTP sink (no network)."""
    config = load_config(args.config)
    result = pipeline.demo(config, args.dir, os.environ)
    summary = result.summary
    print(f"Delivered {result.delivered} messages to {result.subscribers} subscribers "
          f"(edition {summary.edition}; the ledger shows {summary.count('sent')} sent in all).")
    if summary.note:
        print(summary.note)
    print(f"Maildir:  {result.maildir}   (read it with: mutt -f {result.maildir})")
    print(f"Preview:  {result.preview}")
    return EXIT_OK if result.summary.ok else EXIT_FAILURES


def cmd_send(args: argparse.Namespace) -> int:
    """Fetch, rank, render and send one edition to every active subscriber."""
    config = load_config(args.config)
    summary = pipeline.send(config, _now(args, config), os.environ, edition_id=args.edition,
                            dry_run=args.dry_run, to=args.to)
    counts = {s: summary.count(s) for s in ("sent", "deferred", "failed", "unknown", "skipped")}
    if args.json:
        print(json.dumps({"edition": summary.edition, **counts, "note": summary.note}))
    else:
        detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to send"
        print(f"Edition {summary.edition}: {detail}." + (f" {summary.note}" if summary.note
                                                         else ""))
    return EXIT_OK if summary.ok else EXIT_FAILURES


def cmd_preview(args: argparse.Namespace) -> int:
    """Render the next edition without sending: preview.html, preview.txt, preview.eml."""
    config = load_config(args.config)
    files = pipeline.preview(config, _now(args, config), args.out, os.environ, to=args.to)
    print(f"Next edition: {files.stories} stories.")
    for path in (files.html, files.text, files.eml):
        print(f"  {path}")
    return EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch every feed and store the new stories."""
    config = load_config(args.config)
    now = datetime.now(UTC)
    with Store.open(config.database_path) as store:
        summary = pipeline.fetch(config, store, now)
    if args.json:
        print(json.dumps({"feeds": [asdict(f) for f in summary.feeds],
                          "new_stories": summary.new_stories}))
    else:
        statuses = [f.status for f in summary.feeds]
        print(f"{statuses.count('ok')} ok, {statuses.count('not_modified')} not modified, "
              f"{statuses.count('failed')} failed; {summary.new_stories} new stories.")
        for f in summary.feeds:
            if f.error:
                print(f"  {f.name} ({f.url}): {f.error}")
    return EXIT_FAILURES if summary.failed else EXIT_OK


def cmd_rank(args: argparse.Namespace) -> int:
    """Show the next edition's stories, section by section, and why each ranks there."""
    config = load_config(args.config)
    now = _now(args, config)
    with Store.open(config.database_path) as store:
        edition = pipeline.build_edition(config, store, now,
                                         pipeline.edition_id_for(config, now))
    if args.json:
        print(json.dumps({"edition": edition.id, "sections": [
            {"name": s.name, "clusters": [
                {"score": c.score, "components": dict(c.components), "stories": [
                    {"title": st.title, "url": st.url, "source": st.source,
                     "published": st.published.isoformat()} for st in c.stories]}
                for c in s.clusters]}
            for s in edition.sections]}))
        return EXIT_OK
    for section in edition.sections:
        print(f"\n{section.name}")
        for c in section.clusters:
            hours = (now - c.lead.published).total_seconds() / 3600
            print(f"  {c.score:7.3f}  {c.lead.title[:70]:70}  {c.lead.source}  {hours:.0f} h  "
                  f"{len(c.stories)} src")
            if args.explain:
                print("           " + ", ".join(f"{k}={v:g}" for k, v in c.components.items()))
    if not edition.sections:
        print("No unsent stories in the lookback window.")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Show each feed's last fetch and the latest editions with their delivery counts."""
    config = load_config(args.config)
    with Store.open(config.database_path) as store:
        states = store.feed_states()
        editions = store.editions()
    feeds = [
        {"url": f.url, "name": f.name, "last_fetch": s.last_fetch.isoformat() if s and
         s.last_fetch else None, "status": s.last_status if s else "never",
         "error": s.last_error if s else "", "failures": s.failures if s else 0}
        for f in config.feeds for s in [states.get(f.url)]
    ]
    recent = [{"id": e.id, "created": e.created.isoformat(), "subject": e.subject, **e.counts}
              for e in editions]
    if args.json:
        print(json.dumps({"feeds": feeds, "editions": recent}))
        return EXIT_OK
    print("Feeds:")
    for f in feeds:
        error = f"  ({f['error']})" if f["error"] else ""
        print(f"  {f['name']:24} {f['status']:12} {f['last_fetch'] or '-'}{error}")
    print("Editions:")
    for e in recent:
        print(f"  {e['id']:20} {e['created']}  sent {e['sent']}, deferred {e['deferred']}, "
              f"failed {e['failed']}, unknown {e['unknown']}, pending {e['pending']}")
    if not recent:
        print("  none yet")
    return EXIT_OK


def cmd_sink(args: argparse.Namespace) -> int:
    """Run a local SMTP server that keeps every message in a Maildir, until Ctrl-C."""

    def report(received: Received) -> None:
        print(received.line(), flush=True)

    with running_sink(args.maildir, host="127.0.0.1", port=args.port, report=report):
        print(f"SMTP sink on 127.0.0.1:{args.port}, storing mail in {args.maildir.resolve()} "
              "(Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopped.")
    return EXIT_OK


def _now(args: argparse.Namespace, config: Config) -> datetime:
    if not getattr(args, "now", None):
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(args.now)
    except ValueError:
        raise InputError(f"--now {args.now!r} is not an ISO-8601 time such as "
                         "2023-11-22T07:00 or 2023-11-22T12:00:00+00:00") from None
    if when.tzinfo is None:  # a naive time means the newsletter's own time zone
        when = when.replace(tzinfo=ZoneInfo(config.schedule.timezone))
    return when.astimezone(UTC)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=Path("config.toml"),
                        help="the config file (default: ./config.toml)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    common.add_argument("-q", "--quiet", action="count", default=0, help="log only errors")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON object")
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument("--now", metavar="ISO-8601",
                       help="build the edition as of this moment (naive = config time zone)")

    parser = argparse.ArgumentParser(
        prog="digest", description="A newsletter of the day's featured stories.",
        epilog="Exit codes: 0 done (or nothing to send), 1 finished with failures, "
               "2 bad config or input, 3 another run holds the lock.",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int],
                *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        doc = (handler.__doc__ or "").strip()
        sub = commands.add_parser(name, help=doc, description=doc, parents=[common, *parents])
        sub.set_defaults(handler=handler)
        return sub

    demo = command("demo", cmd_demo)
    demo.add_argument("--dir", type=Path, default=Path("demo"),
                      help="where the demo writes everything (default: ./demo)")
    send = command("send", cmd_send, as_json, as_of)
    send.add_argument("--dry-run", action="store_true", help="build every message, send none")
    send.add_argument("--to", metavar="ADDR", help="send only to ADDR, as a test; records nothing")
    send.add_argument("--edition", metavar="ID", help="continue (or start) this edition")
    preview = command("preview", cmd_preview, as_of)
    preview.add_argument("--to", metavar="ADDR", help="render as this subscriber would see it")
    preview.add_argument("--out", type=Path, default=Path("."),
                         help="folder for preview.html, .txt and .eml (default: .)")
    command("fetch", cmd_fetch, as_json)
    rank = command("rank", cmd_rank, as_json, as_of)
    rank.add_argument("--explain", action="store_true", help="show each score component")
    command("status", cmd_status, as_json)
    sink = command("sink", cmd_sink)
    sink.add_argument("--port", type=int, default=1025, help="SMTP port (default: 1025)")
    sink.add_argument("--maildir", type=Path, default=Path("sink-maildir"),
                      help="the Maildir to store messages in (default: ./sink-maildir)")
    return parser


def _logging(args: argparse.Namespace) -> None:
    level = logging.WARNING - 10 * args.verbose + 10 * args.quiet
    logging.basicConfig(level=max(level, logging.DEBUG), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
