"""Rank, part one (continued): gather similar stories into clusters without chaining.

In: a `Scorer` over the batch (digest/rank/similar.py) and the sets that links and ids have
already joined. Out: those sets, joined further where stories tell the same news. Pure.

Each story, oldest first, joins the cluster it is most like as a whole, or starts one. "Like
the cluster as a whole" is the cosine of the story's weighted stems with the cluster's
centroid (the sum of its members' unit vectors), so the threshold holds for the cluster, not
for one pair: a story that shares a word with one member of a big story but is not about it
stays out, and two stories never merge through a third (the chaining of single-link). A
cluster of one is judged by the pairwise rules (5-grams for compounds, a feed's house style,
the one-name rule); a story that comes near a bigger cluster is asked of a few of its members,
and a small one (fewer than `MERGING`) takes it only when it is the same news as one of them
(a few stories' centroid is mostly their shared name: "Squid Game" in a review and an essay
on Netflix would draw in a report on the show's injured players).
Then clusters of one story that began apart (its first reports worded each their own way)
join when their centroids are alike: a big one's at the threshold, two small ones' at 1.25
times it.

Precision: two stories share an event when they share a distinctive name or number (a word
the batch writes capitalised in running text, such as "Pistorius" or "Dublin", or a word
with digits), not only generic words ("super", "blue", "migrants"); without one, they must
be twice as alike as the threshold asks. Two stories of one feed that share only names of
its beat (said by a quarter of its stories, as "China" is by the South China Morning Post)
share no name either: the SCMP's pieces on Putin's view of the Belt and Road plan and on the
plan's ten years are two stories.

Blocking: a story is compared only with the clusters that share two rare words with its
headline and lede. The inverted index lists clusters, not stories, so the 200 articles of a
big story are one entry in "hostages", and the cap on a word's list (log2 n clusters) drops
only the words that many different stories use: the work stays n log n while a big story
keeps every article.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import chain, repeat
from operator import attrgetter, itemgetter, mul

from digest.rank.similar import LEDE_WORDS, NEAR, Scorer
from digest.rank.wording import STEM_LENGTH, folded_words

MIN_SHARED = 2  # a story must share at least this many rare words with a cluster to be compared
NAMELESS = 2.0  # sharing no name or number, a story must be this many times the threshold alike
BLOCKING = 8  # the rarest words of a story's headline and lede that blocking looks up
MERGING = 8  # a cluster this big is a big story's part: it joins others at the threshold
SMALL = 1.25  # two clusters smaller than that join at this many times the threshold
ASKED = 3  # members of a cluster asked one by one when a story comes near it
TITLE_CASE = 0.6  # a headline with this share of its words capitalised says nothing of names
# Capitalised but no name: days and months (EN, DE) say when, not which event.
_WHEN = frozenset(w[:STEM_LENGTH] for w in folded_words(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december montag dienstag mittwoch "
    "donnerstag freitag samstag sonntag januar februar marz juni juli oktober dezember"))
# A word inside a sentence: after a letter, digit or comma and a space.
_INSIDE = re.compile(r"(?<=[\w,] )[^\W_][\w'’-]*")


class UnionFind:
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
            self.link(ra, rb)

    def link(self, ra: int, rb: int) -> int:
        """Join two different roots; returns the root of the joined set."""
        root = min(ra, rb)
        self.parent[max(ra, rb)] = root
        return root


def names(texts: list[tuple[str, str]]) -> frozenset[str]:
    """The stems the batch uses as names: written capitalised inside a sentence more often
    than in lower case, and words with digits. Summaries vote (headlines are often in title
    case, which says nothing); a story without a summary lets its headline vote unless it is
    in title case.

    Args:
        texts: each story's headline and summary.
    Returns:
        The stems (as `wording.words` cuts them) that name someone, somewhere or a number.
    """
    tokens: Counter[str] = Counter()  # every token inside a sentence, counted once per text
    for text in dict.fromkeys(summary[:LEDE_WORDS * 16] or title for title, summary in texts):
        found = _INSIDE.findall(text)
        if len(found) > 2 and text[:1].isupper() and sum(
                map(str.isupper, map(itemgetter(0), found))) >= TITLE_CASE * len(found):
            continue  # title case
        tokens.update(found)
    # Each token votes its case; "Hamas" and "hamas" fold alike, so they are summed first and
    # folded once.
    said: dict[str, int] = {}
    for token, count in tokens.items():
        folded = token.casefold()
        said[folded] = said.get(folded, 0) + (count if token[0].isupper() else -count)
    votes: dict[str, int] = {}  # a plain dict: a Counter calls Python for every new stem
    get = votes.get
    named: set[str] = set()
    for token, vote in said.items():
        for word in folded_words(token):
            stem = word[:STEM_LENGTH]
            votes[stem] = get(stem, 0) + vote
            if not word.isalpha():
                named.add(stem)  # a number, or a word with digits
    named.update(stem for stem, vote in votes.items() if vote > 0)
    return frozenset(named - _WHEN)


class _Clusters:
    """The clusters built so far, by number: members, centroid (the sum of the members' unit
    vectors), its squared norm, its feeds, the blocking words it was indexed under."""

    def __init__(self) -> None:
        self.members: list[list[int]] = []
        self.centroid: list[dict[str, float]] = []
        self.square: list[float] = []
        self.feeds: list[dict[str, int]] = []  # each feed's first member in the cluster
        self.words: list[set[str]] = []
        self.into = UnionFind(0)  # clusters joined by `_merge_clusters`

    def start(self, i: int, vector: dict[str, float], feed: str) -> int:
        self.members.append([i])
        self.centroid.append(dict(vector))
        self.square.append(1.0)
        self.feeds.append({feed: i})
        self.words.append(set())
        self.into.parent.append(len(self.into.parent))
        return len(self.members) - 1

    def add(self, k: int, i: int, vector: dict[str, float], feed: str, dot: float) -> None:
        _accumulate(self.centroid[k], vector)
        self.square[k] += 2 * dot + 1.0
        self.members[k].append(i)
        self.feeds[k].setdefault(feed, i)

    def join(self, k: int, gone: int, dot: float) -> None:
        """Cluster `gone` joins cluster `k` (`dot`: their centroids' dot product)."""
        _accumulate(self.centroid[k], self.centroid[gone])
        self.square[k] += 2 * dot + self.square[gone]
        self.members[k] += self.members[gone]
        for feed, i in self.feeds[gone].items():
            self.feeds[k].setdefault(feed, i)
        self.words[k] |= self.words[gone]
        self.members[gone], self.centroid[gone], self.words[gone] = [], {}, set()
        self.into.parent[gone] = k


def _accumulate(centroid: dict[str, float], vector: dict[str, float]) -> None:
    """Add a vector to a centroid in place. (A plain loop: Python 3.11 runs it in two thirds of
    the instructions of `dict.update` fed by `zip` and `map`.)"""
    get = centroid.get
    for word, weight in vector.items():
        centroid[word] = get(word, 0.0) + weight


def join_similar(alike: Scorer, sets: UnionFind) -> None:
    """Join the sets of stories that tell the same news (see the module's docstring).

    Args:
        alike: the scorer over the batch.
        sets: the sets joined so far (by links and ids); joined further in place.
    """
    stories = alike.stories
    n = len(stories)
    named = names([(s.title, s.summary_text) for s in stories])
    idf, df = alike.idf, alike.df
    cap = max(8, int(math.log2(n + 1)))
    clusters = _Clusters()
    postings: dict[str, list[int]] = {}
    common: set[str] = set()  # words in more clusters than the cap: they block nothing
    of_set: dict[int, int] = {}  # the cluster of each set that links and ids made
    # Each distinct headline and summary's unit vector and blocking words (a headline and
    # summary said again in another feed has the same).
    known: dict[int, tuple[dict[str, float], list[str]]] = {}
    # Oldest first (ties by feed, id, then index: the sort is stable).
    order = sorted(range(n), key=list(map(attrgetter("published", "feed_url", "id"),
                                          stories)).__getitem__)
    for i in order:
        found_before = known.get(alike.same[i])
        if found_before is None:
            # Blocking looks at the rarest words of the headline and lede (the commonest say
            # least, and cost most: their lists are the longest).
            lead = [w for w in alike.leads[i] if df[w] > 1]
            if len(lead) > BLOCKING:  # (a stable sort: ties keep the text's order)
                lead = sorted(lead, key=df.__getitem__)[:BLOCKING]
            found_before = known[alike.same[i]] = (_unit(alike.docs[i], idf), lead)
        vector, lead = found_before
        feed = stories[i].feed_url
        root = sets.find(i)
        k = of_set.get(root, -1)
        if k >= 0:  # a link or id joined it already
            clusters.add(k, i, vector, feed, _dot(vector, clusters.centroid[k]))
        else:
            found = [postings[w] for w in lead if w in postings]
            need = min(MIN_SHARED, len(lead))
            if vector and len(found) >= need:
                hits = Counter(chain.from_iterable(found))
                # The clusters sharing the most of its rare words, and those one short: a
                # cluster that shares fewer is not the best one.
                most = max(hits.values(), default=0)
                k, dot = _best(alike, clusters,
                               [c for c, h in hits.items() if h >= need and h >= most - 1], i,
                               vector, named)
            if k < 0:
                k = clusters.start(i, vector, feed)
            else:
                clusters.add(k, i, vector, feed, dot)
            of_set[root] = k
        words = clusters.words[k]
        for w in lead:
            if w in words or w in common:
                continue
            words.add(w)
            posting = postings.setdefault(w, [])
            posting.append(k)
            if len(posting) > cap:
                common.add(w)
                del postings[w]
    _merge_clusters(clusters, postings, named, alike.threshold)
    for members in clusters.members:
        for i in members[1:]:
            sets.union(members[0], i)


def _unit(doc: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    """A story's stems weighted by their rarity, scaled to length 1 (empty if it has none)."""
    # Comprehensions: Python 3.11 runs them in fewer instructions than map() with operator's
    # functions (the same products and sums, in the same order).
    weights = [t * idf[w] for w, t in doc.items()]
    norm = math.sqrt(sum([x * x for x in weights]))
    return {w: x / norm for w, x in zip(doc, weights, strict=True)} if norm else {}


def _dot(vector: dict[str, float], centroid: dict[str, float]) -> float:
    """A unit vector's dot product with a centroid. (The words the centroid lacks add 0.0 to
    a sum of positive terms, which leaves it as it is: the same sum as over the words both
    have, with the loop in C.)"""
    dot: float = sum(map(mul, vector.values(), map(centroid.get, vector, repeat(0.0))))
    return dot


def _best(alike: Scorer, clusters: _Clusters, candidates: list[int], i: int,
          vector: dict[str, float], named: frozenset[str]) -> tuple[int, float]:
    """The cluster story i (its unit `vector`) belongs in, or -1, and the dot product of its
    vector with that cluster's centroid: of the candidates that pass the rules, the one whose
    centroid is most like it. The cosines are cheap; the rules, which may compare 5-grams,
    are asked in order of cosine until one cluster passes."""
    near = alike.threshold * NEAR
    scored = []
    for k in candidates:
        dot = _dot(vector, clusters.centroid[k])
        cosine = dot / math.sqrt(clusters.square[k])
        if cosine >= near:
            scored.append((-cosine, k, dot))
    mine = named.intersection(vector)  # its names: does it share one with the cluster?
    for minus, k, dot in sorted(scored):
        if _fits(alike, clusters, k, i, -minus, mine):
            return k, dot
    return -1, 0.0


def _fits(alike: Scorer, clusters: _Clusters, k: int, i: int, cosine: float,
          mine: frozenset[str]) -> bool:
    """Whether story i belongs in cluster k, whose centroid's cosine with it is `cosine`
    (`mine`: the names story i says)."""
    nameless = clusters.centroid[k].keys().isdisjoint(mine)
    threshold = alike.threshold
    members = clusters.members[k]
    if len(members) == 1:
        # One story: the pairwise rules decide (with 5-grams, which may find more).
        j = members[0]
        if not alike.same_news(i, j):
            return False
        if not nameless and alike.feeds[i] == alike.feeds[j]:
            nameless = alike.beat(i, mine.intersection(alike.docs[j]))
        return not nameless or alike(
            i, j, alike.docs[i].keys() & alike.docs[j].keys()) >= NAMELESS * threshold
    if nameless and cosine < NAMELESS * threshold:
        return False
    same_feed = clusters.feeds[k].get(alike.feeds[i])
    if same_feed is not None and not alike.same_news(i, same_feed):
        return False  # a feed's house style does not join its own stories
    if cosine >= threshold:
        # A small cluster: one member must agree, unless the story is as alike as a
        # nameless one must be (members of other feeds only: that of its own feed agreed).
        return (len(members) >= MERGING or same_feed is not None
                or cosine >= NAMELESS * threshold
                or any(alike.same_news(i, j) for j in members))
    step = max(1, len(members) // ASKED)
    asked = members[::step][:ASKED]
    return 2 * sum(1 for j in asked if alike.same_news(i, j)) > len(asked)


def _merge_clusters(clusters: _Clusters, postings: dict[str, list[int]],
                    named: frozenset[str], threshold: float) -> None:
    """Join clusters of one story that began apart (its first articles worded differently):
    two clusters whose centroids are as alike as the threshold asks of a story, sharing a
    name. Biggest first; then again for the clusters that grew, until nothing joins."""
    find = clusters.into.find
    members = clusters.members
    todo = [c for c in range(len(members)) if len(members[c]) >= 2]
    for _ in range(3):
        grew: set[int] = set()
        asked: set[int] = set()  # a pair is asked once a round (its answer is symmetric)
        for c in sorted(todo, key=lambda r: (-len(members[r]), r)):
            size = len(members[c])
            if size < 2:
                continue  # it joined a bigger one this round
            asked.add(c)
            hits = Counter(find(x) for w in clusters.words[c] if w in postings
                           for x in postings[w])
            for other, h in sorted(hits.items()):
                if other in asked or h < MIN_SHARED or len(
                        members[other]) < (1 if size >= MERGING else 2):
                    continue  # a small cluster looks for others like it: stories alone
                    # were compared with it as they came
                a, b = clusters.centroid[c], clusters.centroid[other]
                if len(a) > len(b):
                    a, b = b, a
                shared = [w for w in a if w in b]
                dot = sum([a[w] * b[w] for w in shared])
                cosine = dot / math.sqrt(clusters.square[c] * clusters.square[other])
                nameless = not any(w in named for w in shared)
                # A few articles say less of what their story is than many: two small
                # clusters must be more alike than the threshold asks of one story.
                small = max(size, len(members[other])) < MERGING
                bar = NAMELESS if nameless else SMALL if small else 1.0
                if cosine >= bar * threshold:
                    clusters.join(c, other, dot)
                    size = len(members[c])
                    grew.add(c)
        if not grew:
            return
        todo = sorted(grew)
