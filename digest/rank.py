"""Rank: choose and order the stories of the next edition.

In: candidate stories (not sent before, inside the lookback window), the ranking settings,
the edition's identity and `now`. Out: an `Edition` of sections of clusters. Pure: no
database, network, file or clock; the same input always gives the same edition.

This first version scores by recency (half-life decay) times the source's weight, one story
per cluster, and groups clusters into sections by their feed's section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from digest.config import RankingConfig
from digest.model import Cluster, Edition, Section, Story


def rank(
    stories: Sequence[Story],
    settings: RankingConfig,
    now: datetime,
    edition_id: str,
    newsletter: str,
    section_order: Sequence[str] = (),
) -> Edition:
    """Build the edition from candidate stories.

    Args:
        stories: candidates, already limited to unsent ones in the lookback window.
        settings: limits and the half-life.
        now: the moment the edition is built as of (UTC).
        edition_id: the edition's identity, such as "daily-2023-11-22".
        newsletter: the newsletter's name.
        section_order: section names in the order the operator listed them.
    Returns:
        The edition; it may hold fewer than `settings.min_stories` stories (the caller
        decides not to send it).
    """
    clusters = sorted((_score(s, settings, now) for s in _unique(stories)), key=_order)
    per_source: Counter[str] = Counter()
    per_section: Counter[str] = Counter()
    chosen: list[Cluster] = []
    for cluster in clusters:
        lead = cluster.lead
        if len(chosen) >= settings.max_stories:
            break
        if per_source[lead.feed_url] >= settings.max_per_source:
            continue
        if per_section[lead.section] >= settings.max_per_section:
            continue
        per_source[lead.feed_url] += 1
        per_section[lead.section] += 1
        chosen.append(cluster)
    return Edition(
        id=edition_id, newsletter=newsletter, created=now,
        sections=_sections(chosen, section_order),
    )


def _unique(stories: Sequence[Story]) -> list[Story]:
    """One story per canonical URL: the same link in two feeds is one story."""
    seen: dict[str, Story] = {}
    for s in sorted(stories, key=lambda s: (-s.weight, s.feed_url, s.id)):
        seen.setdefault(s.url, s)
    return list(seen.values())


def _score(story: Story, settings: RankingConfig, now: datetime) -> Cluster:
    age_hours = max((now - story.published).total_seconds() / 3600, 0.0)
    recency = 0.5 ** (age_hours / settings.half_life_hours)
    components = {"recency": round(recency, 6), "weight": story.weight}
    return Cluster(stories=(story,), score=round(recency * story.weight, 6), components=components)


def _order(cluster: Cluster) -> tuple[float, float, str, str]:
    lead = cluster.lead
    return (-cluster.score, -lead.published.timestamp(), lead.feed_url, lead.id)


def _sections(clusters: Sequence[Cluster], section_order: Sequence[str]) -> tuple[Section, ...]:
    by_name: dict[str, list[Cluster]] = {}
    for c in clusters:
        by_name.setdefault(c.lead.section, []).append(c)
    position = {name: i for i, name in enumerate(section_order)}
    names = sorted(
        by_name, key=lambda n: (position.get(n, len(position)), -by_name[n][0].score, n)
    )
    return tuple(Section(name=n, clusters=tuple(by_name[n])) for n in names)
