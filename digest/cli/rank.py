"""`digest rank`: the next edition, and why each story ranks where it does."""

from __future__ import annotations

import argparse
import json

from digest import pipeline
from digest.cli.options import EXIT_OK, Commands, Options, add_command, now_from
from digest.config import load_config
from digest.store import Store


def cmd_rank(args: argparse.Namespace) -> int:
    """Show the next edition's stories, section by section, and why each ranks there."""
    config = load_config(args.config)
    now = now_from(args, config)
    with Store.open(config.database_path) as store:
        edition = pipeline.build_edition(config, store, now,
                                         pipeline.edition_id_for(config, now))
    if args.json:
        print(json.dumps({"edition": edition.id, "sections": [
            {"name": s.name, "clusters": [
                {"score": c.score, "components": dict(c.components), "stories": [
                    {"title": st.title, "url": st.url, "source": st.source,
                     "published": st.published.isoformat()} for st in c.stories]}
                for c in s.clusters]}
            for s in edition.sections]}))
        return EXIT_OK
    for section in edition.sections:
        print(f"\n{section.name}")
        for c in section.clusters:
            hours = (now - c.lead.published).total_seconds() / 3600
            print(f"  {c.score:7.3f}  {c.lead.title[:70]:70}  {c.lead.source}  {hours:.0f} h  "
                  f"{len(c.stories)} src")
            if args.explain:
                print("           " + ", ".join(f"{k}={v:g}" for k, v in c.components.items()))
    if not edition.sections:
        print("No unsent stories in the lookback window.")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    rank = add_command(commands, "rank", cmd_rank, options.common, options.json, options.now)
    rank.add_argument("--explain", action="store_true", help="show each score component")
