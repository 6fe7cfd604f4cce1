"""Rank, part one: group candidate stories that tell the same news into clusters.

In: stories (already clean and canonical) and a similarity threshold. Out: groups of story
indices, one group per news story. Pure: no database, network, file or clock.

Two stories are the same story when they share a canonical link, when they share an id (within
a feed, or across feeds when the id is globally unique such as a URL or a tag: URI), or when
their words say the same thing. Words are normalised (case, accents, punctuation, stop words in
English and German, a light truncation stemmer) and weighted by how rare they are in this batch
of candidates, so that "Gaza" or "Ukraine", which many stories share, count for little and a
name such as "Pistorius" counts for a lot. The similarity is the cosine of those weighted words
over the headline and the summary's opening, headline words counting `TITLE_WEIGHT` times; two
stories of one feed do not merge on that feed's house style (a shared kicker such as "Top 10:",
words the feed uses in many stories).

It scales by blocking: only stories whose headline or lede share at least two rare words (an
inverted index whose posting lists are capped at 2 log2 n) are ever compared, so the work grows
as n log n, not with the square of n.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from itertools import chain
from urllib.parse import parse_qsl, urlencode

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
LEDE_WORDS = 12  # blocking looks at the headline and this many words of the summary
MIN_SHARED = 2  # two stories must share at least this many words to be compared at all
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_KICKER = re.compile(r"\s*(?::|\|)\s+")
_GLOBAL_ID = re.compile(r"^(https?://|tag:|urn:)|^[0-9a-f-]{32,}$", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Normalised content words of a text: lower case, no accents, no stop words, stemmed.

    Args:
        text: plain text, such as a headline.
    Returns:
        The words in their order, each cut to at most `STEM_LENGTH` characters.
    """
    folded = text.casefold()
    if not folded.isascii():  # the common case skips the Unicode work
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded.replace("ß", "ss")))
    out = []
    for w in _WORD.findall(folded):
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
    rest = url.split("://", 1)[-1].removeprefix("www.")
    if "?" not in rest:
        return rest.rstrip("/")
    path, query = rest.split("?", 1)
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith(("utm_", "at_", "wt_"))]
    return f"{path.rstrip('/')}?{urlencode(kept)}" if kept else path.rstrip("/")


def _docs(stories: Sequence[Story]) -> tuple[list[dict[str, float]], list[list[str]]]:
    """Each story's word weights (title and summary opening), and its blocking words (the
    title and the summary's first sentence or so, where the news is)."""
    docs, leads = [], []
    seen: dict[str, list[str]] = {}  # the same summary often comes in several feeds
    for s in stories:
        weights: dict[str, float] = {}
        # Cut the text before normalising it: some feeds put whole articles in the summary.
        text = s.summary_text[:SUMMARY_WORDS * 12]
        summary = seen.get(text)
        if summary is None:
            summary = seen[text] = words(text)[:SUMMARY_WORDS]
        for w in summary:
            weights[w] = 1.0
        title = words(s.title)
        for w in title:
            weights[w] = TITLE_WEIGHT
        docs.append(weights)
        leads.append(list(dict.fromkeys(title + summary[:LEDE_WORDS])))
    return docs, leads


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
    docs, leads = _docs(stories)
    n = len(docs)
    df = Counter(chain.from_iterable(docs))
    # Rarity weight: a word in every story weighs ~0, a word in one story the most.
    idf = {w: math.log((n + 1) / c) + 0.1 for w, c in df.items()}
    norms = [math.hypot(*[t * idf[w] for w, t in doc.items()]) for doc in docs]
    in_feed: dict[str, Counter[str]] = {}  # per feed, filled when two of its stories meet
    # Blocking: compare only stories whose headlines or ledes share a rare word. A word in
    # more stories than the cap is too common to say "same event" on its own (it still counts
    # in the similarity); the cap grows with log n, so the pairs compared grow as n log n.
    cap = max(8, int(2 * math.log2(n + 1)))
    postings: dict[str, list[int]] = {}
    for i, lead in enumerate(leads):
        rare = [w for w in lead if 1 < df[w] <= cap]  # a word of one story joins nothing
        hits = Counter(chain.from_iterable(postings.get(w, ()) for w in rare))
        for w in rare:
            postings.setdefault(w, []).append(i)
        need = min(MIN_SHARED, len(lead))  # one shared word is a topic, not an event
        doc = docs[i]
        for j in [j for j, h in hits.items() if h >= need]:  # the partition is order-free
            if sets.find(i) == sets.find(j):
                continue
            other = docs[j]
            feed = stories[i].feed_url
            if feed == stories[j].feed_url:
                if feed not in in_feed:
                    in_feed[feed] = Counter(chain.from_iterable(
                        d for d, s in zip(docs, stories, strict=True) if s.feed_url == feed))
                weight = _house_style(idf, in_feed[feed], doc, other)
                for w in kicker_words(stories[i].title) & kicker_words(stories[j].title):
                    weight[w] = 0.0
                alike = similarity(doc, other, weight)
            else:
                dot = sum([doc[w] * other[w] * idf[w] ** 2 for w in doc.keys() & other.keys()])
                alike = dot / (norms[i] * norms[j]) if norms[i] and norms[j] else 0.0
            if alike >= threshold:
                sets.union(i, j)


def _house_style(idf: dict[str, float], in_feed: Counter[str],
                 a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Weights for two stories of one feed: a word that feed uses in many stories ("Top 10:",
    "heise-Angebot: iX-Workshop:", a section kicker) is its house style, not news, so it counts
    less the more stories of the feed carry it."""
    return {w: idf[w] * min(1.0, HOUSE_STYLE / in_feed[w]) for w in a.keys() | b.keys()}
