"""Render's text shaping: the inbox lines (subject, preheader), break points in long words, and
the plain-text part's paragraphs and links.

In: plain text or allow-listed HTML from a story. Out: strings for the templates; the HTML ones
as `Markup`, escaped here. Pure functions, no state.
"""

from __future__ import annotations

import html
import re
import textwrap

from markupsafe import Markup, escape

from digest.ingest.sanitize import cap, one_line

SUBJECT_LIMIT = 60  # characters of the lead headline in the subject: phones show about 40
SUBJECT_MORE_LIMIT = 72  # "+ N more" is added only while the subject stays this short
LONG_WORD = 20  # characters without a space after which a word gets break points
WORD_PIECE = 10  # characters between two break points in a long word
# Invisible characters after the preheader: the inbox preview shows them as blank instead of
# pulling in the text that follows ("View in browser"). U+034F and U+200C are zero-width.
# A zero-width space: a break point that is plain text, so every client honours it (Gmail's
# iOS app and Outlook for Windows drop <wbr>).
BREAK = "&#8203;"
PREHEADER_SPACER = "&#847;&zwnj;&nbsp;" * 40

_LONG = re.compile(rf"\S{{{LONG_WORD + 1},}}")
_TEXT_NODE = re.compile(r">([^<]+)<")
_UNIT = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);|.", re.S)  # an entity or one character


def shorten(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """`text` on one line, cut at the last word boundary before `limit` characters with an
    ellipsis (or mid-word when the first word alone is longer)."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def subject_line(title: str, more: int, limit: int = SUBJECT_LIMIT) -> str:
    """The default subject: the lead headline cut near `limit` characters, with "+ N more"
    when the headline fits whole and the line stays short enough for a phone's inbox."""
    line = shorten(title, limit)
    extra = f" + {more} more"
    if more > 0 and line == one_line(title) and len(line + extra) <= SUBJECT_MORE_LIMIT:
        return line + extra
    return line


def _break_word(word: str) -> str:
    """An escaped long word with a break point every `WORD_PIECE` characters, entities whole."""
    units = _UNIT.findall(word)
    pieces = ["".join(units[i:i + WORD_PIECE]) for i in range(0, len(units), WORD_PIECE)]
    return BREAK.join(pieces)


def breakable(text: str) -> Markup:
    """Plain text escaped, with break points in words longer than `LONG_WORD` characters (a
    URL, a hostile run of letters), so they wrap on a phone in every client, without the CSS
    (word-break, overflow-wrap) that Gmail and Yahoo ignore."""
    escaped = str(escape(text))
    return Markup(_LONG.sub(lambda m: _break_word(m.group(0)), escaped))


def breakable_html(markup: str) -> Markup:
    """Allow-listed HTML with the same break points in the long words of its text."""
    def text_node(match: re.Match[str]) -> str:
        return ">" + _LONG.sub(lambda m: _break_word(m.group(0)), match.group(1)) + "<"

    return Markup(_TEXT_NODE.sub(text_node, markup))


# --- the plain-text part --------------------------------------------------------------------

_BLOCK_END = re.compile(r"</(?:p|div|li|h[1-6]|blockquote|pre|tr)\s*>|<br\s*/?>", re.I)
_LINK = re.compile(r"<a\b[^>]*?\bhref\s*=\s*\"([^\"]*)\"[^>]*>(.*?)</a\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def text_paragraphs(summary_html: str, summary_text: str) -> list[str]:
    """A summary as plain-text paragraphs: the breaks of its HTML kept, each link written as
    its words followed by the URL in angle brackets (a reader of the text part cannot click a
    word, so "click here" gets its target), other markup dropped.

    Args:
        summary_html: the allow-listed HTML (preferred: it has the paragraph breaks).
        summary_text: the plain text, used when there is no HTML.
    Returns:
        Paragraphs of one line each; none are empty.
    """
    if not summary_html.strip():
        return [p for p in (one_line(summary_text),) if p]

    def link(match: re.Match[str]) -> str:
        url = html.unescape(match.group(1)).strip()
        words = match.group(2)
        if not url.lower().startswith(("http://", "https://")):
            return words
        shown = one_line(html.unescape(_TAG.sub("", words)))
        return words if shown == url else f"{words} &lt;{html.escape(url)}&gt;"

    marked = _BLOCK_END.sub("\n\n", _LINK.sub(link, summary_html))
    paragraphs = (one_line(html.unescape(_TAG.sub("", chunk))) for chunk in marked.split("\n\n"))
    return [cap(p, 4000) for p in paragraphs if p]


def wrap(text: str, width: int = 72, indent: str = "") -> str:
    """Text filled to `width` columns. A URL is never split (a broken URL no longer works),
    so its line may be longer; any other word longer than a line is cut into pieces."""
    room = max(width - len(indent), 1)
    words = [
        " ".join(word[i:i + room] for i in range(0, len(word), room))
        if len(word) > room and "://" not in word else word
        for word in text.split()
    ]
    return textwrap.fill(
        " ".join(words), width=width, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )
