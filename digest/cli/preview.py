"""`digest preview`: the next edition as files, nothing sent."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from digest import pipeline
from digest.cli.options import EXIT_OK, Commands, Options, add_command, now_from
from digest.config import load_config


def cmd_preview(args: argparse.Namespace) -> int:
    """Render the next edition without sending: preview.html, preview.txt, preview.eml."""
    config = load_config(args.config)
    files = pipeline.preview(config, now_from(args, config), args.out, os.environ, to=args.to)
    if not files.written:
        print(f"Next edition: {files.note}.")
        return EXIT_OK
    print(f"Next edition: {files.stories} stories.")
    for path in (files.html, files.text, files.eml):
        print(f"  {path}")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    preview = add_command(commands, "preview", cmd_preview, options.common, options.now)
    preview.add_argument("--to", metavar="ADDR", help="render as this subscriber would see it")
    preview.add_argument("--out", type=Path, default=Path("."),
                         help="folder for preview.html, .txt and .eml (default: .)")
