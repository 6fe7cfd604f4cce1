"""Rank: choose and order the stories of the next edition.

In: candidate stories (not sent before, inside the lookback window), the ranking settings, the
section rules, the edition's identity and `now`. Out: an `Edition` of sections of clusters.
Pure: no database, network, file or clock; the same input always gives the same edition.

The same news from several feeds (or twice in one) becomes one cluster (`digest/cluster.py`);
its lead is the story from the heaviest source, the rest are "also covered by". A cluster's
score is the product of its components, each kept on `Cluster.components` so `digest rank
--explain` can show it:

    recency   0.5 ** (age_hours / half_life_hours), age of the cluster's newest story
    weight    the lead source's `weight`
    sources   1 + source_bonus * (distinct sources - 1)
    featured  featured_boost if a story is featured (its feed, or a category listed in
              `featured_categories`), else 1
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import attrgetter

from digest.config import RankingConfig, SectionRule
from digest.model import Cluster, Edition, Section, Story
from digest.rank.cluster import cluster_indices


def rank(
    stories: Sequence[Story],
    settings: RankingConfig,
    now: datetime,
    edition_id: str,
    newsletter: str,
    section_order: Sequence[str] = (),
    rules: Sequence[SectionRule] = (),
    since: datetime | None = None,
) -> Edition:
    """Build the edition from candidate stories.

    Args:
        stories: candidates, normally already limited to unsent ones in the lookback window
            (stories outside the window are dropped here too).
        settings: limits, the half-life, the similarity threshold and the boosts.
        now: the moment the edition is built as of (UTC).
        edition_id: the edition's identity, such as "daily-2023-11-22".
        newsletter: the newsletter's name.
        section_order: section names in the order the operator listed them (feeds' sections).
        rules: `[[sections]]`: their order comes first, and their categories file stories.
        since: the start of the window (a weekly edition's week); by default `lookback_hours`
            before `now`.
    Returns:
        The edition; it may hold fewer than `settings.min_stories` clusters (the caller
        decides not to send it).
    """
    clusters = cluster_stories(stories, settings, now, since)
    featured = frozenset(c.casefold() for c in settings.featured_categories)
    ranked = sorted((score(c, settings, now, featured) for c in clusters), key=_order)
    chosen = _select(ranked, settings, rules)
    order = [r.name for r in rules] + list(section_order)
    return Edition(id=edition_id, newsletter=newsletter, created=now,
                   sections=_sections(chosen, settings, order))


def cluster_stories(
    stories: Sequence[Story], settings: RankingConfig, now: datetime,
    since: datetime | None = None,
) -> list[tuple[Story, ...]]:
    """The candidates inside the window, grouped into stories, each lead first.

    Args:
        stories: candidates.
        settings: `lookback_hours` and `similarity_threshold` are used.
        now: the end of the window.
        since: its start; by default `lookback_hours` before `now`.
    Returns:
        One tuple of stories per cluster, the lead first, then the others by source weight
        and recency.
    """
    if since is None:
        since = now - timedelta(hours=settings.lookback_hours)
    inside = sorted((s for s in stories if since <= s.published <= now),
                    key=attrgetter("feed_url", "id", "url"))
    groups = cluster_indices(inside, settings.similarity_threshold)
    # Most stories are alone in their cluster: nothing to order.
    return [(inside[g[0]],) if len(g) == 1 else tuple(sorted((inside[i] for i in g),
                                                             key=_lead_first))
            for g in groups]


def _lead_first(s: Story) -> tuple[float, bool, float, str, str]:
    return (-s.weight, not s.featured, -s.published.timestamp(), s.feed_url, s.id)


def score(
    stories: tuple[Story, ...], settings: RankingConfig, now: datetime,
    featured_categories: frozenset[str] = frozenset(),
) -> Cluster:
    """Score one cluster, keeping every component.

    Args:
        stories: the cluster's stories, lead first.
        settings: half-life, source bonus and featured boost.
        now: the moment ages are measured to.
        featured_categories: case-folded item categories that make a story featured.
    Returns:
        The cluster with its score (the product of the components) and the components.
    """
    lead = stories[0]
    newest = max(s.published for s in stories)
    age_hours = max((now - newest).total_seconds() / 3600, 0.0)
    recency = 0.5 ** (age_hours / settings.half_life_hours)
    distinct = len({s.feed_url for s in stories})
    sources = 1 + settings.source_bonus * (distinct - 1)
    # No featured categories (the default): no need to fold every story's categories.
    is_featured = any(s.featured for s in stories) or bool(featured_categories) and any(
        c.casefold() in featured_categories for s in stories for c in s.categories
    )
    featured = settings.featured_boost if is_featured else 1.0
    total = recency * lead.weight * sources * featured
    components = {
        "recency": round(recency, 6), "age_hours": round(age_hours, 2),
        "weight": lead.weight, "sources": float(distinct), "sources_factor": round(sources, 6),
        "featured": featured,
    }
    return Cluster(stories=stories, score=round(total, 6), components=components)


def _order(cluster: Cluster) -> tuple[float, float, str, str]:
    """Best first; ties go to the newer story, then to the feed URL and id (stable)."""
    newest = max(s.published for s in cluster.stories)
    return (-cluster.score, -newest.timestamp(), cluster.lead.feed_url, cluster.lead.id)


def section_of(cluster: Cluster, rules: Sequence[SectionRule]) -> str:
    """The section a cluster belongs in: the first `[[sections]]` rule whose categories
    the lead story carries (then any other story of the cluster), else the lead's feed
    section."""
    if not rules:  # no [[sections]]: no need to fold every story's categories
        return cluster.lead.section
    for story in cluster.stories:
        carried = {c.casefold() for c in story.categories}
        for rule in rules:
            if carried & {c.casefold() for c in rule.categories}:
                return rule.name
    return cluster.lead.section


def _select(
    ranked: Sequence[Cluster], settings: RankingConfig, rules: Sequence[SectionRule]
) -> list[tuple[str, Cluster]]:
    """Walk the clusters best first, keeping each unless a limit says no."""
    per_source: Counter[str] = Counter()
    per_section: Counter[str] = Counter()
    top = min(settings.top_stories, settings.max_per_section)
    chosen: list[tuple[str, Cluster]] = []
    for cluster in ranked:
        if len(chosen) >= settings.max_stories:
            break
        source = cluster.lead.feed_url
        if per_source[source] >= settings.max_per_source:
            continue  # diversity: one feed cannot fill the edition
        home = section_of(cluster, rules)
        section = settings.top_section if per_section[settings.top_section] < top else home
        if per_section[section] >= settings.max_per_section:
            continue
        per_source[source] += 1
        per_section[section] += 1
        chosen.append((section, dataclasses.replace(cluster, section=home)))
    return chosen


def _sections(
    chosen: Sequence[tuple[str, Cluster]], settings: RankingConfig, order: Sequence[str]
) -> tuple[Section, ...]:
    by_name: dict[str, list[Cluster]] = {}
    for name, cluster in chosen:
        by_name.setdefault(name, []).append(cluster)
    position = {settings.top_section: -1}
    for name in order:
        position.setdefault(name, len(position))
    names = sorted(
        by_name, key=lambda n: (position.get(n, len(position)), -by_name[n][0].score, n)
    )
    return tuple(Section(name=n, clusters=tuple(by_name[n])) for n in names)
