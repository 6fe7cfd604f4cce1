"""`digest worker` and `digest migrate`: send from a shared PostgreSQL state database on any
number of machines, and move a SQLite state database there."""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading

from digest import pipeline
from digest.cli.options import EXIT_FAILURES, EXIT_OK, Commands, Options, add_command
from digest.cli.send import _log_lines, _stop_on_signals
from digest.config import load_config
from digest.deliver.dispatch import Controls
from digest.errors import InputError
from digest.model import DatabaseUrl, is_database_url
from digest.store.copy import copy_to_postgres

log = logging.getLogger("digest.worker")


def cmd_worker(args: argparse.Namespace) -> int:
    """Send pending deliveries of the editions being sent, as one of any number of workers.

    Needs a PostgreSQL [state] database shared by every machine. Claims messages in batches
    under a lease ([smtp] lease_seconds): a worker that dies leaves its messages to the others
    when the lease runs out. SIGTERM or Ctrl-C stops gracefully (the messages in flight finish
    and are recorded; the rest go back to the others). --once returns when nothing is left.
    """
    config = load_config(args.config)
    if not isinstance(config.database_path, DatabaseUrl):
        raise InputError(f"{config.path}: [state] database is a SQLite file; workers share a "
                         "PostgreSQL database: set it to postgresql://... (digest migrate "
                         "--to URL copies this one there)")
    stop = threading.Event()
    with _stop_on_signals(stop):
        progress = pipeline.work(config, os.environ,
                                 Controls(stop=stop, report=_log_lines()), once=args.once)
    counts = {k: getattr(progress, k) for k in ("sent", "deferred", "failed", "unknown")}
    if args.json:
        print(json.dumps({**counts, "stopped": progress.stopped}))
    else:
        print("Worker: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ".")
    return EXIT_OK if not (progress.failed or progress.error) else EXIT_FAILURES


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the SQLite state database of the config into an empty PostgreSQL database.

    Then set [state] database to the URL (the password in the variable [state] password_env
    names, default DIGEST_DB_PASSWORD). The SQLite file is left as it was.
    """
    config = load_config(args.config)
    if not is_database_url(args.to):
        raise InputError(f"--to {args.to!r}: give a postgresql://user@host/database URL")
    source = config.database_path
    if isinstance(source, DatabaseUrl):
        raise InputError(f"{config.path}: [state] database is already PostgreSQL "
                         f"({source.url}); migrate copies from a SQLite file")
    copied = copy_to_postgres(source, DatabaseUrl(args.to, config.state.password_env))
    if args.json:
        print(json.dumps(copied))
    else:
        print(f"Copied {sum(copied.values())} rows from {source} to {args.to}: "
              + ", ".join(f"{t} {n}" for t, n in copied.items() if n) + ".")
        print(f"Now set [state] database = \"{args.to}\" in {config.path}.")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    worker = add_command(commands, "worker", cmd_worker, options.common, options.json)
    worker.add_argument("--once", action="store_true",
                        help="return when nothing is left to send, instead of waiting for more")
    migrate = add_command(commands, "migrate", cmd_migrate, options.common, options.json)
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="the empty PostgreSQL database: postgresql://user@host/db")
