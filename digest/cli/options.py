"""What every command shares: the option groups, the clock option, the subparser type."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.config import Config
from digest.errors import InputError

EXIT_OK, EXIT_FAILURES, EXIT_BAD_INPUT = 0, 1, 2  # 3 (lock held) is LockHeld.exit_code

Handler = Callable[[argparse.Namespace], int]
Commands = Any  # argparse's _SubParsersAction, which typeshed keeps private


@dataclass(frozen=True)
class Options:
    """Parent parsers to combine: every command takes `common`; some take the others."""

    common: argparse.ArgumentParser
    json: argparse.ArgumentParser
    now: argparse.ArgumentParser


def make_options() -> Options:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=Path("config.toml"),
                        help="the config file (default: ./config.toml)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    common.add_argument("-q", "--quiet", action="count", default=0, help="log only errors")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="log lines for people (text, the default) or machines (json)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON object")
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument("--now", metavar="ISO-8601",
                       help="build the edition as of this moment (naive = config time zone)")
    return Options(common, as_json, as_of)


def add_command(
    commands: Commands, name: str, handler: Handler, *parents: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """A subcommand whose help is its handler's docstring."""
    doc = (handler.__doc__ or "").strip()
    summary = " ".join(doc.split("\n\n")[0].split())  # the first paragraph, unwrapped
    sub: argparse.ArgumentParser = commands.add_parser(
        name, help=summary or None, description=doc, parents=list(parents)
    )
    sub.set_defaults(handler=handler)
    return sub


def now_from(args: argparse.Namespace, config: Config) -> datetime:
    if not getattr(args, "now", None):
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(args.now)
    except ValueError:
        raise InputError(f"--now {args.now!r} is not an ISO-8601 time such as "
                         "2023-11-22T07:00 or 2023-11-22T12:00:00+00:00") from None
    if when.tzinfo is None:  # a naive time means the newsletter's own time zone
        when = when.replace(tzinfo=ZoneInfo(config.schedule.timezone))
    return when.astimezone(UTC)

