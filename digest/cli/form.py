"""`digest form`: print the signup form to paste under a publisher's stories."""

from __future__ import annotations

import argparse

from digest.audience.signup_pages import snippet
from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import load_config


def cmd_form(args: argparse.Namespace) -> int:
    """Print an HTML signup form that posts to digest serve's /subscribe (no JavaScript)."""
    config = load_config(args.config)
    action = f"{config.newsletter.base_url.rstrip('/')}/subscribe"
    topics = () if args.no_topics else config.topics
    print(snippet(config.newsletter.name, action, topics, config.signup.consent), end="")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    form = add_command(commands, "form", cmd_form, options.common)
    form.add_argument("--no-topics", action="store_true",
                      help="leave out the topic choices (readers get every section)")
