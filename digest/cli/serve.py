"""`digest serve`: the HTTP endpoints behind the links in every email."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from digest import pipeline
from digest.audience import web
from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import load_config
from digest.pipeline.serve import web_app
from digest.store import Store


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve unsubscribe (RFC 8058 one-click), preferences, the archive and the signup form
    (/subscribe, with double opt-in) until Ctrl-C."""
    config = load_config(args.config)
    key = pipeline.token_key(config, os.environ)  # no key, no server: links could not verify
    with Store.open(config.database_path):
        pass  # create or migrate now, so a bad database fails here and not on a request
    host = args.host or config.web.host
    port = args.port or config.web.port
    app = web_app(config, os.environ, lambda: datetime.now(UTC), key)
    print(f"Serving {config.newsletter.name} on http://{host}:{port}/ (links in the email "
          f"use {config.newsletter.base_url}); Ctrl-C stops", flush=True)
    web.serve(app, host, port, verbose=args.verbose > 0)
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    serve = add_command(commands, "serve", cmd_serve, options.common)
    serve.add_argument("--port", type=int, help="port (default: [web] port)")
    serve.add_argument("--host", help="address to bind (default: [web] host)")
