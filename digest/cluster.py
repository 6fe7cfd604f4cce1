"""Rank, part one: group candidate stories that tell the same news into clusters.

In: stories (already clean and canonical) and a similarity threshold. Out: groups of story
indices, one group per news story. Pure: no database, network, file or clock.

Two stories are the same story when they share a canonical link, when they share an id (within
a feed, or across feeds when the id is globally unique such as a URL or a tag: URI), or when
their words say the same thing. Words are normalised (case, accents, punctuation, stop words in
English and German, a light truncation stemmer) and weighted by how rare they are in this batch
of candidates, so that "Gaza" or "Ukraine", which many stories share, count for little and a
name such as "Pistorius" counts for a lot. The similarity is a weighted Jaccard over the title's
and the summary's opening words, with the title counted twice.

It scales by blocking: only stories that share at least one rare word (an inverted index whose
posting lists are capped) are ever compared, so the work grows with the number of stories times
the cap, not with its square.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

from digest.model import Story

# Words that say nothing about which event a headline reports, in the two languages of the feeds
# we see most (English and German). Kept short on purpose: a missing stop word costs little
# because frequent words weigh little anyway; a wrong one hides evidence.
_STOP_TEXT = """
a about after again against all also am an and any are as at be because been before being
between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its just me more most my no nor not
now of off on once only or other our out over own same says said she should so some such than
that the their them then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your new how why what
der die das den dem des ein eine einer einem einen eines und oder aber auch auf aus bei bis
durch für fur gegen im in ist sind war waren wird werden wurde wurden mit nach nicht noch nun
nur ob ohne sich sie er es wir ihr um unter vom von vor zu zum zur uber über als am an da dass
so wie was wer wo hat haben hatte kann soll sollen will mehr viele neue neuen neuer jetzt heute
ab alle allem allen aller alles beim bereits dabei damit dann dazu dem diese diesem diesen dieser
dieses doch dort drei eigentlich einmal erst erste ersten etwa gibt geht gut hier ihre ihren
ihrer immer jahr jahre jahren jede jeden jeder kein keine keinen laut man nun rund schon sehr sei
seien seit sein seine seinen seiner sowie tag tage uns unsere viel vier weil weiter weitere wenn
wieder woche zeigt zeigen zwei zwischen beste besten best better top day days week year years
first last next one two three four five get gets got make makes made may might must one ones
see sees take takes takes today week well back way still even many much yet s t don
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

STEM_LENGTH = 7  # truncation stemmer: "hostages"/"hostage", "paroled"/"parole" meet
TITLE_WEIGHT = 1.5  # a word in the headline counts this many times a word in the summary
SUMMARY_WORDS = 40  # only the summary's opening: later sentences wander off to background
HOUSE_STYLE = 3  # a word in more than this many stories of one feed starts to count less
MIN_SHARED = 2  # two stories must share at least this many words to be compared at all
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_KICKER = re.compile(r"\s*(?::|\|)\s+")
_GLOBAL_ID = re.compile(r"^(https?://|tag:|urn:)|^[0-9a-f-]{32,}$", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Normalised content words of a text: lower case, no accents, no stop words, stemmed.

    Args:
        text: plain text, such as a headline.
    Returns:
        The words in their order, each cut to at most `STEM_LENGTH` characters.
    """
    folded = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    out = []
    for w in _WORD.findall(bare):
        if w in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]  # plural: "attacks" meets "attack" even below the truncation length
        out.append(w[:STEM_LENGTH])
    return out


def kicker_words(title: str) -> frozenset[str]:
    """The words of a headline's kicker: the short labels before its last ":" or "|", as in
    "Top 10: ...", "heise-Angebot: iX-Workshop: ..." or "Hannover Messe: ...". Two stories of
    one feed under the same kicker share a rubric, not an event."""
    parts = _KICKER.split(title)
    return frozenset(w for part in parts[:-1] for w in words(part))


def link_key(url: str) -> str:
    """A link with the differences that do not change the page removed (scheme, www., tracking
    parameters that parse.py does not know, a trailing slash)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(("utm_", "at_", "wt_"))]
    return f"{host}{parts.path.rstrip('/')}?{urlencode(query)}"


def _docs(stories: Sequence[Story]) -> list[dict[str, float]]:
    docs = []
    for s in stories:
        weights: dict[str, float] = {}
        for w in words(s.summary_text)[:SUMMARY_WORDS]:
            weights[w] = 1.0
        for w in words(s.title):
            weights[w] = TITLE_WEIGHT
        docs.append(weights)
    return docs


class _UnionFind:
    """Disjoint sets over 0..n-1; the smallest index is a set's root, so results are stable."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def similarity(a: dict[str, float], b: dict[str, float], weight: dict[str, float]) -> float:
    """Cosine of two word-weight maps, each word also weighted by its rarity (`weight`)."""
    shared = a.keys() & b.keys()
    if not shared:
        return 0.0
    dot = sum(a[w] * b[w] * weight.get(w, 1.0) ** 2 for w in shared)
    norm_a = math.sqrt(sum((a[w] * weight.get(w, 1.0)) ** 2 for w in a))
    norm_b = math.sqrt(sum((b[w] * weight.get(w, 1.0)) ** 2 for w in b))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0


def cluster_indices(stories: Sequence[Story], threshold: float) -> list[list[int]]:
    """Group stories that are the same news.

    Args:
        stories: the candidates.
        threshold: the similarity (0..1) at or above which two stories are the same; 1.0 or
            more turns word matching off (links and ids still join).
    Returns:
        Groups of indices into `stories`, each group in index order, groups ordered by their
        first index; every index appears in exactly one group.
    """
    n = len(stories)
    sets = _UnionFind(n)
    first_by_key: dict[tuple[str, str], int] = {}
    for i, s in enumerate(stories):
        keys = [("url", link_key(s.url)), ("id", f"{s.feed_url}\n{s.id}")]
        if _GLOBAL_ID.search(s.id):
            keys.append(("gid", s.id))
        for key in keys:
            j = first_by_key.setdefault(key, i)
            if j != i:
                sets.union(i, j)
    if threshold < 1.0 and n > 1:
        _join_similar(stories, threshold, sets)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(sets.find(i), []).append(i)
    return [groups[root] for root in sorted(groups)]


def _join_similar(stories: Sequence[Story], threshold: float, sets: _UnionFind) -> None:
    docs = _docs(stories)
    n = len(docs)
    postings: dict[str, list[int]] = {}
    in_feed: dict[tuple[str, str], int] = {}
    for i, doc in enumerate(docs):
        for w in doc:
            postings.setdefault(w, []).append(i)
            key = (stories[i].feed_url, w)
            in_feed[key] = in_feed.get(key, 0) + 1
    kickers = [kicker_words(s.title) for s in stories]
    # Rarity weight: a word in every story weighs ~0, a word in one story the most.
    idf = {w: math.log((n + 1) / len(p)) + 0.1 for w, p in postings.items()}
    # Blocking: compare only stories that share a rare word. A word in more stories than the cap
    # is too common to say "same event" on its own; it still counts in the similarity.
    cap = max(16, int(8 * math.log2(n + 1)))
    for i, doc in enumerate(docs):
        candidates: set[int] = set()
        for w in doc:
            posting = postings[w]
            if len(posting) <= cap:
                candidates.update(j for j in posting if j < i)
        for j in sorted(candidates):
            other = docs[j]
            if len(doc.keys() & other.keys()) < min(MIN_SHARED, len(doc), len(other)):
                continue  # one shared word is a topic, not an event
            if sets.find(i) == sets.find(j):
                continue
            weight = idf
            if stories[i].feed_url == stories[j].feed_url:
                weight = _house_style(idf, in_feed, stories[i].feed_url, doc, other)
                for w in kickers[i] & kickers[j]:
                    weight[w] = 0.0
            if similarity(doc, other, weight) >= threshold:
                sets.union(i, j)


def _house_style(idf: dict[str, float], in_feed: dict[tuple[str, str], int], feed: str,
                 a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Weights for two stories of one feed: a word that feed uses in many stories ("Top 10:",
    "heise-Angebot: iX-Workshop:", a section kicker) is its house style, not news, so it counts
    less the more stories of the feed carry it."""
    return {w: idf[w] * min(1.0, HOUSE_STYLE / in_feed[(feed, w)]) for w in a.keys() | b.keys()}
