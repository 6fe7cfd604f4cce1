"""Parse, the JSON side: JSON Feed 1.0 and 1.1 (https://jsonfeed.org), and RSS-in-JSON.

In: a decoded JSON document. Out: `RawItem`s, the same shape `parse.py` makes of
feedparser's entries, so both formats go through one cleaning step. A JSON document that is
neither format is a `ParseError` that says what it is.

RSS-in-JSON ({"rss": {"channel": {"item": [...]}}}, Dave Winer's format, used by Scripting
News) is read too: its items are RSS items with the same names, so reading it costs a few
lines, and rejecting it would lose a feed that a publisher offers on purpose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from digest.errors import ParseError
from digest.ingest.dates import parse_rfc822, parse_rfc3339

MAX_ITEMS = 100_000  # more items than any feed has; bounds the work on hostile input


@dataclass(frozen=True)
class ImageCandidate:
    """An image a feed names for an item, before it is checked."""

    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""


@dataclass(frozen=True)
class RawItem:
    """One item as its feed gives it, before cleaning: strings may hold anything."""

    id: str = ""
    link: str = ""
    title: str = ""
    summary: str = ""  # HTML (or plain text, which is valid HTML once escaped)
    content: str = ""  # HTML
    base: str = ""  # base URL for relative links inside summary/content
    author: str = ""
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    images: tuple[ImageCandidate, ...] = field(default_factory=tuple)


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(text: str, feed_url: str) -> tuple[list[RawItem], str]:
    """The items of a JSON Feed or RSS-in-JSON document.

    Args:
        text: the decoded document.
        feed_url: the feed's URL, for messages.
    Returns:
        The items, and the feed's home page URL (a base for relative links) or "".
    Raises:
        ParseError: not JSON, or JSON that is neither JSON Feed nor RSS-in-JSON.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"feed {feed_url}: not valid JSON ({e}); check the URL") from e
    if isinstance(data, dict) and isinstance(data.get("rss"), dict):
        return _rss_in_json(data["rss"], feed_url)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError(
            f"feed {feed_url}: JSON, but not a JSON Feed (no \"items\" list) nor RSS-in-JSON; "
            "check that the URL is the site's feed"
        )
    version = str(data.get("version") or "")
    if version and "jsonfeed.org/version/" not in version:
        raise ParseError(f"feed {feed_url}: unknown JSON Feed version {version!r}")
    home = _str(data.get("home_page_url"))
    items = [_json_feed_item(i) for i in data["items"][:MAX_ITEMS] if isinstance(i, dict)]
    return items, home


def _json_feed_item(item: dict[str, Any]) -> RawItem:
    images = [ImageCandidate(_str(item.get(k))) for k in ("image", "banner_image")
              if _str(item.get(k))]
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, dict) and _str(attachment.get("mime_type")).startswith("image/"):
            images.append(ImageCandidate(_str(attachment.get("url"))))
    content = _str(item.get("content_html"))
    if not content and item.get("content_text"):
        content = _escape(_str(item.get("content_text")))
    return RawItem(
        id=_str(item.get("id")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=_str(item.get("title")),
        summary=_escape(_str(item.get("summary"))),
        content=content,
        author=_author(item),
        categories=tuple(_str(t) for t in item.get("tags") or [] if _str(t)),
        published=parse_rfc3339(item.get("date_published")),
        updated=parse_rfc3339(item.get("date_modified")),
        images=tuple(images),
    )


def _author(item: dict[str, Any]) -> str:
    authors = item.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        return _str(authors[0].get("name"))
    author = item.get("author")
    return _str(author.get("name")) if isinstance(author, dict) else ""


def _rss_in_json(rss: dict[str, Any], feed_url: str) -> tuple[list[RawItem], str]:
    channel = rss.get("channel")
    if not isinstance(channel, dict):
        raise ParseError(f"feed {feed_url}: RSS-in-JSON without a channel")
    items = channel.get("item") or []
    if isinstance(items, dict):
        items = [items]
    raw = []
    for item in items[:MAX_ITEMS] if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        guid = item.get("guid")
        enclosure = item.get("enclosure")
        images = []
        if isinstance(enclosure, dict) and _str(enclosure.get("type")).startswith("image/"):
            images.append(ImageCandidate(_str(enclosure.get("url"))))
        category = item.get("category") or []
        raw.append(RawItem(
            id=_str(guid.get("#value") if isinstance(guid, dict) else guid),
            link=_str(item.get("link")),
            title=_str(item.get("title")),
            summary=_str(item.get("description")),
            author=_str(item.get("author")),
            categories=tuple(_str(c) for c in (category if isinstance(category, list)
                                               else [category]) if _str(c)),
            published=parse_rfc822(item.get("pubDate")),
            images=tuple(images),
        ))
    return raw, _str(channel.get("link"))


def _str(value: Any) -> str:
    if isinstance(value, str):
        # JSON's \u escapes can spell half a surrogate pair, which no encoder accepts.
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are sometimes numbers in the wild
    return ""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
