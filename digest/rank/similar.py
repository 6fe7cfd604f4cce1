"""Rank, part one: how alike two stories of one batch of candidates are.

In: the batch's stories and the similarity threshold. Out: a scorer that says whether two
stories tell the same news, and the features and rarity weights that `linkage.py` builds its
cluster centroids from. Pure: no database, network, file or clock.

The words (digest/rank/wording.py: normalised stems plus character 5-grams, so that compounds
and inflections meet) are weighted by how rare they are in this batch of candidates, so that
"Gaza" or "Ukraine", which many stories share, count for little and a name such as
"Pistorius" counts for a lot. The similarity is the cosine of those weighted stems over the
headline and the summary's opening; a pair that comes close (half the threshold) is compared
again with the 5-grams too, and the higher cosine counts. A 5-gram's rarity comes from the
stems of the words that contain it, counted over the batch's vocabulary, so the second stage
costs nothing for the pairs that never reach it. Two stories of one feed do not merge on that
feed's house style (a kicker both repeat word for word, such as "Top 10:", or words the feed
uses in many stories). And two stories whose shared words are all one name ("Prime Minister
Fumio Kishida") are about the same person or place, not the same news: they stay apart
however rare the name.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence, Set
from itertools import chain
from operator import attrgetter

from digest.model import Story
from digest.rank.wording import (
    GRAM,
    GRAM_PREFIX,
    LONG_WORD,
    STEM_LENGTH,
    Features,
    Wording,
    boilerplate,
    folded_words,
    headline_body,
    kicker_words,
)

HOUSE_STYLE = 3  # a word in more than this many stories of one feed starts to count less
REPEAT = 2.5  # two stories of one feed this many times the threshold alike, house style aside,
# are one report repeated (the most alike different stories of one feed on the labelled days:
# 0.40; eight updates of one report in one feed: 0.60 and more)
BEAT = 0.25  # a name more than this share of a feed's stories say is the feed's beat
LEDE_WORDS = 12  # blocking looks at the headline and this many words of the summary
NEAR = 0.5  # a pair whose stems reach this share of the threshold is compared by 5-grams too
# A feed read this many times for house style has all its words (5-grams: all its 5-grams)
# counted at the next: listing a story's 5-grams costs about what counting them does.
WHOLE_FEED = {False: 3, True: 1}
NAME_WORDS = 5  # the longest name the one-name rule looks for ("Prime Minister Fumio Kishida")


def similarity(a: dict[str, float], b: dict[str, float], weight: dict[str, float]) -> float:
    """Cosine of two word-weight maps, each word also weighted by its rarity (`weight`)."""
    shared = a.keys() & b.keys()
    if not shared:
        return 0.0
    dot = sum(a[w] * b[w] * weight.get(w, 1.0) ** 2 for w in shared)
    norm_a = math.sqrt(sum((a[w] * weight.get(w, 1.0)) ** 2 for w in a))
    norm_b = math.sqrt(sum((b[w] * weight.get(w, 1.0)) ** 2 for w in b))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0



class Scorer:
    """How alike two stories of one batch are (the batch sets the rarity of each word).

    Two stages: the cosine of the stems, for every pair blocking lets through; and for a pair
    that comes close (at least `NEAR` of the threshold), the cosine with the 5-grams of the
    words too, so that compounds and inflections count ("Kommunalwahlen" meets "Wahlen").
    The second stage is what costs, so it only runs where it can change the answer."""

    def __init__(self, stories: Sequence[Story], threshold: float) -> None:
        headlines = {title: folded_words(title) for title in dict.fromkeys(
            map(attrgetter("title"), stories))}
        # A summary that is boilerplate is read as none (the stories keep it for the email).
        empty = boilerplate(((s.feed_url, s.title, s.summary_text) for s in stories),
                            headlines)
        if empty:
            stories = [dataclasses.replace(s, summary_text="")
                       if (s.feed_url, s.summary_text) in empty else s for s in stories]
        self.stories, self.threshold = stories, threshold
        self.near = threshold * NEAR
        self.wording = Wording()
        docs: list[Features] = []
        texts: list[tuple[list[str], list[str]]] = []  # headline and summary words
        leads: list[dict[str, None]] = []  # blocking words: the headline and the lede, once
        self.docs, self.texts, self.leads = docs, texts, leads
        # Summary text: its features, its words and the stems of its opening (the lede).
        summaries: dict[str, tuple[Features, list[str], list[str]]] = {}
        self.summaries = summaries
        # The same headline and summary often come in several feeds (and a feed's copies of a
        # story): their features, words and norm are the first such story's, worked out once.
        first: dict[tuple[str, str], int] = {}
        extra: list[list[str]] = []  # the headline's stems its summary does not say
        # For each story, the first story with its headline and summary.
        self.same: list[int] = []
        same = self.same
        for i, s in enumerate(stories):
            k = first.setdefault((s.title, s.summary_text), i)
            same.append(k)
            if k != i:
                docs.append(docs[k])
                texts.append(texts[k])
                leads.append(leads[k])
                extra.append(extra[k])
                continue
            known = summaries.get(s.summary_text)
            if known is None:
                features, words = self.wording.summary(s.summary_text)
                known = summaries[s.summary_text] = (
                    features, words, [w[:STEM_LENGTH] for w in words[:LEDE_WORDS]])
            title = headlines[s.title]
            stems = [w[:STEM_LENGTH] for w in title]
            headline = dict.fromkeys(stems, 1.0)
            docs.append(Wording.add_headline(known[0], headline))
            texts.append((title, known[1]))
            leads.append(dict.fromkeys(stems + known[2]))
            extra.append([w for w in headline if w not in known[0]])
        self.df = self._stories_with(extra)
        # Rarity weight: a word in every story weighs ~0, a word in one story the most.
        self.idf = self._rarity(self.df)
        self.idf2 = self._rarity(self.df, squared=True)
        # Norms are worked out for the stories blocking ever pairs (a third never are).
        self.norms = [-1.0] * len(stories)
        self.feeds = [s.feed_url for s in stories]
        self.by_feed: dict[str, list[int]] = {}
        for k, feed in enumerate(self.feeds):
            self.by_feed.setdefault(feed, []).append(k)
        self.in_feed: dict[tuple[str, bool], Counter[str]] = {}  # filled as stories meet
        self.passes: Counter[tuple[str, bool]] = Counter()  # readings of a feed's stories
        self.full_idf: dict[str, float] = {}  # stems and 5-grams, filled at the first need
        self.full_docs: dict[int, Features] = {}
        self.full_norms: dict[int, float] = {}

    def _stories_with(self, extra: list[list[str]]) -> dict[str, int]:
        """How many stories of the batch say each stem: those whose summary says it, counted
        once per distinct summary (many stories share one), and those whose headline adds it
        (`extra`, for each story)."""
        df = dict(Counter(chain.from_iterable(extra)))
        get = df.get
        for text, count in Counter(map(attrgetter("summary_text"), self.stories)).items():
            for stem in self.summaries[text][0]:  # (a plain loop: fewer instructions)
                df[stem] = get(stem, 0) + count
        return df

    def _rarity(self, df: dict[str, int], squared: bool = False) -> dict[str, float]:
        """Each word's rarity weight (or its square) from the number of stories it is in."""
        n = len(self.stories)
        # Counts repeat (most words are in one story or a few): one logarithm per count.
        weight = {c: math.log((n + 1) / min(c, n)) + 0.1 for c in set(df.values())}
        if squared:
            weight = {c: v * v for c, v in weight.items()}
        return dict(zip(df, map(weight.__getitem__, df.values()), strict=True))

    def same_news(self, i: int, j: int) -> bool:
        """Whether stories i and j tell the same news: alike enough, and sharing more than one
        name. (The stems both say are found once, for both questions.)"""
        shared = self.docs[i].keys() & self.docs[j].keys()
        return self(i, j, shared) >= self.threshold and not self.one_name(i, j, shared)

    def __call__(self, i: int, j: int, shared: Set[str]) -> float:
        """The similarity of stories i and j (0..1): the cosine of their stems (`shared`: the
        stems both say), or, when that comes close to the threshold, of their stems and
        5-grams if that is higher."""
        if self.feeds[i] != self.feeds[j]:  # the common case, inline
            doc, other, idf2 = self.docs[i], self.docs[j], self.idf2
            dot = sum([doc[w] * other[w] * idf2[w] for w in shared])
            if dot:
                norm_a, norm_b = self.norms[i], self.norms[j]
                if norm_a < 0.0:
                    norm_a = self.norm(i)
                if norm_b < 0.0:
                    norm_b = self.norm(j)
                alike = dot / (norm_a * norm_b)
            else:
                alike = 0.0
        else:
            alike = self._cosine(i, j, grams=False)
        if self.near <= alike < self.threshold:
            alike = max(alike, self._cosine(i, j, grams=True))
        return alike

    def _cosine(self, i: int, j: int, grams: bool) -> float:
        """The cosine of two stories of one feed (stems, or stems and 5-grams), or of two
        feeds' stories with their 5-grams: `__call__` does the stems across feeds itself."""
        a, b = self.stories[i], self.stories[j]
        if grams and not self.full_idf:
            self._gram_rarity()
        idf = self.full_idf if grams else self.idf
        if self.feeds[i] == self.feeds[j]:
            if kicker_words(a.title) & kicker_words(b.title):
                # A rubric two stories of one feed repeat says nothing: compare the rest.
                doc = self.wording.features(headline_body(a.title), a.summary_text, grams)[0]
                other = self.wording.features(headline_body(b.title), b.summary_text, grams)[0]
            else:
                doc, other = self._features(i, grams), self._features(j, grams)
            in_feed = self._in_feed(a.feed_url, grams, doc.keys() | other.keys())
            alike = similarity(doc, other, _house_style(idf, in_feed, doc, other))
            # A report its feed repeats (an update, a second kicker, the same summary): its
            # words are in many of the feed's stories because the story is, and house style
            # (or the beat rule) would weigh down all they share, keeping what sets them apart.
            plain = similarity(doc, other, idf)
            return max(alike, plain) if plain >= REPEAT * self.threshold else alike
        doc, other = self._features(i, grams=True), self._features(j, grams=True)
        norm_a, norm_b = self._gram_norm(i), self._gram_norm(j)
        dot = sum([doc[w] * other[w] * idf[w] ** 2 for w in doc.keys() & other.keys()])
        return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0

    def beat(self, i: int, words: Set[str]) -> bool:
        """Whether `words` (names story i shares with another story of its feed) are all its
        feed's beat: each said by more than `BEAT` of the feed's stories (and more than
        `HOUSE_STYLE`), as "China" is by the South China Morning Post. They say which beat the
        two stories are on, not that they tell the same news."""
        feed = self.feeds[i]
        counts = self._in_feed(feed, False, set(words))
        floor = max(HOUSE_STYLE, BEAT * len(self.by_feed[feed]))
        return bool(words) and all(counts[w] > floor for w in words)

    def _in_feed(self, feed: str, grams: bool, needed: set[str]) -> Counter[str]:
        """How many stories of a feed say each word (or 5-gram) of `needed`. Counted for the
        words two of its stories that meet need, not for every word of the feed's stories:
        those of a hundred stories, 5-grams and all, were most of the cost of house style.
        But each such count reads all the feed's stories, so a feed asked about more than
        `WHOLE_FEED` times has every word of its stories counted once instead: one big feed
        (an aggregator's thousands of items) is asked about as often as its stories meet, and
        read whole each time it cost time quadratic in its size."""
        key = (feed, grams)
        counts = self.in_feed.setdefault(key, Counter())
        if self.passes[key] > WHOLE_FEED[grams]:
            return counts  # every word of the feed is counted
        missing = needed.difference(counts)
        if missing:
            stories = self.by_feed[feed]
            keys = (map(self._gram_keys, stories) if grams
                    else map(dict.keys, map(self.docs.__getitem__, stories)))
            self.passes[key] += 1
            if self.passes[key] > WHOLE_FEED[grams]:
                counts = self.in_feed[key] = Counter(chain.from_iterable(keys))
            else:
                counts.update(chain.from_iterable(map(missing.intersection, keys)))
        return counts

    def _gram_keys(self, i: int) -> set[str]:
        """The stems and 5-grams of story i (the keys of its features with 5-grams, without
        weighing them: the union of its words' keys, not its summary's weighted features)."""
        return self.wording.keys(chain(*self.texts[i]))

    def norm(self, i: int) -> float:
        """Story i's norm (that of the first story with its headline and summary)."""
        norm = self.norms[self.same[i]]
        if norm < 0.0:
            idf2 = self.idf2
            norm = self.norms[self.same[i]] = math.sqrt(
                sum([t * t * idf2[w] for w, t in self.docs[i].items()]))
        self.norms[i] = norm
        return norm

    def _features(self, i: int, grams: bool) -> Features:
        """Story i's features, with or without 5-grams."""
        if not grams:
            return self.docs[i]
        i = self.same[i]  # a copy of a headline and summary has its first story's features
        found = self.full_docs.get(i)
        if found is None:
            found = self.full_docs[i] = self.wording.combine(
                self.texts[i][0], self.stories[i].summary_text, grams=True)
        return found

    def _gram_norm(self, i: int) -> float:
        """The norm of story i's stems and 5-grams: only for stories compared across feeds
        (a feed's house style needs the features of all its stories, not their norms)."""
        i = self.same[i]
        norm = self.full_norms.get(i)
        if norm is None:
            idf = self.full_idf
            norm = self.full_norms[i] = math.sqrt(
                sum([(t * idf[w]) ** 2 for w, t in self._features(i, True).items()]))
        return norm

    def _gram_rarity(self) -> None:
        """The rarity of every 5-gram, from the words of the batch: a 5-gram is in at most as
        many stories as the stems of the words that contain it together (counted over the
        vocabulary, not over every story again)."""
        by_stem: dict[str, list[str]] = {}  # the batch's words of 5 letters or more
        vocabulary = set(chain.from_iterable(title for title, _ in self.texts))
        vocabulary.update(*(words for _, words, _ in self.summaries.values()))
        for w in vocabulary:
            if len(w) >= GRAM:
                by_stem.setdefault(w[:STEM_LENGTH], []).append(w)
        df: dict[str, int] = {}  # a plain dict: Counter calls Python for every new key
        stem_df, get, grams = self.df.get, df.get, Wording.grams
        for stem, words in by_stem.items():
            count = stem_df(stem, 0)
            if not count:
                continue
            if len(words) == 1 and len(words[0]) < LONG_WORD:
                # Most stems: one word too short to be a compound, whose one 5-gram is its start.
                gram = GRAM_PREFIX + words[0][:GRAM]
                df[gram] = get(gram, 0) + count
                continue
            for gram in set(grams(words[0]) if len(words) == 1
                            else chain.from_iterable(map(grams, words))):
                df[gram] = get(gram, 0) + count
        self.full_idf = {**self.idf, **self._rarity(df)}

    def one_name(self, i: int, j: int, shared: Set[str]) -> bool:
        """Whether everything stories i and j share (`shared`: the stems both say) is one name:
        the stems they share stand next to each other in both ("Fumio Kishida", "Prime
        Minister Fumio Kishida"), the 5-grams they share come from those words (but one),
        and both headlines say more than that. Such stories share a subject, not news."""
        if not shared or len(shared) > NAME_WORDS:  # the common case ends here
            return False
        titles = [{w[:STEM_LENGTH] for w in self.texts[k][0]} for k in (i, j)]
        if titles[0] <= shared or titles[1] <= shared:
            return False  # a headline said again in full is no name
        texts = [[*title, "", *summary] for title, summary in (self.texts[i], self.texts[j])]
        parent = {w: w for w in shared}

        def root(w: str) -> str:
            while parent[w] != w:
                w = parent[w]
            return w

        bigrams = []
        for text in texts:
            stems = [w[:STEM_LENGTH] for w in text]
            bigrams.append({(x, y) for x, y in zip(stems, stems[1:], strict=False)
                            if x in shared and y in shared})
        for x, y in bigrams[0] & bigrams[1]:  # next to each other in both: one name
            parent[root(x)] = root(y)
        if len({root(w) for w in shared}) > 1:
            return False
        name = {g for w in chain(*texts) if w[:STEM_LENGTH] in shared for g in Wording.grams(w)}
        pieces = [{g for w in text for g in Wording.grams(w)} for text in texts]
        # One 5-gram more is chance ("compe": compensation, competition); a word both say
        # in other forms shares several ("wahle", "ahlen").
        return len(pieces[0] & pieces[1] - name) < 2


def _house_style(idf: dict[str, float], in_feed: Counter[str],
                 a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Weights for two stories of one feed: a word that feed uses in many stories ("Top 10:",
    "heise-Angebot: iX-Workshop:", a section kicker) is its house style, not news, so it counts
    less the more stories of the feed carry it."""
    return {w: idf[w] * min(1.0, HOUSE_STYLE / in_feed[w]) for w in a.keys() | b.keys()}
