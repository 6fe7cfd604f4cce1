"""`digest sink`: a local SMTP server that keeps every message in a Maildir."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.sink import Received, running_sink


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


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    sink = add_command(commands, "sink", cmd_sink, options.common)
    sink.add_argument("--port", type=int, default=1025, help="SMTP port (default: 1025)")
    sink.add_argument("--maildir", type=Path, default=Path("sink-maildir"),
                      help="the Maildir to store messages in (default: ./sink-maildir)")
