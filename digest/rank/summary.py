"""Rank: a story's summary as an editor would print it.

In: a story and `[ranking] summary_chars`. Out: the same story with its summary edited, the
HTML and the text part saying the same words. Pure: no database, network, file or clock.

Why here and not in ingest: the length is an editorial setting of the edition, and the store
keeps what the publisher wrote, so a better pattern (or another length) applies to stories
already fetched. Only the stories an edition shows are edited (clustering reads the opening
of the summary, which boilerplate rarely reaches, and a feed's own repeated words count
little there).

Editing: block quotes, embedded posts, code, lists, tables and figures go (a summary is the
publisher's prose, not what it quotes); then the publisher's boilerplate (`BOILERPLATE`, each
pattern from a real feed); then whole sentences are kept up to `summary_chars`, ending at a
sentence boundary (a first sentence longer than that is cut at a word, with "…"). A short
trailing line with no full stop (a source name such as "Medscape News Canada") is not a
sentence and goes too.
"""

from __future__ import annotations

import dataclasses
import html
import re

from digest.model import Cluster, Story

_BLOCKS = ("blockquote", "pre", "code", "ul", "ol", "table", "figure", "figcaption", "iframe")
_DROP_BLOCKS = re.compile(
    r"<(blockquote|pre|code|ul|ol|table|figure|figcaption|iframe)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<(/?(p|div|br|li|h[1-6]|section|article)\b)[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")

# Publisher boilerplate, each with the feed it was found in (tests/test_summary.py) and a
# piece of text it cannot match without (looked for first: most summaries have none).
BOILERPLATE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (needle, re.compile(pattern, re.IGNORECASE)) for needle, pattern in (
        # Macworld: "To read this article in full, please click here"
        ("click here", r"\bto read this article in full,? please click here\.?"),
        # The Guardian: "... Continue reading..."
        ("continue reading", r"\bcontinue reading(\.\.\.|…|\.)?"),
        # Slashdot: "Read more of this story at Slashdot."
        ("read more of", r"\bread more of this story at [\w .-]{1,40}\."),
        # DC Rainmaker: "... Read More Here →"
        ("read more", r"(…|\.\.\.)?\s*\bread more( here)?\b\s*(→|»|\.\.\.|…)?"),
        # Luke Dorny (JSON Feed): "Read the full post — Luke Thank you for reading via RSS"
        ("read the full", r"\bread the full (post|story|article)\b.*$"),
        ("reading via rss", r"\bthank you for reading via rss\b.*$"),
        # WordPress: "The post Title appeared first on Site."
        ("appeared first on", r"\bthe post .{1,200}? appeared first on .{1,80}?(\.|$)"),
        # Craigslist, Pixel Envy: a truncation marker "[...]" or "[…]"
        ("[", r"\s*\[(\.\.\.|…)\]"),
        # Reddit: "submitted by /u/name to /r/books [link] [comments]"
        ("submitted by", r"\bsubmitted by /u/\S+( to /r/\S+)?(\s*\[link\])?(\s*\[comments\])?"),
        # Talking Points Memo: an embedded tweet's "pic.twitter.com/…" and its byline
        ("pic.twitter", r"\S*pic\.twitter\.com/\S+( — [^()]{1,60}\(@\w+\) \w+ \d{1,2}, \d{4})?"),
    ))
# A sentence that lists where to follow or share: three or more networks' names.
_NETWORKS = re.compile(r"\b(twitter|facebook|instagram|linkedin|youtube|tiktok|mastodon|"
                       r"telegram|tumblr|whatsapp|tapastic|webtoon|threads|bluesky)\b",
                       re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9ÄÖÜÀ-Ý])")
_END = re.compile(r"[.!?…][\"”’)\]]*$")
SOURCE_LINE_WORDS = 6  # a trailing line without a full stop this short is a source name


class Editor:
    """Edits summaries to `chars`, remembering the work for a summary seen again (the same
    summary comes in several feeds, and a feed's copies of a story)."""

    def __init__(self, chars: int) -> None:
        self.chars = chars
        self._done: dict[tuple[str, str], tuple[str, str]] = {}

    def edit(self, story: Story) -> Story:
        """The story with its summary edited (the same object when nothing changed)."""
        key = (story.summary_html, story.summary_text)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._edit(*key)
        if found == key:
            return story
        return dataclasses.replace(story, summary_html=found[0], summary_text=found[1])

    def edit_cluster(self, cluster: Cluster) -> Cluster:
        """The cluster with the summaries of its stories edited."""
        stories = tuple(self.edit(s) for s in cluster.stories)
        if all(a is b for a, b in zip(stories, cluster.stories, strict=True)):
            return cluster
        return dataclasses.replace(cluster, stories=stories)

    def _edit(self, summary_html: str, summary_text: str) -> tuple[str, str]:
        if "<" in summary_html:
            lowered = summary_html.lower()
            kept = _DROP_BLOCKS.sub(" ", summary_html) if any(
                f"<{tag}" in lowered for tag in _BLOCKS) else summary_html
            text = html.unescape(_TAGS.sub("", _BREAKS.sub(" ", kept)))
        else:
            text = html.unescape(summary_html) if summary_html else summary_text
        text = _SPACE.sub(" ", text).strip()
        edited = sentences(strip_boilerplate(text), self.chars)
        if edited == _SPACE.sub(" ", summary_text).strip() and "<blockquote" not in (
                summary_html):
            return summary_html, summary_text
        return (f"<p>{html.escape(edited, quote=False)}</p>" if edited else ""), edited


def strip_boilerplate(text: str) -> str:
    """A summary's text without the publisher's boilerplate (`BOILERPLATE`, share lines)."""
    lowered = text.casefold()
    for needle, pattern in BOILERPLATE:
        if needle in lowered:
            text = pattern.sub(" ", text)
    if len(_NETWORKS.findall(text)) < 3:
        return _SPACE.sub(" ", text).strip()
    parts = [p for p in _SENTENCE.split(_SPACE.sub(" ", text).strip())
             if len(_NETWORKS.findall(p)) < 3]
    return " ".join(parts).strip()


def sentences(text: str, chars: int) -> str:
    """The whole sentences of `text` that fit in `chars` characters; a first sentence longer
    than that is cut at a word, with "…". A short last line with no full stop goes."""
    parts = _SENTENCE.split(text) if text else []
    if len(parts) > 1 and not _END.search(parts[-1]) and len(
            parts[-1].split()) <= SOURCE_LINE_WORDS:
        parts.pop()
    kept: list[str] = []
    length = 0
    for part in parts:
        if length + len(part) + (1 if kept else 0) > chars:
            break
        kept.append(part)
        length += len(part) + (1 if len(kept) > 1 else 0)
    if kept:
        return " ".join(kept)
    if not parts:
        return ""
    cut = parts[0][:chars - 1].rsplit(" ", 1)[0].rstrip(" ,;:–—-")
    return cut + "…"
