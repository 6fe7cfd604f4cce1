"""Rank: what a story's own words and links say about it, for scoring and filing.

In: a story (headline, link, categories) or a cluster's stories, and the editor's word lists.
Out: whether it is soft news and why, which boost or mute words it carries, which section
keywords it matches, and the source it counts as. Pure: no database, network, file or clock.

Soft news is told by what a publisher marks it with, in the two languages of our feeds: a
kicker or tail in the headline ("Watch:", "Video:", "Quiz:", "- in pictures", "In photos:",
"Top 10:", "... im Test", "Kommentar:", "Analysis:"), a link into the publisher's video,
audio, gallery, quiz, opinion, culture or lifestyle pages (/video/, /av/, /sounds/,
/podcast, /in-pictures/, /opinion/, /meinung/, /culture/, /fashion/, /style/), or a category
such as "Podcast", "Video", "Opinion", "Commentary", "Editorials", "Culture", "Fashion". A
headline that asks a question is an analysis or an explainer. Every pattern is a house
convention that many publishers share, not a headline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from digest.model import Story

# Kickers (the label before ":" or "|" that opens a headline) that mark soft news.
_SOFT_KICKER = re.compile(
    r"^\s*(watch|video|videos|listen|audio|podcast|quiz|in pictures|in photos|photos|pictures|"
    r"gallery|photo essay|opinion|analysis|commentary|editorial|review|sponsored|advertisement|"
    r"kommentar|meinung|analyse|bilder|fotos|fotostrecke|anzeige|top \d+)\s*[:|]",
    re.IGNORECASE)
# Tails and phrases anywhere in a headline.
_SOFT_PHRASE = re.compile(
    r"([-–—:|]\s*in (pictures|photos)\s*$)|(\bin pictures\b)|(\b(quiz|podcast|crossword)\b)|"
    r"(\bim test\b)|(\bbilder der woche\b)|(\|\s*c't\b)",
    re.IGNORECASE)
# What every branch of _SOFT_PHRASE spells. The pattern matches these letters in either case,
# and otherwise only as the letters below (which str.lower does not turn into them): a
# headline without those that holds none of these once lower-cased is not searched (the
# pattern is slow: it is tried at every position of the headline).
_SOFT_PHRASE_WORDS = ("in pictures", "in photos", "quiz", "podcast", "crossword", "im test",
                      "bilder der woche", "c't")
_ALSO_ASCII = "\u0130\u0131\u017f"  # "İ" and dotless "ı" match "i", long "ſ" matches "s"
_SOFT_LINK = re.compile(
    r"/(video|videos|av|sounds|audio|podcasts?|gallery|galleries|in-pictures|picture|pictures|"
    r"photos|quiz|quizzes|opinion|opinions|commentisfree|editorials|commentary|meinung|"
    r"kommentar|sponsored|culture|fashion|lifeandstyle|lifestyle|style|arts|film|music|books|"
    r"stage|tv-and-radio|travel|food|entertainment|kultur|panorama)(/|$|\?)",
    re.IGNORECASE)
_KICKER = re.compile(r"\S\s*[:|]\s")  # "Iran-Krieg: ...?" is news that asks what comes next
_SOFT_CATEGORIES = frozenset({
    "podcast", "podcasts", "video", "videos", "quiz", "gallery", "in pictures", "photography",
    "opinion", "commentary", "editorials", "editorial", "review", "reviews", "kommentar",
    "meinung", "sponsored", "culture", "fashion", "life and style", "television & radio",
    "music", "film", "books", "stage", "travel", "food", "entertainment", "kultur",
})


def soft_reason(story: Story) -> str:
    """Why a story is soft news (the pattern that says so), or "" for hard news."""
    found = _SOFT_KICKER.search(story.title) if (
        ":" in story.title or "|" in story.title) else None
    if found:
        return f"headline kicker {found.group(1)!r}"
    found = _SOFT_PHRASE.search(story.title) if _may_be_soft_phrase(story.title) else None
    if found:
        return f"headline {found.group(0).strip(' -–—:|')!r}"
    path = story.url.split("://", 1)[-1].partition("/")[2]
    found = _SOFT_LINK.search("/" + path)
    if found:
        return f"link /{found.group(1)}/"
    for category in story.categories:
        if category.casefold() in _SOFT_CATEGORIES:
            return f"category {category!r}"
    if story.title.rstrip().endswith("?") and not _KICKER.search(story.title):
        # "Can the Palestinian Authority Really Govern Gaza?", "Why are sales so hard to
        # resist?": a headline that asks is an analysis or an explainer, not the report.
        return "headline asks a question"
    return ""


def _may_be_soft_phrase(title: str) -> bool:
    """Whether `_SOFT_PHRASE` may match a headline (False only when it cannot)."""
    if not title.isascii() and any(c in title for c in _ALSO_ASCII):
        return True  # the pattern decides
    lower = title.lower()
    return any(word in lower for word in _SOFT_PHRASE_WORDS)


@lru_cache(maxsize=256)
def _phrases(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for a list of whole words or phrases, without regard to case."""
    kept = [re.escape(w.strip()).replace(r"\ ", r"\s+") for w in words if w.strip()]
    if not kept:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(sorted(kept, key=len, reverse=True)) + r")(?!\w)",
                      re.IGNORECASE)


def matching(words: Sequence[str], texts: Iterable[str]) -> list[str]:
    """The words or phrases of `words` that occur, whole, in any of `texts` (as written in
    `words`, each once, in the order found)."""
    pattern = _phrases(tuple(words))
    if pattern is None:
        return []
    folded = {w.strip().casefold(): w.strip() for w in words}
    found: dict[str, None] = {}
    for text in texts:
        for m in pattern.finditer(text):
            found.setdefault(folded.get(" ".join(m.group(1).split()).casefold(), m.group(1)))
    return list(found)


def source_of(story: Story) -> str:
    """The source a story counts as: its publisher when the config names one (two feeds of
    one publisher are one source), else its feed."""
    return story.publisher or story.feed_url


def source_name(story: Story) -> str:
    """The name a reader knows the source by: the publisher, else the feed's name."""
    return story.publisher or story.source
