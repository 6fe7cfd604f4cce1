"""Orchestrate: one edition from the stored stories: its identity from the schedule slot, the
ranking of the lookback window, the render within the size budget, and its public archive page.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.config import Config
from digest.deliver.message import Sender
from digest.model import Edition, Rendered, Story
from digest.rank.score import rank
from digest.rank.semantic import load_semantics
from digest.render.archive import public_page
from digest.render.brand import brand_for
from digest.render.budget import Fitted, render_within_budget
from digest.render.edition import archive_name, render_edition
from digest.store import Store


def edition_id_for(config: Config, now: datetime, frequency: str = "daily") -> str:
    """The edition's identity from its schedule slot: one edition per day (or week)."""
    local = now.astimezone(ZoneInfo(config.schedule.timezone))
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"weekly-{year}-W{week:02d}"
    return f"daily-{local:%Y-%m-%d}"


def build_edition(
    config: Config, store: Store, now: datetime, edition_id: str,
    stories: Sequence[Story] | None = None,
) -> Edition:
    """Rank the unsent stories of the lookback window (or `stories`) into the next edition."""
    since = now - timedelta(hours=config.ranking.lookback_hours)
    feeds = {f.url: f for f in config.feeds}
    candidates = [
        dataclasses.replace(s, source=feeds[s.feed_url].name, section=feeds[s.feed_url].section,
                            weight=feeds[s.feed_url].weight, featured=feeds[s.feed_url].featured,
                            publisher=feeds[s.feed_url].publisher)
        for s in (store.unsent_stories(since, now) if stories is None else stories)
        if s.feed_url in feeds  # a feed removed from the config no longer contributes
    ]
    order = list(dict.fromkeys(f.section for f in config.feeds))
    # Stories handed in (a weekly edition's week) bring their own window.
    window = since if stories is None else min((s.published for s in candidates), default=now)
    settings = config.ranking
    if stories is not None:  # a week's stories decay over the week, not over a day
        settings = dataclasses.replace(settings, half_life_hours=settings.half_life_hours * 7)
    pinned, dropped = store.picks(edition_id)
    semantics = load_semantics() if settings.semantic else None
    return rank(candidates, settings, now, edition_id, config.newsletter.name, order,
                config.sections, since=window, pinned=pinned, dropped=dropped,
                semantics=semantics, language=config.newsletter.language)


def render(config: Config, edition: Edition) -> Rendered:
    """Render an edition with the configured templates, in the configured time zone, with its
    HTML part under the size where Gmail clips (see `render_fitted`)."""
    return render_fitted(config, edition).rendered


def render_fitted(config: Config, edition: Edition) -> Fitted:
    """Render an edition within the HTML size budget: summaries shortened, then the
    lowest-ranked stories dropped if need be. `Fitted.edition` is what was rendered."""
    return render_within_budget(
        edition, config.templates_path, ZoneInfo(config.schedule.timezone),
        nonce=secrets.token_hex(8),
        extra={"base_url": config.newsletter.base_url.rstrip("/"),
               "brand": brand_for(config.newsletter)},
    )


def write_archive(config: Config, rendered: Rendered, sender: Sender,
                  content: Edition | None = None) -> Path:
    """Write the edition's public "view in browser" page under the state folder.

    Public: no reader's address or personal links, a line on how to subscribe, and (from
    `content`, what the edition carried) story times as absolute times in the newsletter's
    zone, since the page is read any time later.
    """
    archive = config.state_folder / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / f"{archive_name(rendered.edition_id)}.html"
    zone = ZoneInfo(config.schedule.timezone)
    if content is not None:
        rendered = render_edition(content, config.templates_path, zone,
                                  nonce=secrets.token_hex(8),
                                  extra={"base_url": config.newsletter.base_url.rstrip("/"),
                                         "brand": brand_for(config.newsletter)},
                                  archive=True)
    page = public_page(rendered, sender.base_url, config.newsletter.name, sender.address)
    path.write_text(page, encoding="utf-8")
    return path
