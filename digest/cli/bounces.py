"""`digest bounces serve` and `digest bounces scan PATH`: take in what comes back from an
edition (bounces, complaints) and suppress the addresses the policy names."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from digest.cli.options import EXIT_FAILURES, EXIT_OK, Commands, Options, add_command
from digest.config import load_config
from digest.pipeline.bounces import scan_bounces, serve_bounces


def _clock() -> datetime:
    return datetime.now(UTC)


def cmd_scan(args: argparse.Namespace) -> int:
    """Process the bounces and complaints in a Maildir (or an mbox file), each message once.

    In a Maildir, processed messages move to its `processed` folder and those a person should
    read (unrecognised, for an unknown delivery, with a forged token) to `unrecognised`.
    Exit 1 when a message could not be processed (it is kept, and tried again next time).
    """
    config = load_config(args.config)
    summary = scan_bounces(config, args.path, os.environ, _clock)
    if args.json:
        print(json.dumps({
            "path": str(args.path), "messages": summary.messages,
            "counts": dict(summary.counts), "suppressed": summary.suppressed,
            "kept": summary.kept, "failed": summary.failed,
            "seconds": round(summary.seconds, 3),
        }))
    else:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items())) or "none"
        print(f"{summary.messages} messages in {args.path}: {counts}.")
        for email in summary.suppressed:
            print(f"  suppressed {email}")
        if summary.kept:
            print(f"  {len(summary.kept)} kept for a person in the 'unrecognised' folder")
        for name in summary.failed:
            print(f"  not processed (tried again next scan): {name}", file=sys.stderr)
    return EXIT_FAILURES if summary.failed else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Receive bounces and complaints over SMTP for the VERP addresses, until SIGTERM.

    Accepts mail only for bounces+TOKEN@ addresses with a token digest signed (550 for any
    other recipient: no open relay), stores each message durably before answering 250, and
    processes it at once. Meant as the MX of the bounce domain, or a relay's bounce
    destination.
    """
    config = load_config(args.config)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def ready(port: int) -> None:
        where = {"host": args.host, "port": port, "address": config.bounces.address}
        print(json.dumps(where) if args.json else
              f"Bounce server on {args.host}:{port} for {config.bounces.address} "
              "(SIGTERM or Ctrl-C stops)", flush=True)

    try:
        serve_bounces(config, args.host, args.port, os.environ, _clock, stop, ready)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if not args.json:
        print("Stopped.", flush=True)
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    group = commands.add_parser("bounces", help="receive bounces and complaints (VERP)",
                                description=__doc__)
    sub = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    scan = add_command(sub, "scan", cmd_scan, options.common, options.json)
    scan.add_argument("path", type=Path, help="a Maildir folder or an mbox file")
    serve = add_command(sub, "serve", cmd_serve, options.common, options.json)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on "
                       "(default: 127.0.0.1; 0.0.0.0 to be an MX)")
    serve.add_argument("--port", type=int, default=2525, help="SMTP port (default: 2525)")
