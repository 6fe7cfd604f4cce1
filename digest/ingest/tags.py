"""Tags: find the start tags of one name in feed HTML and read their attributes, in linear time.

In: markup from a feed (hostile: unclosed tags, endless attributes, no `>` at all). Out: each
`<name ...>` tag's attributes as a dict. Used by parse for `<img>` in summaries and for the
`<link rel="alternate">` of an HTML page.

Why not a regular expression: `<img\\b[^>]*>` and an attribute pattern with a backtracking
name both rescan the rest of the text from every start position when the closing `>` or `=` is
missing, so a few hundred KB of `<img ` cost minutes. Here every character is looked at a
bounded number of times: each search starts where the previous one ended.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_SPACE = re.compile(r"[\s/]*")
_NAME = re.compile(r"[^\s/>=\"']+")
_UNQUOTED = re.compile(r"[^\s>]*")


def start_tags(markup: str, name: str) -> Iterator[dict[str, str]]:
    """The attributes of every `<name ...>` start tag in `markup`, in order.

    Names are matched case-insensitively; attribute names are lower-cased, values are as
    written (not unescaped) and the first of a repeated attribute wins. The tag ends at the
    first `>`; a tag without one is not a tag, and nothing after it is either.
    """
    opening = re.compile(rf"<{re.escape(name)}(?=[\s/>])", re.IGNORECASE)
    position = 0
    while True:
        found = opening.search(markup, position)
        if found is None:
            return
        end = markup.find(">", found.end())
        if end < 0:
            return
        yield _attributes(markup, found.end(), end)
        position = end + 1


def _attributes(markup: str, start: int, end: int) -> dict[str, str]:
    """The attributes in markup[start:end]: name, name=value, name="value", name='value'."""
    found: dict[str, str] = {}
    i = start
    while True:
        i = _skip(markup, i, end)
        if i >= end:
            return found
        name_match = _NAME.match(markup, i, end)
        if name_match is None:  # a stray quote or "=": step over it
            i += 1
            continue
        attribute = name_match.group().lower()
        i = _skip_space(markup, name_match.end(), end)
        value = ""
        if i < end and markup[i] == "=":
            i = _skip_space(markup, i + 1, end)
            if i < end and markup[i] in "\"'":
                close = markup.find(markup[i], i + 1, end)
                close = end if close < 0 else close
                value = markup[i + 1:close]
                i = close + 1
            else:
                unquoted = _UNQUOTED.match(markup, i, end)
                assert unquoted is not None  # [^\s>]* matches the empty string
                value = unquoted.group()
                i = unquoted.end()
        found.setdefault(attribute, value)


def _skip(markup: str, i: int, end: int) -> int:
    skipped = _SPACE.match(markup, i, end)
    return skipped.end() if skipped else i


def _skip_space(markup: str, i: int, end: int) -> int:
    while i < end and markup[i].isspace():
        i += 1
    return i
