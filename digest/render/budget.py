"""Render's size budget: keep the HTML part under the limit where Gmail clips a message.

In: an `Edition`, the render settings and a budget in bytes. Out: a `Fitted` edition: the
edition actually rendered (maybe with shorter summaries or fewer clusters), its `Rendered`,
and what was cut. Gmail clips an HTML part above about 102 KB and hides everything after the
cut, the unsubscribe link included, so the size counted is what goes out: the HTML after
inlining, with realistic per-subscriber values filled in, in UTF-8 bytes.

Cuts go in the order that costs the reader least: first every summary is shortened (in
steps), then the lowest-ranked clusters are dropped. The log says how much was cut.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from digest.errors import RenderError
from digest.ingest.sanitize import cap
from digest.model import Cluster, Edition, Rendered, Section, Story
from digest.render.edition import html_value, render_edition

log = logging.getLogger(__name__)

HTML_BUDGET = 100_000  # bytes; Gmail clips at about 102 KB, and this leaves room for headers
OVERSIZE = 4  # a cluster this many times the median cluster's bytes is dropped before others
SUMMARY_STEPS = (400, 200, 100, 0)  # characters a summary is cut to, one step at a time

# Stand-ins for a subscriber's values when measuring: as long as real ones get (an unsubscribe
# token carries the list name and the address twice over, base64).
SAMPLE_EMAIL = "firstname.lastname.subscriber@subdomain.example-company.com"
SAMPLE_TOKEN = "v1." + "x" * 120 + "." + "y" * 43


@dataclass(frozen=True)
class Fitted:
    """An edition rendered within the budget, and what it took."""

    edition: Edition  # what was rendered: mark these stories as sent, not the dropped ones
    rendered: Rendered
    size: int  # bytes of the HTML part with sample values filled in
    original_size: int
    summaries_cut_to: int | None = None  # characters, when summaries were shortened
    dropped: tuple[Cluster, ...] = ()

    @property
    def cut(self) -> bool:
        return self.summaries_cut_to is not None or bool(self.dropped)


def sample_values(base_url: str, edition_id: str) -> dict[str, str]:
    """Per-subscriber values as long as real ones, for measuring what goes out."""
    return {
        "name": "Firstname Middlename Lastname-Longername",
        "email": SAMPLE_EMAIL,
        "unsubscribe_url": f"{base_url}/unsubscribe?t={SAMPLE_TOKEN}",
        "preferences_url": f"{base_url}/preferences?t={SAMPLE_TOKEN}",
        "browser_url": f"{base_url}/archive/{edition_id}",
    }


def html_size(rendered: Rendered, values: Mapping[str, str]) -> int:
    """Bytes of the HTML part as it goes out: placeholders filled (HTML-escaped), UTF-8."""
    page = rendered.html
    for field, mark in rendered.placeholders.items():
        page = page.replace(mark, html_value(field, values.get(field, "")))
    return len(page.encode("utf-8"))


def render_within_budget(
    edition: Edition,
    templates: Path | None,
    timezone: tzinfo,
    nonce: str,
    extra: Mapping[str, Any] | None = None,
    budget: int = HTML_BUDGET,
    values: Mapping[str, str] | None = None,
) -> Fitted:
    """Render an edition so its HTML part fits `budget` bytes.

    Args:
        edition: what to render, clusters best first within each section.
        templates, timezone, nonce, extra: as for `render.render_edition`.
        budget: the most bytes the HTML part may take.
        values: per-subscriber values to measure with; default `sample_values`.
    Returns:
        The fitted edition. If even one cluster with no summary is over the budget, that is
        what is returned, with a warning in the log.
    Raises:
        RenderError: a template is missing or fails.
    """
    base_url = str((extra or {}).get("base_url", ""))
    values = values or sample_values(base_url, edition.id)

    def attempt(candidate: Edition) -> tuple[Rendered, int]:
        rendered = render_edition(candidate, templates, timezone, nonce, extra)
        return rendered, html_size(rendered, values)

    try:
        rendered, size = attempt(edition)
    except Exception:
        edition = without_unrenderable(edition, lambda e: attempt(e)[0])
        rendered, size = attempt(edition)
    original = size
    if size <= budget:
        return Fitted(edition, rendered, size, original)

    # Summaries first, mildest cut first. A smaller limit never makes the HTML bigger, so
    # when even no summaries at all is over, the milder cuts need not be tried.
    shortest = shorten_summaries(edition, SUMMARY_STEPS[-1])
    shortest_rendered, shortest_size = attempt(shortest)
    if shortest_size <= budget:
        for limit in SUMMARY_STEPS[:-1]:
            candidate = shorten_summaries(edition, limit)
            rendered, size = attempt(candidate)
            if size <= budget:
                return _log_cut(Fitted(candidate, rendered, size, original, limit), budget)
        return _log_cut(Fitted(shortest, shortest_rendered, shortest_size, original,
                               SUMMARY_STEPS[-1]), budget)

    # Then drop clusters: first any far larger than the typical one (one bloated story must
    # not push out several good ones), then the lowest-ranked. The most that can stay is
    # estimated from the bytes a cluster costs, then found by galloping from the estimate and
    # bisecting: a few renders.
    ranked = sorted(shortest.clusters, key=lambda c: -c.score)
    _, frame = attempt(keep_clusters(shortest, []))
    bloated = _oversized(ranked, lambda c: attempt(keep_clusters(shortest, [c]))[1] - frame)
    if bloated:
        ranked = [c for c in ranked if all(c is not b for b in bloated)]
        shortest = keep_clusters(shortest, ranked)
        shortest_rendered, shortest_size = attempt(shortest)
        if shortest_size <= budget:
            return _log_cut(Fitted(shortest, shortest_rendered, shortest_size, original,
                                   SUMMARY_STEPS[-1], bloated), budget)
    per_cluster = max((shortest_size - frame) / max(len(ranked), 1), 1.0)
    fits, over = 0, len(ranked)  # this many clusters fit (0 trivially); this many do not
    best: tuple[Edition, Rendered, int] | None = None

    def probe(count: int) -> bool:
        nonlocal fits, over, best
        candidate = keep_clusters(shortest, ranked[:count])
        rendered, size = attempt(candidate)
        if size <= budget:
            fits, best = count, (candidate, rendered, size)
            return True
        over = count
        return False

    guess = min(max(int((budget - frame) / per_cluster), 1), over - 1)
    step = 1
    if guess > fits and probe(guess):
        while fits + step < over and probe(fits + step):
            step *= 2
    elif guess > 1:
        while over - step > fits and not probe(over - step):
            step *= 2
    while over - fits > 1:
        probe((fits + over) // 2)
    low = fits
    if best is None:  # not even one cluster fits: send the best one anyway, and say so
        low = 1
        candidate = keep_clusters(shortest, ranked[:1])
        best = (candidate, *attempt(candidate))
        log.warning("edition %s: %d bytes of HTML even with one story and no summary, over "
                    "the %d-byte budget; Gmail will clip it. Check the templates for bulk",
                    edition.id, best[2], budget)
    return _log_cut(Fitted(best[0], best[1], best[2], original, SUMMARY_STEPS[-1],
                           (*bloated, *ranked[low:])), budget)


def _oversized(clusters: list[Cluster], cost: Callable[[Cluster], int]) -> tuple[Cluster, ...]:
    """The clusters costing more than `OVERSIZE` times the median cluster, largest first."""
    if len(clusters) < 3:
        return ()
    costs = [(cost(c), i) for i, c in enumerate(clusters)]
    typical = max(statistics.median(c for c, _ in costs), 1)
    return tuple(clusters[i] for c, i in sorted(costs, reverse=True) if c > OVERSIZE * typical)


def without_unrenderable(edition: Edition, render: Callable[[Edition], object]) -> Edition:
    """The edition without the stories whose fields break rendering, each named in the log.

    The story's edge of the render stage: one story cannot stop an edition, whatever its
    fields make a template or filter raise. Each cluster is tried alone, and a cluster that
    fails alone keeps only those of its stories that render alone.

    Raises:
        RenderError: the edition fails even with no story: the templates are at fault.
    """
    try:
        render(keep_clusters(edition, []))
    except RenderError:
        raise
    except Exception as e:
        raise RenderError(f"rendering an edition with no stories failed: {type(e).__name__}: "
                          f"{e}; check the templates") from e

    def renders(cluster: Cluster) -> bool:
        alone = dataclasses.replace(edition, sections=(Section(cluster.section, (cluster,)),))
        try:
            render(alone)
        except Exception as e:
            if len(cluster.stories) == 1:
                story = cluster.lead
                log.warning("edition %s: story %r of feed %s left out: it breaks rendering "
                            "(%s: %s)", edition.id, cap(story.title, 80), story.feed_url,
                            type(e).__name__, cap(" ".join(str(e).split()), 200))
            return False
        return True

    def repaired(cluster: Cluster) -> Cluster | None:
        if renders(cluster):
            return cluster
        stories = tuple(s for s in cluster.stories
                        if renders(dataclasses.replace(cluster, stories=(s,))))
        return dataclasses.replace(cluster, stories=stories) if stories else None

    sections = []
    for section in edition.sections:
        clusters = tuple(c for c in map(repaired, section.clusters) if c is not None)
        if clusters:
            sections.append(Section(section.name, clusters))
    return dataclasses.replace(edition, sections=tuple(sections))


def shorten_summaries(edition: Edition, limit: int) -> Edition:
    """Every summary cut to `limit` characters of plain text (0: no summary at all)."""

    def short(story: Story) -> Story:
        if (len(story.summary_text) <= limit) if limit else not (
            story.summary_html or story.summary_text
        ):
            return story
        text = cap(story.summary_text, limit) if limit else ""
        return dataclasses.replace(story, summary_text=text,
                                   summary_html=html.escape(text, quote=False))

    return _map_clusters(edition, lambda c: dataclasses.replace(
        c, stories=tuple(short(s) for s in c.stories)))


def keep_clusters(edition: Edition, keep: list[Cluster]) -> Edition:
    """The edition with only the `keep` clusters, in their places; empty sections go."""
    kept = {id(c) for c in keep}
    sections = tuple(
        Section(s.name, tuple(c for c in s.clusters if id(c) in kept)) for s in edition.sections
    )
    return dataclasses.replace(edition, sections=tuple(s for s in sections if s.clusters))


def _map_clusters(edition: Edition, change: Callable[[Cluster], Cluster]) -> Edition:
    return dataclasses.replace(edition, sections=tuple(
        Section(s.name, tuple(change(c) for c in s.clusters)) for s in edition.sections))


def _log_cut(fitted: Fitted, budget: int) -> Fitted:
    what = []
    if fitted.summaries_cut_to is not None:
        what.append(f"summaries cut to {fitted.summaries_cut_to} characters"
                    if fitted.summaries_cut_to else "summaries left out")
    if fitted.dropped:
        titles = "; ".join(cap(c.lead.title, 60) for c in fitted.dropped[:5])
        more = f" and {len(fitted.dropped) - 5} more" if len(fitted.dropped) > 5 else ""
        what.append(f"{len(fitted.dropped)} lowest-ranked stories dropped ({titles}{more})")
    log.warning(
        "edition %s: HTML part was %d bytes, over the %d-byte budget (Gmail clips at about "
        "102 KB); %s; now %d bytes (%d cut)",
        fitted.edition.id, fitted.original_size, budget, " and ".join(what), fitted.size,
        fitted.original_size - fitted.size,
    )
    return fitted
