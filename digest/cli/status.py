"""`digest status`: feeds' last fetch and the latest editions' delivery counts."""

from __future__ import annotations

import argparse
import json

from digest.cli.options import EXIT_OK, Commands, Options, add_command
from digest.config import load_config
from digest.store import Store


def cmd_status(args: argparse.Namespace) -> int:
    """Show each feed's last fetch and the latest editions with their delivery counts."""
    config = load_config(args.config)
    with Store.open(config.database_path) as store:
        states = store.feed_states()
        editions = store.editions()
    feeds = [
        {"url": f.url, "name": f.name, "last_fetch": s.last_fetch.isoformat() if s and
         s.last_fetch else None, "status": s.last_status if s else "never",
         "error": s.last_error if s else "", "failures": s.failures if s else 0}
        for f in config.feeds for s in [states.get(f.url)]
    ]
    recent = [{"id": e.id, "created": e.created.isoformat(), "subject": e.subject, **e.counts}
              for e in editions]
    if args.json:
        print(json.dumps({"feeds": feeds, "editions": recent}))
        return EXIT_OK
    print("Feeds:")
    for f in feeds:
        error = f"  ({f['error']})" if f["error"] else ""
        print(f"  {f['name']:24} {f['status']:12} {f['last_fetch'] or '-'}{error}")
    print("Editions:")
    for e in recent:
        print(f"  {e['id']:20} {e['created']}  sent {e['sent']}, deferred {e['deferred']}, "
              f"failed {e['failed']}, unknown {e['unknown']}, pending {e['pending']}")
    if not recent:
        print("  none yet")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    add_command(commands, "status", cmd_status, options.common, options.json)
