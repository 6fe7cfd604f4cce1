"""`digest fetch`: fetch every feed and store the new stories."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime

from digest import pipeline
from digest.cli.options import EXIT_FAILURES, EXIT_OK, Commands, Options, add_command
from digest.config import load_config
from digest.logs import Redactor
from digest.store import Store
from digest.store.lock import hold_lock


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch every feed and store the new stories."""
    config = load_config(args.config)
    now = datetime.now(UTC)
    with hold_lock(config.database_path, "digest fetch"), Store.open(config.database_path) as store:
        summary = pipeline.fetch(config, store, now)
    mask = Redactor(())  # a password in a feed's URL is printed as the logs print it: ***
    if args.json:
        print(mask(json.dumps({"feeds": [asdict(f) for f in summary.feeds],
                               "new_stories": summary.new_stories})))
    else:
        statuses = [f.status for f in summary.feeds]
        skipped = f", {summary.skipped} skipped" if summary.skipped else ""
        print(f"{statuses.count('ok')} ok, {statuses.count('not_modified')} not modified, "
              f"{statuses.count('failed')} failed{skipped}; {summary.new_stories} new stories.")
        for f in summary.feeds:
            if f.error:
                print(mask(f"  {f.status}: {f.name} ({f.url}): {f.error}"))
    return EXIT_FAILURES if summary.failed else EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    add_command(commands, "fetch", cmd_fetch, options.common, options.json)
