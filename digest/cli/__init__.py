"""The command line: parse argv, call the pipeline, print the result. No logic of its own.

One module per group of commands, each with a `register(commands, options)`. Errors that
users can cause are caught here, once: bad config or input → exit 2, the lock held by another
run → exit 3, any other DigestError → exit 1; a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from digest import __version__, logs
from digest.cli import (
    bounces,
    fetch,
    form,
    init,
    preview,
    rank,
    run,
    send,
    serve,
    sink,
    status,
    subscribers,
    worker,
)
from digest.cli.options import EXIT_FAILURES, EXIT_OK, Handler, make_options
from digest.config import secret_env_names
from digest.errors import DigestError

MODULES = (  # in the order `digest --help` lists them
    init,
    send,
    preview,
    fetch,
    rank,
    status,
    sink,
    serve,
    subscribers,
    bounces,
    form,
    run,
    worker,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one digest command; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _logging(args)
    try:
        handler: Handler = args.handler
        return handler(args)
    except DigestError as e:
        if args.debug:
            raise
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_FAILURES
    except BrokenPipeError:
        # The reader went away (`digest subscribers list | head -1`): stop quietly, as Unix
        # tools do; stdout goes to /dev/null so the interpreter's last flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digest", description="A newsletter of the day's featured stories.",
        epilog="Exit codes: 0 done (or nothing to send), 1 finished with failures, "
               "2 bad config or input, 3 another run holds the lock.",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    options = make_options()
    for module in MODULES:
        module.register(commands, options)
    return parser


def _logging(args: argparse.Namespace) -> None:
    # A command may log more by default (`digest run` is a service: its log is its output).
    base: int = getattr(args, "log_level", logging.WARNING)
    level = base - 10 * args.verbose + 10 * args.quiet
    secrets = logs.secret_values(os.environ, secret_env_names(args.config))
    logs.configure(max(level, logging.DEBUG), args.log_format, secrets, sys.stderr)
