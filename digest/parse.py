"""Parse: turn one feed's bytes into clean `Story` values.

In: a `FetchResult` with status "ok", and the moment of the fetch. Out: the stories it holds,
canonical and sanitized, or a `ParseError` naming what is wrong with the feed. feedparser's
dictionaries never leave this module.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from digest.errors import ParseError
from digest.model import FetchResult, Image, Story
from digest.sanitize import canonical_url, cap, clean_html, html_to_text, one_line

log = logging.getLogger(__name__)

TITLE_LIMIT = 300
SUMMARY_LIMIT = 1200


def parse_feed(result: FetchResult, now: datetime) -> list[Story]:
    """The stories in a fetched feed.

    Args:
        result: a successful fetch (status "ok").
        now: the fetch time (UTC); undated stories take it, future dates are clamped to it.
    Returns:
        The feed's stories, in feed order, items without a usable link or title left out.
    Raises:
        ParseError: the bytes are not a feed at all.
    """
    try:
        parsed = feedparser.parse(
            result.body,
            response_headers={k.lower(): v for k, v in result.headers.items()},
            sanitize_html=False,  # we allow-list with nh3 ourselves
        )
    except Exception as e:  # feedparser can raise almost anything on hostile input
        raise ParseError(f"feed {result.feed.url}: the parser failed: {e}") from e
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("feed"):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or RDF content"
        raise ParseError(f"feed {result.feed.url}: not a feed ({reason})")
    base = result.final_url or result.feed.url
    base = base if base.startswith(("http://", "https://")) else ""
    stories = []
    for entry in entries:
        story = _story(result, entry, base, now)
        if story is not None:
            stories.append(story)
    return stories


def _story(result: FetchResult, entry: Any, base: str, now: datetime) -> Story | None:
    feed = result.feed
    link = entry.get("feedburner_origlink") or entry.get("link") or ""
    url = canonical_url(link, base)
    summary_source = _summary_source(entry)
    summary_html = clean_html(summary_source, base)
    summary_text = cap(html_to_text(summary_source), SUMMARY_LIMIT)
    title = cap(html_to_text(entry.get("title") or ""), TITLE_LIMIT)
    if not title:
        title = cap(summary_text, 120)
    if not url or not title:
        log.info("feed %s: item without a usable link or title left out", feed.name)
        return None
    published = _published(entry, now)
    guid = one_line(entry.get("id") or "")
    story_id = guid or url or hashlib.sha256(f"{title}|{published}".encode()).hexdigest()
    return Story(
        feed_url=feed.url,
        source=feed.name,
        section=feed.section,
        id=story_id,
        url=url,
        title=title,
        summary_html=_cap_html(summary_html, summary_text),
        summary_text=summary_text,
        published=published,
        author=cap(one_line(entry.get("author") or ""), 120),
        categories=tuple(
            one_line(t.get("term") or "") for t in entry.get("tags") or [] if t.get("term")
        ),
        image=_image(entry, base),
        weight=feed.weight,
        featured=feed.featured,
    )


def _summary_source(entry: Any) -> str:
    summary = entry.get("summary") or ""
    if not summary:
        for content in entry.get("content") or []:
            if content.get("value"):
                return str(content["value"])
    return str(summary)


def _cap_html(summary_html: str, summary_text: str) -> str:
    """Long HTML summaries are replaced by their capped plain text: cutting HTML breaks tags."""
    if len(summary_html) <= SUMMARY_LIMIT * 2:
        return summary_html
    return clean_html(summary_text)


def _published(entry: Any, now: datetime) -> datetime:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return now
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return now
    return min(when, now)


def _image(entry: Any, base: str) -> Image | None:
    candidates: list[dict[str, Any]] = []
    candidates += entry.get("media_content") or []
    candidates += entry.get("media_thumbnail") or []
    candidates += [
        {"url": e.get("href"), "type": e.get("type", "")}
        for e in entry.get("enclosures") or []
        if str(e.get("type", "")).startswith("image/")
    ]
    for c in candidates:
        if c.get("medium") not in (None, "image") or not str(c.get("type") or "image/").startswith(
            "image/"
        ):
            continue
        url = canonical_url(str(c.get("url") or ""), base)
        width, height = _int(c.get("width")), _int(c.get("height"))
        if not url or (width is not None and width <= 1) or (height is not None and height <= 1):
            continue  # tracking pixels are not pictures
        return Image(url=url, width=width, height=height)
    return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
