"""`digest rank`: the next edition as a table, and why each story ranks where it does."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from digest import pipeline
from digest.cli.options import EXIT_OK, Commands, Options, add_command, now_from
from digest.config import load_config
from digest.model import Cluster, Edition
from digest.store import Store

TITLE_WIDTH = 60


def edition_json(edition: Edition) -> dict[str, Any]:
    """The edition as `digest rank --json` prints it: sections and clusters in the email's
    order, the lead story first in each cluster; then what was left out (`cut`) and why."""
    return {"edition": edition.id, "sections": [
        {"name": s.name, "clusters": [
            {"score": c.score, "components": dict(c.components), "why": list(c.why),
             "stories": [
                {"title": st.title, "url": st.url, "source": st.source,
                 "published": st.published.isoformat()} for st in c.stories]}
            for c in s.clusters]}
        for s in edition.sections],
        "cut": [{"score": c.score, "why": list(c.why), "title": c.lead.title, "url": c.lead.url}
                for c in edition.cut]}


def _row(section: str, cluster: Cluster, now: datetime) -> list[str]:
    lead = cluster.lead
    hours = (now - max(s.published for s in cluster.stories)).total_seconds() / 3600
    title = lead.title if len(lead.title) <= TITLE_WIDTH else lead.title[:TITLE_WIDTH - 1] + "…"
    sources = int(cluster.components.get("sources", 1))
    return [section, f"{cluster.score:.3f}", title, lead.source, f"{hours:.0f} h", str(sources)]


def _explain(cluster: Cluster) -> list[str]:
    c = cluster.components
    place = c.get("position", 0)
    # A place of -1: every feed of the story lists by time, so its order says nothing.
    where = f"place {place:g}" if place >= 0 else "its feeds list by time"
    lines = ["recency {:.3f} ({:g} h old) x weight {:g} x sources {:g} ({:g} sources, {:g} "
             "articles) x prominence {:g} ({}) x velocity {:g} ({:g} sources/h) "
             "x featured {:g} x soft {:g} x boost {:g} = {:.3f}".format(
                 c.get("recency", 0), c.get("age_hours", 0), c.get("weight", 0),
                 c.get("sources_factor", 0), c.get("sources", 0), c.get("articles", 0),
                 c.get("prominence", 1), where, c.get("velocity", 1),
                 c.get("per_hour", 0), c.get("featured", 0), c.get("soft", 1),
                 c.get("boost", 1), cluster.score)]
    lines += list(cluster.why)
    lines += [f"also: {s.source}: {s.title} <{s.url}>" for s in cluster.also]
    return lines


def cmd_rank(args: argparse.Namespace) -> int:
    """Show the next edition's stories as a table (section, score, title, source, age,
    sources in the cluster); --explain adds each score component, the other sources and
    what was left out and why; --pin and --drop record the editor's choice for the coming
    edition."""
    config = load_config(args.config)
    now = now_from(args, config)
    edition_id = pipeline.edition_id_for(config, now)
    with Store.open(config.database_path) as store:
        if args.clear:
            store.unpick(edition_id)
        for story in args.pin or []:
            store.pick(edition_id, story, "pin", now)
        for story in args.drop or []:
            store.pick(edition_id, story, "drop", now)
        edition = pipeline.build_edition(config, store, now, edition_id)
    if args.json:
        print(json.dumps(edition_json(edition)))
        return EXIT_OK
    header = ["SECTION", "SCORE", "TITLE", "SOURCE", "AGE", "SOURCES"]
    rows = [(_row(s.name, c, now), c) for s in edition.sections for c in s.clusters]
    widths = [max([len(h)] + [len(r[i]) for r, _ in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    if rows:
        print(line(header))
    for cells, cluster in rows:
        print(line(cells))
        if args.explain:
            for text in _explain(cluster):
                print(" " * (widths[0] + 2) + text)
    if args.explain and edition.cut:
        print("\nLeft out:")
        for cluster in edition.cut:
            print(f"  {cluster.score:.3f}  {cluster.lead.title}  ({cluster.lead.source})")
            for text in cluster.why:
                print(f"      {text}")
    count = len(edition.clusters)
    if not rows:
        print("No unsent stories in the lookback window (stories come from `digest fetch`; "
              "--now builds the edition as of another moment).")
    elif count < config.ranking.min_stories:
        print(f"Only {count} stories (fewer than ranking.min_stories = "
              f"{config.ranking.min_stories}): this edition would not be sent.")
    return EXIT_OK


def register(commands: Commands, options: Options) -> None:
    """Add this module's commands to the parser."""
    rank = add_command(commands, "rank", cmd_rank, options.common, options.json, options.now)
    rank.add_argument("--explain", action="store_true",
                      help="show each score component, the other sources of each story and "
                           "what was left out and why")
    rank.add_argument("--pin", action="append", metavar="STORY",
                      help="lead the coming edition with this story (its link or id); "
                           "pinned stories lead in the order pinned")
    rank.add_argument("--drop", action="append", metavar="STORY",
                      help="leave this story (its link or id) out of the coming edition")
    rank.add_argument("--clear", action="store_true",
                      help="forget the coming edition's pins and drops first")
