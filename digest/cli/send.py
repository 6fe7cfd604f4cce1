"""`digest send` and `digest demo`: build an edition and deliver it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

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
    summary = pipeline.send(config, now_from(args, config), os.environ, edition_id=args.edition,
                            dry_run=args.dry_run, to=args.to)
    counts = {s: summary.count(s) for s in ("sent", "deferred", "failed", "unknown", "skipped")}
    weekly = summary.weekly
    if args.json:
        out: dict[str, object] = {"edition": summary.edition, **counts, "note": summary.note}
        if weekly is not None:  # sent in the same run (issue 8)
            out["weekly"] = {"edition": weekly.edition, "note": weekly.note,
                             **{s: weekly.count(s) for s in counts}}
        print(json.dumps(out))
    else:
        detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to send"
        print(f"Edition {summary.edition}: {detail}." + (f" {summary.note}" if summary.note
                                                         else ""))
        if weekly is not None:
            detail = ", ".join(f"{weekly.count(s)} {s}" for s in counts if weekly.count(s))
            print(f"Edition {weekly.edition}: {detail or 'nothing to send'}."
                  + (f" {weekly.note}" if weekly.note else ""))
    return EXIT_OK if summary.ok else EXIT_FAILURES


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    demo = add_command(commands, "demo", cmd_demo, options.common)
    demo.add_argument("--dir", type=Path, default=Path("demo"),
                      help="where the demo writes everything (default: ./demo)")
    send = add_command(commands, "send", cmd_send, options.common, options.json, options.now)
    send.add_argument("--dry-run", action="store_true", help="build every message, send none")
    send.add_argument("--to", metavar="ADDR", help="send only to ADDR, as a test; records nothing")
    send.add_argument("--edition", metavar="ID", help="continue (or start) this edition")
