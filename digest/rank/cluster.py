"""Rank, part one: group candidate stories that tell the same news into clusters.

In: stories (already clean and canonical) and a similarity threshold. Out: groups of story
indices, one group per news story. Pure: no database, network, file or clock.

Two stories are the same story when they share a canonical link, when they share an id (within
a feed, or across feeds when the id is globally unique such as a URL or a tag: URI), or when
their words say the same thing: how alike two stories are is `similar.py`'s question, how
stories gather into clusters without chaining (a story joins a cluster when it is like the
cluster as a whole) is `linkage.py`'s.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode

from digest.model import Story
from digest.rank.linkage import UnionFind, join_similar
from digest.rank.semantic import Semantics, join_meanings, one_language
from digest.rank.similar import Scorer

_GLOBAL_ID = re.compile(r"^(https?://|tag:|urn:)|^[0-9a-f-]{32,}$", re.IGNORECASE)


def link_key(url: str) -> str:
    """A link with the differences that do not change the page removed (scheme, www., tracking
    parameters that parse.py does not know, a trailing slash)."""
    rest = url.split("://", 1)[-1].removeprefix("www.")
    if "?" not in rest:
        return rest.rstrip("/")
    path, query = rest.split("?", 1)
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith(("utm_", "at_", "wt_"))]
    return f"{path.rstrip('/')}?{urlencode(kept)}" if kept else path.rstrip("/")


def cluster_indices(stories: Sequence[Story], threshold: float, semantics: Semantics | None = None,
                    semantic_threshold: float = 1.0) -> list[list[int]]:
    """Group stories that are the same news.

    Args:
        stories: the candidates.
        threshold: the similarity (0..1) at or above which two stories are the same; 1.0 or
            more turns word matching off (links and ids still join).
        semantics: a multilingual sentence encoder, to join clusters of different
            languages by meaning (`semantic.py`); None: words only.
        semantic_threshold: the cosine two such clusters' centroids must reach to join.
    Returns:
        Groups of indices into `stories`, each group in index order, groups ordered by their
        first index; every index appears in exactly one group.
    """
    with _collector_paused():
        return _cluster_indices(stories, threshold, semantics, semantic_threshold)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector. Clustering builds hundreds of thousands of
    lists, dicts and tuples that live until it returns and form no reference cycles (reference
    counting frees them): the collector would only walk them again and again, some 12% of the
    CPU time of 20,000 candidates. Where the collector is off already it is left off; another
    thread's cycles are collected once it is back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _cluster_indices(stories: Sequence[Story], threshold: float, semantics: Semantics | None,
                     semantic_threshold: float) -> list[list[int]]:
    n = len(stories)
    sets = UnionFind(n)
    # The first story with each link, each id in its feed, each globally unique id.
    by_link: dict[str, int] = {}
    by_id: dict[str, int] = {}
    by_global_id: dict[str, int] = {}
    for i, s in enumerate(stories):
        j = by_link.setdefault(link_key(s.url), i)
        if j != i:
            sets.union(i, j)
        j = by_id.setdefault(f"{s.feed_url}\n{s.id}", i)
        if j != i:
            sets.union(i, j)
        if _GLOBAL_ID.search(s.id):
            j = by_global_id.setdefault(s.id, i)
            if j != i:
                sets.union(i, j)
    if threshold < 1.0 and n > 1:
        join_similar(Scorer(stories, threshold), sets)
    found: dict[int, list[int]] = {}
    for i in range(n):
        found.setdefault(sets.find(i), []).append(i)
    groups = [found[root] for root in sorted(found)]
    if semantics is not None and semantic_threshold < 1.0 and not one_language(
            stories, semantics):
        parts = join_meanings(stories, groups, semantics, semantic_threshold)
        groups = [sorted(i for k in part for i in groups[k]) for part in parts]
    return groups


