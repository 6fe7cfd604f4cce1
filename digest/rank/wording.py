"""Rank, part zero: the words of a story, as clustering (digest/cluster.py) compares them.

In: a story's headline and summary text. Out: its normalised words and a weighted feature map
(word stems plus the character 5-grams of each word). Pure: no database, network, file or clock.

Words are case-folded, stripped of accents and punctuation, English and German stop words
dropped, a plural "s" cut and the rest cut to `STEM_LENGTH` letters (a light stemmer). A stem
only meets a stem; long German compounds and inflections do not share stems ("Kommunalwahlen"
and "Wahlen", "Palästinensergebiete" and "palästinensische Gebiete", "beschlossen" and
"beschließt"), so every word of five letters or more also contributes its character 5-grams,
together weighing as much as the word: two forms of one word share most of them, a compound
shares those of its parts. A word in the headline weighs `TITLE_WEIGHT`, in the summary's
opening 1; a word in both adds up, because what the headline and the summary both say is what
the story is about.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain, islice

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
GRAM = 5  # letters per character n-gram: long enough to be a syllable, not a letter pattern
LONG_WORD = 8  # from this many letters a word may be a compound: all its 5-grams count

GRAM_PREFIX = "#"  # marks a 5-gram key; words never contain it, so keys cannot collide
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# In ASCII text only letters and digits make words: every other character separates them. (A
# byte table: bytes.translate is a lookup per byte, str.translate a dict lookup per character.)
_ASCII_SPACES = bytes(c if chr(c).isalnum() else ord(" ") for c in range(256))
KICKER = re.compile(r"\s*(?::|\|)\s+")
BOILERPLATE_TITLES = 3  # a summary under this many feeds' headlines may be boilerplate
BOILERPLATE_SAMPLE = 6  # the headlines of one summary looked at

Features = dict[str, float]


def folded_words(text: str) -> list[str]:
    """Normalised content words of a text, whole: lower case, no accents, no stop words, no
    plural "s".

    Args:
        text: plain text, such as a headline.
    Returns:
        The words in their order.
    """
    folded = text.casefold()
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded.replace("ß", "ss")))
    # ASCII text (the common case, and most German once its accents are gone): a table and a
    # split, several times the regex's speed.
    found = (folded.encode("ascii").translate(_ASCII_SPACES).decode("ascii").split()
             if folded.isascii() else _WORD.findall(folded))
    # A plural "s" goes: "attacks" meets "attack" even below the truncation length. (One
    # comprehension, indexing rather than endswith, the last letter looked at first: this
    # runs for every word of every story.)
    return [w[:-1] if w[-1] == "s" and len(w) > 3 and w[-2] != "s" else w
            for w in found if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def words(text: str) -> list[str]:
    """Normalised content words of a text: lower case, no accents, no stop words, stemmed.

    Args:
        text: plain text, such as a headline.
    Returns:
        The words in their order, each cut to at most `STEM_LENGTH` characters.
    """
    return [w[:STEM_LENGTH] for w in folded_words(text)]


def kicker_words(title: str) -> frozenset[str]:
    """The whole words of a headline's kicker: the short labels before its last ":" or "|", as
    in "Top 10: ...", "heise-Angebot: iX-Workshop: ..." or "Hannover Messe: ...". A rubric is a
    set phrase a feed repeats word for word; the same subject in other words
    ("Palästinensergebiete:", "Palästinensische Gebiete:") shares no whole word."""
    parts = KICKER.split(title)
    return frozenset(w for part in parts[:-1] for w in folded_words(part))


def headline_body(title: str) -> str:
    """A headline without its kicker (the part after the last ":" or "|")."""
    return KICKER.split(title)[-1]


def boilerplate(texts: Iterable[tuple[str, str, str]],
                headlines: Mapping[str, list[str]]) -> frozenset[tuple[str, str]]:
    """The summaries that say nothing of their stories: one summary text under different
    headlines no word of which most of them say (a site's description on every item, a
    network's subscription blurb under each local paper's news, "Comments"). One report told
    by many outlets under their own headlines shares its summary too, but most of its
    headlines say its name ("Ukraine", "truce"). In one feed two such headlines are enough
    (a report the feed repeats, "Live:" then "Update:", keeps its words); across feeds it
    takes `BOILERPLATE_TITLES` (two outlets may head one report with no word in common).

    Args:
        texts: each story's feed, headline and summary.
        headlines: each headline's words (`folded_words`).
    Returns:
        The feeds and summary texts whose stories are to be read without their summary.
    """
    anywhere: dict[str, dict[str, None]] = {}
    in_feed: dict[tuple[str, str], dict[str, None]] = {}
    for feed, title, summary in texts:
        if summary:
            anywhere.setdefault(summary, {})[title] = None
            in_feed.setdefault((feed, summary), {})[title] = None

    def unlike(titles: dict[str, None], fewest: int) -> bool:
        if len(titles) < fewest:
            return False
        sample = list(islice(titles, BOILERPLATE_SAMPLE))
        said = Counter(chain.from_iterable(
            {w[:STEM_LENGTH] for w in headlines[title]} for title in sample))
        return 2 * max(said.values(), default=0) <= len(sample)

    everywhere = {summary for summary, titles in anywhere.items()
                  if unlike(titles, BOILERPLATE_TITLES)}
    return frozenset(key for key, titles in in_feed.items()
                     if key[1] in everywhere or unlike(titles, 2))


def summary_opening(summary: str) -> str:
    """The part of a summary that clustering reads. Cut before normalising: some feeds put
    whole articles in the summary."""
    return summary[:SUMMARY_WORDS * 12]


class Wording:
    """Feature maps of stories, remembering the work that repeats across a batch: the features
    of each word, and of each summary (the same summary often comes in several feeds)."""

    def __init__(self) -> None:
        self._words: dict[bool, dict[str, Features]] = {False: {}, True: {}}  # by `grams`
        self._summaries: dict[tuple[str, bool], tuple[Features, list[str]]] = {}

    @staticmethod
    def grams(word: str) -> list[str]:
        """The 5-grams a word contributes: all of them for a long word (a compound may hide
        another word anywhere in it), the first for a shorter one (which is what a compound
        that starts or ends with it contains); none below `GRAM` letters."""
        n = len(word)
        if n < LONG_WORD:  # most words: no loop
            return [GRAM_PREFIX + word[:GRAM]] if n >= GRAM else []
        return [GRAM_PREFIX + word[i:i + GRAM] for i in range(n - GRAM + 1)]

    def word(self, word: str, grams: bool) -> Features:
        """A word's features: its stem (weight 1) and, with `grams`, its 5-grams, whose weights
        are shared so that together they weigh as much as the stem (squares sum to 1)."""
        known = self._words[grams]
        found = known.get(word)
        if found is None:
            pieces = self.grams(word) if grams else []
            share = 1 / math.sqrt(len(pieces)) if pieces else 0.0
            found = known[word] = {gram: share for gram in pieces}
            found[word[:STEM_LENGTH]] = 1.0
        return found

    def keys(self, words: Iterable[str]) -> set[str]:
        """The stems and 5-grams of some words: the keys of their features with 5-grams."""
        known = self._words[True]
        return set().union(*[known.get(w) or self.word(w, True) for w in words])

    def _part(self, full: list[str], grams: bool) -> Features:
        if not grams:  # the common case: stems only
            return dict.fromkeys([w[:STEM_LENGTH] for w in full], 1.0)
        part: Features = {}
        known = self._words[grams]
        for w in full:  # a feature two words of one text share counts once
            part.update(known.get(w) or self.word(w, grams))
        return part

    def summary(self, text: str, grams: bool = False) -> tuple[Features, list[str]]:
        """The features of a summary's opening, and its normalised whole words in order."""
        found = self._summaries.get((text, grams))  # the whole text: str keeps its hash
        if found is None:
            # The words are those without 5-grams, often known already.
            full = (self.summary(text)[1] if grams else
                    folded_words(summary_opening(text))[:SUMMARY_WORDS])
            found = self._summaries[(text, grams)] = (self._part(full, grams), full)
        return found

    def features(self, title: str, summary: str,
                 grams: bool = False) -> tuple[Features, list[str]]:
        """A story's feature map, and its headline's normalised whole words in order.

        Args:
            title: the headline (or the part of it to compare).
            summary: the summary text.
            grams: also the 5-grams of the words, not only their stems.
        Returns:
            Stems (and 5-grams) with their weights (headline `TITLE_WEIGHT`, summary 1, added
            up where both say it); the headline's words.
        """
        full = folded_words(title)
        return self.combine(full, summary, grams), full

    def combine(self, title: list[str], summary: str, grams: bool = False) -> Features:
        """The feature map of a headline already split into words (see `features`)."""
        return self.add_headline(self.summary(summary, grams)[0], self._part(title, grams))

    @staticmethod
    def add_headline(summary: Features, headline: Features) -> Features:
        """A story's feature map from its summary's and its headline's (see `features`): the
        headline's weigh `TITLE_WEIGHT` times more, and add up where both say a word."""
        features = dict(summary)
        # A plain loop: this runs for every distinct story of the batch, and Python 3.11 runs
        # it in fewer instructions than `dict.update` fed by `zip` and `map`.
        get = features.get
        for word, weight in headline.items():
            features[word] = get(word, 0.0) + TITLE_WEIGHT * weight
        return features
