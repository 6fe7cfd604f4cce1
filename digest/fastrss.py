"""Parse, the fast path: plain RSS 2.0 read straight from expat, as feedparser would read it.

In: a prepared feed (`feedbytes.prepare`: UTF-8, no DTD). Out: its `RawItem`s, or None when
the feed uses anything beyond the plain subset below, and then feedparser reads it as before.
Used only by `parse.py`.

Why: feedparser costs about 0.45 ms an item (most of a cold fetch's CPU), nearly all of it in
machinery plain feeds do not need. The subset: `<rss version="2.0"><channel>` whose items hold
only `title`, `link`, `guid`, `pubDate`, `description`, `category` and `comments`, each plain
text (no child elements, no attributes but guid's isPermaLink and category's domain), at most
once (category any number of times); no xml:base, no namespaced element in an item, no item
or entry anywhere else. Inside it, every value goes through feedparser's own steps in the
same order (strip, URI join, the Latin-1 re-decoding, the windows-1252 mapping, the link
fixes, its date parser), and tests/test_parse_fast.py checks that both paths give the same
items for every corpus feed the fast path accepts.
"""

from __future__ import annotations

import calendar
import contextlib
import re
import xml.parsers.expat
from datetime import UTC, datetime
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.urls import _urljoin

from digest.jsonfeed import RawItem

_FIELDS = {"title", "link", "guid", "pubDate", "description", "category", "comments"}
_ATTRIBUTES = {"guid": {"isPermaLink"}, "category": {"domain"}}
_SEPARATOR = "\x01"  # between namespace URI and local name in expat's element names
_LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")


class _Unsupported(Exception):
    """The feed leaves the fast path's subset: feedparser reads it."""


def parse_plain_rss(xml_bytes: bytes, base: str) -> list[RawItem] | None:
    """The items of a plain RSS 2.0 feed, exactly as `parse._raw` makes them from
    feedparser's entries; None if the feed is not plain (see the module docstring).

    Args:
        xml_bytes: the prepared feed (UTF-8, DTD removed).
        base: the feed's absolute http(s) URL (each item's content base).
    """
    if not base or b"xml:base" in xml_bytes or b"<rss" not in xml_bytes[:4096]:
        return None
    reader = _Reader(base)
    parser = xml.parsers.expat.ParserCreate("utf-8", namespace_separator=_SEPARATOR)
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(xml_bytes, True)
    except (_Unsupported, xml.parsers.expat.ExpatError, ValueError):
        return None
    return reader.items or None


class _Reader:
    def __init__(self, base: str) -> None:
        self.base = base
        self.depth = 0
        self.items: list[RawItem] = []
        self.item: dict[str, Any] | None = None
        self.field = ""
        self.pieces: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        local = name.rpartition(_SEPARATOR)[2]
        if local.lower() in ("item", "entry") and (depth != 3 or name != "item"):
            raise _Unsupported(name)
        if depth == 1:
            if name != "rss" or attrs.get("version") != "2.0":
                raise _Unsupported(name)
        elif depth == 2 and name != "channel":
            raise _Unsupported(name)
        elif depth == 3 and name == "item":
            self.item = {"categories": []}
        elif depth == 4 and self.item is not None:
            if name not in _FIELDS or (name in self.item and name != "category"):
                raise _Unsupported(name)
            if any(a not in _ATTRIBUTES.get(name, ()) for a in attrs):
                raise _Unsupported(name)
            self.field = name
            self.pieces = []
            self.item[name] = None  # seen; the value comes at the end tag
            if name == "guid":
                self.item["permalink"] = attrs.get("isPermaLink", "true") == "true"
        elif depth > 4 and self.item is not None:
            raise _Unsupported(name)  # markup inside a field: feedparser's business

    def text(self, data: str) -> None:
        if self.field:
            self.pieces.append(data)

    def end(self, name: str) -> None:
        depth = self.depth
        self.depth -= 1
        if depth == 4 and self.item is not None:
            self.field = ""
            value = "".join(self.pieces).strip()
            if name == "category":
                if value:
                    self.item["categories"].append(_finish(value))
                return
            if name == "link" or (name == "guid" and self.item["permalink"] and value):
                value = _urljoin("", value) if value else value
            self.item[name] = _finish(value)
        elif depth == 3 and self.item is not None:
            self.items.append(self._raw(self.item))
            self.item = None

    def _raw(self, item: dict[str, Any]) -> RawItem:
        link = item.get("link")
        if link is not None:
            link = _LINK_REFERENCE.sub(r"&\g<1>", link.replace("&amp;", "&"))
        elif item.get("permalink") and item.get("guid") is not None:
            link = item["guid"]
        published = item.get("pubDate")
        return RawItem(
            id=item.get("guid") or "",
            link=link or "",
            title=item.get("title") or "",
            summary=item.get("description") or "",
            content="",
            base=self.base,
            author="",
            categories=tuple(item["categories"]),
            published=_when(published) if published is not None else None,
            updated=None,
            images=(),
        )


def _finish(value: str) -> str:
    """feedparser's last steps for every text value: text that is UTF-8 read as Latin-1 is
    decoded again, and C1 controls become the windows-1252 characters they stand for."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


def _when(value: str) -> datetime | None:
    return from_struct(_parse_date(value))


def from_struct(parsed: Any) -> datetime | None:
    """A UTC datetime from feedparser's parsed date (a time.struct_time in UTC), or None."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
