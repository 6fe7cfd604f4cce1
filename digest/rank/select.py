"""Rank: from clusters best first to the edition's sections, and what was cut and why.

In: scored clusters in order, the ranking settings, the section rules, the editor's pins and
drops. Out: the chosen clusters with the section each is shown under, and the clusters left
out, each with why. Pure: no database, network, file or clock.

Selection is global: the pinned stories (in the order pinned), then the best stories of the
day up to `max_stories`, at most `max_per_source` led by one source. Only then are they filed:
the first `top_stories` under the top section, the rest under the section that fits each
story best (`section_of`). A section over `max_per_section` loses its weakest stories, and no
weaker story takes their place: a cap never lets a weaker story in while a stronger is cut.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from digest.config import RankingConfig, SectionRule
from digest.model import Cluster, Section
from digest.rank.cluster import link_key
from digest.rank.signals import matching, source_name, source_of

SHOWN_BELOW = 10  # --explain lists this many of the stories below the line


def section_of(cluster: Cluster, rules: Sequence[SectionRule]) -> str:
    """The section a cluster belongs in: the `[[sections]]` rule that fits it best (a story
    of the cluster carrying one of its categories counts 2, one whose headline or summary
    says one of its keywords counts 1; ties go to the rule listed first), else the section
    most of its stories' feeds file them under (ties: the lead's)."""
    best, best_fit = "", 0
    for rule in rules:
        categories = {c.casefold() for c in rule.categories}
        fit = 0
        for story in cluster.stories:
            if categories and any(c.casefold() in categories for c in story.categories):
                fit += 2
            elif rule.keywords and matching(rule.keywords,
                                            (story.title, story.summary_text[:400])):
                fit += 1
        if fit > best_fit:
            best, best_fit = rule.name, fit
    if best:
        return best
    votes = Counter(s.section for s in cluster.stories)
    top = max(votes.values())
    lead = cluster.lead.section
    return lead if votes[lead] == top else min(s for s, v in votes.items() if v == top)


def _matches(cluster: Cluster, wanted: Sequence[str]) -> int:
    """The place in `wanted` (links or ids) of the first that names a story of the cluster,
    or -1."""
    keys = {link_key(s.url) for s in cluster.stories} | {s.id for s in cluster.stories}
    for k, want in enumerate(wanted):
        if want in keys or link_key(want) in keys:
            return k
    return -1


def _cut(cluster: Cluster, why: str) -> Cluster:
    return dataclasses.replace(cluster, why=(*cluster.why, f"cut: {why}"))


def select(
    ranked: Sequence[Cluster], settings: RankingConfig, rules: Sequence[SectionRule],
    pinned: Sequence[str] = (), dropped: Sequence[str] = (),
) -> tuple[list[tuple[str, Cluster]], list[Cluster]]:
    """Choose the edition's clusters and file them (see the module's docstring).

    Args:
        ranked: clusters, best first.
        settings: the limits and the mute words.
        rules: `[[sections]]`.
        pinned: links or ids of stories the editor pinned, in order.
        dropped: links or ids of stories the editor dropped.
    Returns:
        The chosen clusters in the edition's order, each with the section it is shown
        under (`Cluster.section` is its own section); and the clusters left out that a
        reader of `--explain` wants to see (every pin, drop, mute and cap, and the first
        `SHOWN_BELOW` stories below the line), each saying why in `Cluster.why`.
    """
    cut: list[Cluster] = []
    pins: list[tuple[int, Cluster]] = []
    rest: list[Cluster] = []
    for cluster in ranked:
        if dropped and _matches(cluster, dropped) >= 0:
            cut.append(_cut(cluster, "dropped by the editor"))
            continue
        words = matching(settings.mute_words, [s.title for s in cluster.stories] + [
            c for s in cluster.stories for c in s.categories]) if settings.mute_words else []
        if words:
            cut.append(_cut(cluster, "muted: " + ", ".join(words)))
            continue
        place = _matches(cluster, pinned) if pinned else -1
        if place >= 0:
            pins.append((place, dataclasses.replace(
                cluster, why=(*cluster.why, f"pinned by the editor (#{place + 1})"))))
        else:
            rest.append(cluster)
    best: list[Cluster] = [c for _, c in sorted(pins, key=lambda p: p[0])]
    per_source: Counter[str] = Counter(source_of(c.lead) for c in best)
    below = 0
    for cluster in rest:
        source = source_of(cluster.lead)
        if len(best) >= settings.max_stories:
            if below < SHOWN_BELOW:
                cut.append(_cut(cluster, f"below the best {settings.max_stories}"))
            below += 1
            continue
        if per_source[source] >= settings.max_per_source:
            cut.append(_cut(cluster, f"{source_name(cluster.lead)} leads "
                                     f"{settings.max_per_source} stories already"))
            continue
        per_source[source] += 1
        best.append(cluster)
    top = min(settings.top_stories, settings.max_per_section)
    per_section: Counter[str] = Counter()
    chosen: list[tuple[str, Cluster]] = []
    for k, cluster in enumerate(best):
        home = section_of(cluster, rules)
        shown = settings.top_section if k < top else home
        if per_section[shown] >= settings.max_per_section:
            cut.append(_cut(cluster, f"{shown} holds {settings.max_per_section} stronger "
                                     "stories"))
            continue
        per_section[shown] += 1
        chosen.append((shown, dataclasses.replace(cluster, section=home)))
    return chosen, cut


def sections(
    chosen: Sequence[tuple[str, Cluster]], settings: RankingConfig, order: Sequence[str]
) -> tuple[Section, ...]:
    """The chosen clusters under their headings: the top section first, then the sections
    in the config's order, then any others by their best story."""
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
