"""`digest init`: a starter config.toml and subscriber list in a folder, and optionally a copy
of the bundled templates to edit. Never overwrites: an operator's files are not ours to replace."""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.errors import InputError

_PLACEHOLDER_FEED = "https://www.example.com/feed.xml"


def cmd_init(args: argparse.Namespace) -> int:
    """Write a starter config.toml and subscribers.csv into DIR (default: here).

    With --templates, also a templates/ folder holding a copy of the bundled email templates,
    named in the config as overrides: edit any of them, delete the ones you leave alone.
    Nothing is overwritten; run it in a new folder.
    """
    folder: Path = args.dir
    starter = resources.files("digest.cli") / "starter"
    templates = resources.files("digest.render") / "templates"
    planned = [folder / "config.toml", folder / "subscribers.csv"]
    if args.templates:
        planned += [folder / "templates" / t.name for t in templates.iterdir() if t.is_file()]
    existing = [str(p) for p in planned if p.exists()]
    if existing:
        raise InputError(f"{', '.join(existing)} already exist; digest init never overwrites, "
                         "so run it in a new folder or move those files away")
    feeds = args.feed or [_PLACEHOLDER_FEED]
    config = (starter / "config.toml").read_text(encoding="utf-8").format(
        templates='templates = "templates"                         # your copies win\n'
        if args.templates else "",
        feeds="".join(_feed_table(url) for url in feeds),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(config, encoding="utf-8")
    (folder / "subscribers.csv").write_text(
        (starter / "subscribers.csv").read_text(encoding="utf-8"), encoding="utf-8")
    if args.templates:
        (folder / "templates").mkdir(exist_ok=True)
        for t in templates.iterdir():
            if t.is_file():
                (folder / "templates" / t.name).write_text(t.read_text(encoding="utf-8"),
                                                           encoding="utf-8")
    print(f"Wrote {', '.join(str(p) for p in planned[:2])}"
          + (f" and {folder / 'templates'}/" if args.templates else "")
          + (f"; put your feed's URL in place of {_PLACEHOLDER_FEED}" if not args.feed else "")
          + "; then `digest sink` in one terminal and `DIGEST_SECRET=... digest preview` here.")
    return EXIT_OK


def _feed_table(url: str) -> str:
    # json.dumps writes a valid TOML basic string for any URL (quotes and backslashes escaped).
    note = "  # change: your feed (RSS, Atom or JSON Feed)" if url == _PLACEHOLDER_FEED else ""
    return f'\n[[feeds]]\nurl = {json.dumps(url)}{note}\nsection = "News"\n'


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    init = add_command(commands, "init", cmd_init, options.common)
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="the folder to write into (default: here)")
    init.add_argument("--templates", action="store_true",
                      help="also copy the bundled templates into DIR/templates to edit")
    init.add_argument("--feed", action="append", metavar="URL",
                      help="a feed to start with (repeat for more; default: a placeholder)")

