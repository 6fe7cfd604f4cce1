"""`digest sink`: a local SMTP server that keeps every message in a Maildir (and, with --web,
a page on 127.0.0.1 to look at what it caught)."""

from __future__ import annotations

import argparse
import shutil
import threading
from pathlib import Path

from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import load_config
from digest.sink.server import Received, running_sink

DEFAULT_PORT = 1025


def cmd_sink(args: argparse.Namespace) -> int:
    """Run a local SMTP server that keeps every message in a Maildir, until Ctrl-C.

    With --web, also serve a page on 127.0.0.1 that lists the captured messages and shows each
    one: its HTML at phone and desktop widths, text part, headers, source and checks.
    """

    def report(received: Received) -> None:
        print(received.line(), flush=True)

    args.port = args.port or _config_port(args.config)

    sock = None
    if args.web:
        # Imported here: the web stack is only needed with --web.
        from digest.sink.web import bind
        sock = bind(args.web_port)  # before the SMTP side starts: a taken port fails fast
    with running_sink(args.maildir, host="127.0.0.1", port=args.port, report=report):
        print(f"SMTP sink on 127.0.0.1:{args.port}, storing mail in {args.maildir.resolve()} "
              "(Ctrl-C stops)", flush=True)
        try:
            if sock is None:
                threading.Event().wait()
            else:
                from digest.sink.web import WebSettings, create_app, serve_web
                app = create_app(WebSettings(maildir=args.maildir, smtp_port=args.port,
                                             spamassassin=shutil.which("spamassassin")))
                print(f"Web view on http://127.0.0.1:{args.web_port}/", flush=True)
                serve_web(app, sock)
            print("Stopped.")
        except KeyboardInterrupt:
            print("Stopped.")
        finally:
            if sock is not None:
                sock.close()
    return EXIT_OK


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")


def _config_port(path: Path) -> int:
    """Where `digest send` will deliver: the config's `smtp.port` when its host is this
    machine; 1025 without a config, or when the config's server is elsewhere.

    Raises:
        ConfigError: the config file exists but is not valid.
    """
    if not path.exists():
        return DEFAULT_PORT
    config = load_config(path)
    return config.smtp.port if config.smtp.host.strip().lower() in LOCAL_HOSTS else DEFAULT_PORT


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    sink = add_command(commands, "sink", cmd_sink, options.common)
    sink.add_argument("--port", type=int, default=0,
                      help="SMTP port (default: the config's smtp.port when smtp.host is this "
                           f"machine, else {DEFAULT_PORT})")
    sink.add_argument("--maildir", type=Path, default=Path("sink-maildir"),
                      help="the Maildir to store messages in (default: ./sink-maildir)")
    sink.add_argument("--web", action="store_true",
                      help="also serve a web view of the captured mail on 127.0.0.1")
    sink.add_argument("--web-port", type=int, default=8025,
                      help="the web view's port, with --web (default: 8025)")
