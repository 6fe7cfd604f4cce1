"""Rank: choose and order the stories of the next edition.

In: candidate stories (not sent before, inside the lookback window), the ranking settings, the
section rules, the edition's identity, `now`, and the editor's pins and drops. Out: an
`Edition` of sections of clusters, and the best of what was left out (`Edition.cut`). Pure: no
database, network, file or clock; the same input always gives the same edition.

The same news from several feeds (or twice in one) becomes one cluster (`cluster.py`); its
lead is a hard-news story from the heaviest, most prominent source, the rest are "also covered
by". A cluster's score is the product of its components, each kept on `Cluster.components` so
`digest rank --explain` can show it:

    recency     0.5 ** (age_hours / half_life_hours), age of the cluster's newest story
    weight      the lead source's `weight`
    sources     1 + source_bonus * (distinct sources - 1 + 0.25 * further articles): a
                source is a publisher when `[[feeds]] publisher` names one, else a feed.
                With the default bonus, two sources count four times one, so coverage
                dominates a few hours of age; a source's further articles count a quarter.
    prominence  1 + prominence * 0.5 ** (best position / 3): feeds list what matters first,
                unless they list by time (newest first): their order says nothing that
                recency does not, so only feeds ordered otherwise count (`by_editor`)
    velocity    1 + velocity * log2(1 + sources per hour over the last 6 hours)
    featured    featured_boost if a story is featured (its feed, or a category listed in
                `featured_categories`), else 1
    soft        soft_news if every story of the cluster is soft news (`signals.py`), else 1;
                and soft news never scores above hard news that several sources cover
    boost       boost_factor if a headline or category says one of `boost_words`

The summaries of the stories shown are edited last (digest/rank/summary.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter

from digest.config import RankingConfig, SectionRule
from digest.model import Cluster, Edition, Story
from digest.rank.cluster import cluster_indices, link_key
from digest.rank.select import sections, select
from digest.rank.semantic import Semantics, in_language, join_meanings, one_language, story_text
from digest.rank.signals import matching, soft_reason, source_of
from digest.rank.summary import Editor

PLACES_HALF = 3.0  # a story this many places down its feed has half the prominence bonus
ARTICLE_SHARE = 0.25  # a source's further article on a story counts this share of a source
VELOCITY_HOURS = 6.0  # coverage growth is measured over this many hours before `now`
MEANING_POOL = 5  # meaning joins among this many times `max_stories` of the best clusters
BY_TIME = 0.1  # a feed with fewer of its neighbouring items out of time order lists by time


def rank(
    stories: Sequence[Story],
    settings: RankingConfig,
    now: datetime,
    edition_id: str,
    newsletter: str,
    section_order: Sequence[str] = (),
    rules: Sequence[SectionRule] = (),
    since: datetime | None = None,
    pinned: Sequence[str] = (),
    dropped: Sequence[str] = (),
    semantics: Semantics | None = None,
    language: str = "en",
) -> Edition:
    """Build the edition from candidate stories.

    Args:
        stories: candidates, normally already limited to unsent ones in the lookback window
            (stories outside the window are dropped here too).
        settings: limits, the half-life, the similarity threshold, the signals' weights, the
            editor's boost and mute words.
        now: the moment the edition is built as of (UTC).
        edition_id: the edition's identity, such as "daily-2023-11-22".
        newsletter: the newsletter's name.
        section_order: section names in the order the operator listed them (feeds' sections).
        rules: `[[sections]]`: their order comes first, their categories and keywords file
            stories.
        since: the start of the window (a weekly edition's week); by default `lookback_hours`
            before `now`.
        pinned: stories (links or ids) the editor pinned: their clusters lead, in this order.
        dropped: stories (links or ids) the editor dropped: their clusters are left out.
        semantics: the semantic extra's models, when `settings.semantic` is on: reports of
            one story in different languages join by meaning.
        language: the edition's language: with `semantics`, a report in it leads its story.
    Returns:
        The edition; it may hold fewer than `settings.min_stories` clusters (the caller
        decides not to send it).
    """
    clusters = cluster_stories(stories, settings, now, since)
    featured = frozenset(c.casefold() for c in settings.featured_categories)
    ordered = by_editor(stories)
    scored = [score(c, settings, now, featured, ordered) for c in clusters]
    if semantics is not None:
        scored = _joined_by_meaning(scored, semantics, language,
                                    partial(score, settings=settings, now=now,
                                            featured_categories=featured, ordered=ordered),
                                    MEANING_POOL * settings.max_stories,
                                    settings.semantic_threshold)
    ranked = sorted(_soft_below_covered(scored), key=_order)
    chosen, cut = select(ranked, settings, rules, pinned, dropped)
    # Summaries are edited for the stories shown, not for every candidate.
    editor = Editor(settings.summary_chars)
    chosen = [(name, editor.edit_cluster(c)) for name, c in chosen]
    order = [r.name for r in rules] + list(section_order)
    return Edition(id=edition_id, newsletter=newsletter, created=now,
                   sections=sections(chosen, settings, order), cut=tuple(cut))


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
        One tuple of stories per cluster, the lead first, then the others by source weight,
        prominence and recency.
    """
    if since is None:
        since = now - timedelta(hours=settings.lookback_hours)
    inside = sorted((s for s in stories if since <= s.published <= now),
                    key=attrgetter("feed_url", "id", "url"))
    groups = cluster_indices(inside, settings.similarity_threshold)
    # Most stories are alone in their cluster: nothing to order.
    return [(inside[g[0]],) if len(g) == 1 else _lead_first([inside[i] for i in g])
            for g in groups]


def _joined_by_meaning(
    scored: list[Cluster], semantics: Semantics, language: str,
    rescore: Callable[[tuple[Story, ...]], Cluster], pool_size: int, threshold: float,
) -> list[Cluster]:
    """The scored clusters, those that tell one story in different languages joined
    (semantic.py) and scored again, a report in the edition's language leading. Meaning is
    read for the best `pool_size` clusters as words scored them, not for every candidate
    (encoding costs milliseconds a story, and a report that far down its own language's
    coverage does not make the edition); in one language, for none."""
    if one_language([s for c in scored for s in c.stories], semantics):
        return scored  # the common case: its feeds read together, a guess for each
    best = sorted(range(len(scored)), key=lambda k: (-scored[k].score, k))
    pool = best[:pool_size]
    flat: list[Story] = []
    groups = []
    for k in pool:
        groups.append(range(len(flat), len(flat) + len(scored[k].stories)))
        flat += scored[k].stories
    joined = []
    for part in join_meanings(flat, groups, semantics, threshold):
        first = scored[pool[part[0]]]
        stories = first.stories if len(part) == 1 else _lead_first(
            [s for p in part for s in scored[pool[p]].stories])
        told = in_language(stories, semantics, language)
        # A cluster nothing joined and whose lead stays keeps its score.
        joined.append(_languages_said(first if told == first.stories else rescore(told),
                                      semantics, by_meaning=len(part) > 1))
    return joined + [scored[k] for k in best[len(pool):]]


def _lead_first(stories: list[Story]) -> tuple[Story, ...]:
    """A cluster's stories, lead first: the heaviest source, a featured story, the most
    prominent, the newest; but a report leads, not a gallery or a column (the first report
    in that order moves to the front; soft news is looked for only until one is found)."""
    ordered = sorted(stories, key=lambda s: (-s.weight, not s.featured, s.position,
                                             -s.published.timestamp(), s.feed_url, s.id))
    if soft_reason(ordered[0]):
        report = next((k for k, s in enumerate(ordered) if not soft_reason(s)), 0)
        ordered.insert(0, ordered.pop(report))
    return tuple(ordered)


def by_editor(stories: Sequence[Story]) -> frozenset[str]:
    """The feeds whose order is their editors' choice: all but those that list their items
    newest first (fewer than `BY_TIME` of the neighbours out of time order). A feed with
    fewer than three items shows no order, and counts as its editors'."""
    items: dict[str, list[tuple[int, float]]] = {}
    for s in stories:
        items.setdefault(s.feed_url, []).append((s.position, -s.published.timestamp()))
    chosen = set()
    for feed, listed in items.items():
        listed.sort()
        # Items of one place (from different fetches) say nothing of the order.
        pairs = [(a[1], b[1]) for a, b in zip(listed, listed[1:], strict=False) if a[0] != b[0]]
        later = sum(1 for a, b in pairs if a > b)  # an older item listed above a newer one
        if len(pairs) < 2 or later >= BY_TIME * len(pairs):
            chosen.add(feed)
    return frozenset(chosen)


def score(
    stories: tuple[Story, ...], settings: RankingConfig, now: datetime,
    featured_categories: frozenset[str] = frozenset(),
    ordered: frozenset[str] | None = None,
) -> Cluster:
    """Score one cluster, keeping every component (see the module's docstring).

    Args:
        stories: the cluster's stories, lead first.
        settings: the half-life and the signals' weights.
        now: the moment ages are measured to.
        featured_categories: case-folded item categories that make a story featured.
        ordered: the feeds whose order says what matters (`by_editor`); None: every feed.
    Returns:
        The cluster with its score (the product of the components), the components and
        what ranking noticed (`why`).
    """
    lead = stories[0]
    newest = max(s.published for s in stories)
    age_hours = max((now - newest).total_seconds() / 3600, 0.0)
    recency = 0.5 ** (age_hours / settings.half_life_hours)
    distinct = len({source_of(s) for s in stories})
    # A source's further articles on the story count too, a quarter of a new source each:
    # a publisher that writes three reports on it thinks it matters (the same link twice, or
    # its gallery, is not another report).
    reports = len({link_key(s.url) for s in stories if not soft_reason(s)}) if len(
        stories) > distinct else distinct
    sources = 1 + settings.source_bonus * (distinct - 1 + ARTICLE_SHARE * max(
        0, reports - distinct))
    place = min((s.position for s in stories if ordered is None or s.feed_url in ordered),
                default=-1)
    prominence = 1 + settings.prominence * 0.5 ** (place / PLACES_HALF) if place >= 0 else 1.0
    recent = {source_of(s) for s in stories
              if (now - s.published).total_seconds() <= VELOCITY_HOURS * 3600}
    per_hour = len(recent) / VELOCITY_HOURS
    velocity = 1 + settings.velocity * math.log2(1 + per_hour)
    # No featured categories (the default): no need to fold every story's categories.
    is_featured = any(s.featured for s in stories) or bool(featured_categories) and any(
        c.casefold() in featured_categories for s in stories for c in s.categories
    )
    featured = settings.featured_boost if is_featured else 1.0
    why: list[str] = []
    # Soft when every story is: the first hard one (usually the lead) settles it.
    is_soft = all(soft_reason(s) for s in stories)
    soft = settings.soft_news if is_soft else 1.0
    if is_soft:
        why.append(f"soft news: {soft_reason(lead)}")
    boosted = matching(settings.boost_words, _texts(stories)) if settings.boost_words else []
    boost = settings.boost_factor if boosted else 1.0
    if boosted:
        why.append("boosted: " + ", ".join(boosted))
    total = recency * lead.weight * sources * prominence * velocity * featured * soft * boost
    components = {
        "recency": round(recency, 6), "age_hours": round(age_hours, 2),
        "weight": lead.weight, "sources": float(distinct), "sources_factor": round(sources, 6),
        "position": float(place), "prominence": round(prominence, 6),
        "per_hour": round(per_hour, 3), "velocity": round(velocity, 6),
        "featured": featured, "soft": soft, "is_soft": float(is_soft), "boost": boost,
        "articles": float(len(stories)), "reports": float(reports),
    }
    return Cluster(stories=stories, score=round(total, 6), components=components,
                   why=tuple(why))


def _languages_said(cluster: Cluster, semantics: Semantics, by_meaning: bool) -> Cluster:
    """A cluster told in several languages says so (`--explain`), and whether meaning joined
    them (`by_meaning`) or their words did (names both languages write alike)."""
    if len(cluster.stories) == 1:
        return cluster
    spoken = sorted({semantics.language(story_text(s)) for s in cluster.stories} - {""})
    if len(spoken) < 2:
        return cluster
    return dataclasses.replace(cluster, why=(
        *cluster.why, f"told in {', '.join(spoken)}: joined by "
                      + ("meaning" if by_meaning else "the words both say")))


def _texts(stories: Sequence[Story]) -> list[str]:
    """What boost and mute words are looked for in: headlines and categories."""
    return [s.title for s in stories] + [c for s in stories for c in s.categories]


def _soft_below_covered(clusters: list[Cluster]) -> list[Cluster]:
    """Soft news never outranks hard news that several sources cover: a soft cluster's score
    is held just below the lowest such hard story's."""
    covered = [c.score for c in clusters if not c.components["is_soft"]
               and c.components["sources"] > 1]
    if not covered:
        return clusters
    floor = min(covered)
    return [dataclasses.replace(c, score=round(floor * 0.99, 6), why=(
                *c.why, f"held below stories several sources cover ({c.score:.3f})"))
            if c.components["is_soft"] and c.score >= floor else c for c in clusters]


def _order(cluster: Cluster) -> tuple[float, float, str, str]:
    """Best first; ties go to the newer story, then to the feed URL and id (stable)."""
    newest = max(s.published for s in cluster.stories)
    return (-cluster.score, -newest.timestamp(), cluster.lead.feed_url, cluster.lead.id)
