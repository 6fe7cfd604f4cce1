"""Parse: turn one feed's bytes into clean `Story` values.

In: a `FetchResult` with status "ok", and the moment of the fetch. Out: the stories it holds,
canonical and sanitized, or a `ParseError` naming what is wrong with the feed.

Three steps: `feedbytes.prepare` decodes the bytes and removes any DTD (entity bombs and
external entities never reach a parser); RSS, Atom and RDF go through feedparser, JSON Feed
through `jsonfeed`; both give `RawItem`s, which `_story` cleans into `Story`s. feedparser's
dictionaries never leave this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from digest.errors import ParseError
from digest.ingest.dates import parse_date
from digest.ingest.fastfeed import read_entries
from digest.ingest.feedbytes import Prepared, prepare
from digest.ingest.jsonfeed import ImageCandidate, RawItem, parse_json
from digest.ingest.sanitize import (
    absolute_http_url,
    canonical_url,
    cap,
    clean_html,
    html_to_text,
    one_line,
    text_of_clean_html,
)
from digest.ingest.tags import start_tags
from digest.model import FetchResult, Image, Story

log = logging.getLogger(__name__)

TITLE_LIMIT = 300
TITLE_FROM_SUMMARY_LIMIT = 120
SUMMARY_LIMIT = 1200
ID_LIMIT = 500  # longer ids are hashed: an id is a key, not content
MAX_SIDE = 10_000  # pixels: larger image widths and heights are a feed's mistake
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # before the web had feeds: an impossible date

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
               "application/json", "application/rdf+xml")


@dataclass(frozen=True)
class ParsedFeed:
    """What a feed's bytes hold: its raw items and the base URL for their links."""

    items: list[RawItem]
    base: str  # absolute http(s) URL, or "" (a local file)
    encoding: str


def parse_feed(result: FetchResult, now: datetime) -> list[Story]:
    """The stories in a fetched feed.

    Args:
        result: a successful fetch (status "ok").
        now: the fetch time (UTC); undated stories take it, future dates are clamped to it.
    Returns:
        The feed's stories, in feed order; items without a usable link, or with neither a
        title nor a summary, are left out (logged).
    Raises:
        ParseError: the bytes are not a feed (the message names the feed and why).
    """
    parsed = read_items(result)
    stories: dict[str, Story] = {}
    for raw in parsed.items:
        # One item's edge: whatever its fields make cleaning raise costs that item only.
        try:
            story = make_story(result, raw, parsed.base, now)
        except Exception as e:
            log.warning("feed %s: item %r left out: %s: %r", result.feed.url,
                        cap(one_line(raw.link or raw.id), 80), type(e).__name__,
                        cap(one_line(str(e)), 200))
            continue
        if story is None:
            log.info("feed %s: item %r has no usable link or title; left out",
                     result.feed.url, cap(one_line(raw.link or raw.id), 80))
            continue
        twin = stories.get(story.id)
        if twin is not None:
            if (twin.url, twin.title) == (story.url, story.title):
                continue  # the same item twice
            # A publisher reused an id for another item: keep both, the later one with an
            # id of its own that stays the same on every fetch of the same item.
            digest = hashlib.sha256(f"{story.title}|{story.published}".encode()).hexdigest()
            story = dataclasses.replace(story, id=f"{story.id}#{digest[:12]}")
        stories[story.id] = story
    return list(stories.values())


def read_items(result: FetchResult) -> ParsedFeed:
    """The raw items of a fetched feed, before cleaning.

    Raises:
        ParseError: the bytes are not a feed, or the parser failed on them.
    """
    headers = {k.lower(): v for k, v in result.headers.items()}
    base = absolute_http_url(result.final_url or result.feed.url)
    prepared = prepare(result.body, headers.get("content-type", ""))
    if prepared.kind == "json":
        items, home = parse_json(prepared.text, result.feed.url)
        return ParsedFeed(items, base or absolute_http_url(home), prepared.encoding)
    xml_bytes = prepared.xml_bytes
    # The fast path needs the feed's URL: without one (a local file) the base for links is
    # the feed's own link, which only feedparser's reading of the channel gives.
    fast = read_entries(xml_bytes) if prepared.kind == "xml" and base else None
    if fast is not None:
        return ParsedFeed([_raw(e, base) for e in fast], base, prepared.encoding)
    try:
        parsed = feedparser.parse(
            xml_bytes,
            # No content-location: feedparser would resolve guids against it too, and a
            # story's id must not change when its feed moves. Links are resolved in
            # make_story, against xml:base (which feedparser applies) and the feed's URL.
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,  # we allow-list with nh3 ourselves
            resolve_relative_uris=False,  # and resolve the links in summaries ourselves
        )
    except Exception as e:  # feedparser can raise almost anything on hostile input
        raise ParseError(f"feed {result.feed.url}: the parser failed ({type(e).__name__}: "
                         f"{e}); the feed is broken, tell its publisher") from e
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        raise ParseError(_not_a_feed(result, prepared, base, parsed.get("bozo_exception")))
    feed_base = base or str(parsed.get("feed", {}).get("link") or "")
    return ParsedFeed([_raw(e, base) for e in entries], absolute_http_url(feed_base),
                      prepared.encoding)


def _not_a_feed(result: FetchResult, prepared: Prepared, base: str, why: Any) -> str:
    url = result.feed.url
    if prepared.kind != "html":
        reason = f" ({why})" if why else ""
        return (f"feed {url}: not an RSS, Atom or JSON feed{reason}; check that the URL is the "
                "feed itself")
    advertised = advertised_feeds(prepared.text, base)
    if advertised:
        return (f"feed {url}: an HTML page, not a feed; the page advertises a feed at "
                f"{advertised[0]}: put that URL in config.toml")
    return (f"feed {url}: an HTML page, not a feed, and it advertises no feed; find the site's "
            "feed URL and put it in config.toml")


def advertised_feeds(page: str, base: str) -> list[str]:
    """The feed URLs an HTML page names in `<link rel="alternate" type="...">`, in order."""
    found = []
    for attrs in start_tags(page[:1_000_000], "link"):
        rels = attrs.get("rel", "").lower().split()
        if "alternate" in rels and attrs.get("type", "").lower().strip() in _FEED_TYPES:
            url = absolute_http_url(attrs.get("href", ""), base)
            if url and url not in found:
                found.append(url)
    return found


def _raw(entry: Any, base: str) -> RawItem:
    """A feedparser entry (or the fast path's dict of the same keys) as a `RawItem`. Links
    are as feedparser left them: joined with any xml:base (it does that even with
    resolve_relative_uris off), maybe still relative."""
    summary = str(entry.get("summary") or "")
    contents = entry.get("content") or []
    content = next((str(c.get("value")) for c in contents if c.get("value")), "")
    detail = entry.get("summary_detail") or (contents[0] if contents else {})
    images: list[ImageCandidate] = []
    for m in [*(entry.get("media_content") or []), *(entry.get("media_thumbnail") or [])]:
        if m.get("medium") in (None, "image") and str(m.get("type") or "image/").startswith(
            "image/"
        ):
            images.append(ImageCandidate(str(m.get("url") or ""), _int(m.get("width")),
                                         _int(m.get("height"))))
    for e in entry.get("enclosures") or []:
        if str(e.get("type", "")).startswith("image/"):
            images.append(ImageCandidate(str(e.get("href") or "")))
    return RawItem(
        id=str(entry.get("id") or ""),
        link=str(entry.get("feedburner_origlink") or entry.get("link") or ""),
        title=str(entry.get("title") or ""),
        summary=summary,
        content=content,
        base=str(detail.get("base") or base),
        author=str(entry.get("author") or ""),
        categories=tuple(str(t.get("term")) for t in entry.get("tags") or [] if t.get("term")),
        # The text, not feedparser's *_parsed: its fallback completes partial dates from the
        # clock. dict.get: feedparser's own get() maps a missing date to the other.
        published=parse_date(dict.get(entry, "published")),
        updated=parse_date(dict.get(entry, "updated")),
        images=tuple(images),
    )


def make_story(result: FetchResult, raw: RawItem, base: str, now: datetime) -> Story | None:
    """One clean `Story` from a raw item, or None if it has no usable link or title."""
    feed = result.feed
    content_base = base if raw.base == base else absolute_http_url(raw.base, base) or base
    url = canonical_url(raw.link, base)
    summary_html = clean_html(raw.summary or raw.content, content_base)
    summary_text = cap(text_of_clean_html(summary_html), SUMMARY_LIMIT)
    if len(summary_html) > SUMMARY_LIMIT * 2:
        # Cutting HTML breaks tags: a long summary becomes its capped plain text.
        summary_html = clean_html(_escape(summary_text))
    # Titles are read as HTML in every format: publishers escape them (even in JSON Feed,
    # whose spec says plain text), and a stray tag must not reach a subject line.
    title = cap(html_to_text(raw.title), TITLE_LIMIT) or cap(summary_text, TITLE_FROM_SUMMARY_LIMIT)
    if not url or not title:
        return None
    published, dated = _published(raw, now)
    story_id = one_line(raw.id) or url
    if len(story_id) > ID_LIMIT:
        story_id = "sha256:" + hashlib.sha256(story_id.encode()).hexdigest()
    return Story(
        feed_url=feed.url,
        source=feed.name,
        section=feed.section,
        id=story_id,
        url=url,
        title=title,
        summary_html=summary_html,
        summary_text=summary_text,
        published=published,
        author=cap(one_line(html_to_text(raw.author)), 120),
        categories=tuple(dict.fromkeys(c for c in (cap(one_line(c), 80) for c in
                                                   raw.categories[:50]) if c)),
        image=_image(raw, content_base),
        weight=feed.weight,
        featured=feed.featured,
        dated=dated,
    )


def _published(raw: RawItem, now: datetime) -> tuple[datetime, bool]:
    """The publication time and whether the feed gave it (else: the fetch time)."""
    for when in (raw.published, raw.updated):
        if when is None or when < EARLIEST:
            continue  # missing or impossible
        if when > now:
            return now, False  # a date in the future: clamped to when we saw it
        return when, True
    return now, False


def _image(raw: RawItem, base: str) -> Image | None:
    """The item's picture: a named image first, else the first `<img>` of its HTML; among
    them a wide one before one of unknown shape before a tall one (an email shows a picture
    in a landscape frame, and a tall one not at all). Tracking pixels (a side of 0 or 1) are
    not pictures."""
    candidates = list(raw.images)
    for markup in (raw.content, raw.summary):
        for attrs in start_tags(markup[:2_000_000], "img"):
            candidates.append(ImageCandidate(html.unescape(attrs.get("src", "")),
                                             _int(attrs.get("width")), _int(attrs.get("height")),
                                             alt=html.unescape(attrs.get("alt", ""))))
    usable = []
    for c in candidates:
        url = canonical_image_url(c.url, base)
        if not url or any(side is not None and side <= 1 for side in (c.width, c.height)):
            continue
        usable.append(Image(url=url, width=_side(c.width), height=_side(c.height),
                            alt=cap(one_line(c.alt), 200)))
    return max(usable, key=_wideness, default=None)  # max keeps the first of equals


def _wideness(image: Image) -> int:
    if image.width is None or image.height is None:
        return 1
    return 2 if image.width >= image.height else 0


def canonical_image_url(url: str, base: str) -> str:
    """An image URL made absolute http(s); its query is kept (image services need it)."""
    return absolute_http_url(url.strip(), base)


def _side(pixels: int | None) -> int | None:
    """An image side a template can scale: 1..10,000 pixels, else unknown (a 400-digit
    height overflowed the arithmetic that sizes the picture)."""
    return pixels if pixels is not None and 1 <= pixels <= MAX_SIDE else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None
