"""Parse, the fast path's items: one item's elements as feedparser's handlers store them.

In: the events of one RSS `<item>` or Atom `<entry>` (element keys as feedparser names them,
its normalised attributes, the text, the xml:base in force), from `fastfeed.py`. Out: the
entry as a plain dict with the keys feedparser gives and `parse._raw` reads (id, link, title,
summary, summary_detail, content, author, tags, published_parsed, updated_parsed,
media_content, media_thumbnail, enclosures, feedburner_origlink), or `Decline` when the
item holds something whose effect on those keys this module does not copy exactly.

Each handler below is feedparser 6.0's (feedparser/mixin.py and namespaces/*.py) reduced to
what it does to those keys, in the same order, with its quirks: the first non-empty title
wins (media:title only if none, an item's image or source lets a later title replace it); a
value found deeper than one found higher is dropped; a guid or Atom id is the link unless a
link comes; a second summary-like element (description, summary, itunes:summary,
media:description) is content when no content came before it; a content element fills an
empty summary; an author's name and email become "name (email)"; a category's text fills
the term of a category that had none; values are stripped, links resolved against
xml:base, text that is UTF-8 read as Latin-1 decoded again and C1 controls mapped as
windows-1252. A new feedparser release may change any of this: tests/test_parse_fast.py
compares both paths on the corpus and on generated feeds, so CI says so.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urifixer, _urljoin


class Decline(Exception):
    """The feed leaves the fast path's subset: feedparser reads it."""


# Element keys whose handler this module copies, grouped by what they do.
TITLE = {"title", "dc_title"}
LINK = {"link"}
GUID = {"guid", "id"}
PUBLISHED = {"pubdate", "published", "issued", "dcterms_issued"}
UPDATED = {"updated", "modified", "dc_date", "dcterms_modified", "lastbuilddate"}
SUMMARY = {"description": "text/html", "dc_description": "text/html",
           "media_description": "text/html", "summary": "text/plain",
           "itunes_summary": "text/plain"}
CONTENT = {"content": "text/plain", "content_encoded": "text/html", "fullitem": "text/html"}
CATEGORY = {"category", "keywords", "dc_subject"}
AUTHOR = {"author", "dc_creator", "dc_author", "itunes_author", "managingeditor"}
AUTHOR_PARTS = {"name", "email", "uri", "url", "homepage"}
# Elements whose only effect on what we read: a title after them replaces the one before
# (feedparser forgets the title's depth); with text only, never with child elements.
TITLE_RESETS = {"image", "source"}
# Handlers that store only keys `parse._raw` never reads (checked in feedparser's source):
# their text and attributes may be anything, but not child elements.
HARMLESS = {
    "comments", "itunes_explicit", "itunes_image", "itunes_subtitle", "itunes_block",
    "itunes_duration", "media_credit", "media_rating", "media_restriction", "media_license",
    "dc_language", "language", "dc_rights", "rights", "copyright", "dc_publisher", "created",
    "dcterms_created",
}
# Keys an element without a handler must not be stored under (feedparser stores its text
# or attributes under its own name): the ones read, and the lists handlers append to.
PROTECTED = {
    "id", "link", "links", "title", "summary", "summary_detail", "content", "author",
    "authors", "author_detail", "tags", "category", "published", "published_parsed",
    "updated", "updated_parsed", "media_content", "media_thumbnail", "enclosures",
    "feedburner_origlink", "license", "guidislink", "contributors", "href", "image",
}
_KEYMAP = {"guid": "id", "date": "updated", "date_parsed": "updated_parsed",
           "description": "summary", "description_detail": "summary_detail",
           "modified_parsed": "updated_parsed", "issued_parsed": "published_parsed"}
XHTML = "application/xhtml+xml"
TEXT_TYPES = {"text/plain", "text/html", XHTML}
_HTML_TYPES = {"application/xhtml+xml", "text/html"}
_EMAIL = re.compile(  # feedparser's, as it is
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|"""
    r"""(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?""")
_LOCAL_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+")
_C1 = re.compile("[\x80-\x9f]")  # the code points feedparser's _cp1252 table maps
# An absolute http(s) URL that urljoin's split and join give back unchanged: lower-case
# scheme, a plain host, printable ASCII, no ";" (path parameters), and no "?" or "#" that
# is empty (urlunsplit drops those).
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[!-:<-~]*)?\Z")
_PLAIN_URL_TAIL = re.compile(r"[?#](?:[#?]|\Z)")
# The element keys feedparser's parser class has a _start_ or _end_ method for.
_HANDLERS = frozenset(name.partition("_")[2].partition("_")[2] for name in dir(_FeedParserMixin)
                      if name.startswith(("_start_", "_end_")))
_LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
_ITUNES = "http://www.itunes.com/"


def _email_in(text: str) -> re.Match[str] | None:
    """`_EMAIL.search(text)` in linear time. The pattern's local part is a run of characters
    that must end at an "@", so a match can only start where the run before some "@"
    starts; searching from every other position rescanned each long run (quadratic)."""
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and text[start - 1] in _LOCAL_PART:
            start -= 1
        if start < at:
            match = _EMAIL.match(text, start)
            if match:
                return match
        at = text.find("@", at + 1)
    return None


def has_handler(key: str) -> bool:
    """Whether feedparser has a handler for an element it names `key` (`media_content`)."""
    return key in _HANDLERS


def unknown_is_harmless(key: str) -> bool:
    """Whether an element feedparser has no handler for is harmless: it stores its text (or,
    with attributes, the attributes) under its own key, through FeedParserDict's key map."""
    return key not in PROTECTED and _KEYMAP.get(key, key) not in PROTECTED


def content_type(attrs: dict[str, str], default: str) -> str:
    """feedparser's type of a text construct; plain text, HTML and xhtml are in the subset
    (other types are base64, and src points elsewhere)."""
    kind = attrs.get("type", default).lower()
    kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html",
            "xhtml": "application/xhtml+xml"}.get(kind, kind)
    if kind not in TEXT_TYPES or "mode" in attrs or "src" in attrs:
        raise Decline(f"content type {kind!r}")
    return kind


def finish(text: str, base: str | None = None) -> str:
    """feedparser's last steps for a value: stripped, resolved against `base` if given (a
    link), then text that is UTF-8 read as Latin-1 is decoded again, and C1 controls become
    the windows-1252 characters they stand for."""
    text = text.strip()
    if base is not None and text:
        text = join(base, text)
    if not text.isascii():  # both steps leave ASCII as it is; most text is ASCII
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
        if _C1.search(text):  # str.translate with a dict is slow: only when it changes
            text = text.translate(_cp1252)
    return text


def join(base: str, uri: str) -> str:
    """feedparser's _urljoin, without its cost where the answer is known: against no base
    urljoin returns the URI as it is (only feedparser's fix for extra slashes after the
    scheme applies), and a plain absolute http(s) URL against a plain base comes back
    unchanged (urljoin's split and join give back the same string)."""
    if not base:
        return str(_urifixer.sub(r"\1\3", uri))
    if _PLAIN_URL.match(uri) and _PLAIN_URL.match(base) and not _PLAIN_URL_TAIL.search(uri):
        return uri
    return str(_urljoin(base, uri))


def enforce_href(attrs: dict[str, str]) -> dict[str, str]:
    """feedparser's _enforce_href: url, else uri, else href becomes href."""
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    return attrs


class EntryBuilder:
    """One item's dict, built from its element events as feedparser's handlers build it.

    `depth` is an element's depth below the item (1 for its children): feedparser keeps a
    value found deeper (media:title inside media:content) only if none was found higher.
    """

    def __init__(self, xhtml: bool, has_content: bool) -> None:
        self.entry: dict[str, Any] = {}
        self.xhtml = xhtml  # Atom 1.0: xhtml text constructs are read (else declined)
        self.has_content = has_content  # feedparser's hasContent, reset when an item ends
        self.title_depth = -1  # the depth of the first non-empty title
        self.depths: dict[str, int] = {}  # feedparser's property_depth_map
        self.guid_is_link = False
        self.authors: list[dict[str, str]] | None = None
        self.in_author = False
        self.links: list[dict[str, str]] = []
        self.content_base: list[str] = []  # xml:base at the start of each open text element

    # -- start tags ----------------------------------------------------------------------
    def start(self, key: str, attrs: dict[str, str], base: str) -> tuple[str, bool]:
        """An element inside the item opens. Returns the key its end tag is handled as (a
        summary can turn into content) and whether its text is xhtml markup."""
        entry = self.entry
        kind = ""
        if key in LINK:
            self._start_link(attrs, base)
        elif key in GUID:
            self.guid_is_link = attrs.get("ispermalink", "true") == "true"
        elif key in SUMMARY:
            if "summary" in entry and not self.has_content:
                # A second summary-like element is read as content (feedparser's
                # _start_description/_start_summary), of type text unless it says otherwise.
                key = "content"
                self.has_content = True
                kind = self._text_type(attrs, "text/plain")
            else:
                kind = self._text_type(attrs, SUMMARY[key])
            self.content_base.append(base)
        elif key in CONTENT:
            self.has_content = True
            kind = self._text_type(attrs, CONTENT[key])
            self.content_base.append(base)
        elif key in CATEGORY:
            self._add_tag(attrs.get("term"), attrs.get("scheme", attrs.get("domain")),
                          attrs.get("label"))
        elif key in AUTHOR:
            self.in_author = True
            self.authors = self.authors or []
            self.authors.append({})
        elif key == "enclosure":
            attrs = enforce_href(attrs)
            attrs["rel"] = "enclosure"
            self.links.append(attrs)
        elif key == "media_content":
            entry.setdefault("media_content", []).append(attrs)
        elif key == "media_thumbnail":
            entry.setdefault("media_thumbnail", []).append(attrs)
        elif key in TITLE or key == "media_title":
            kind = self._text_type(attrs, "text/plain")
        elif key in TITLE_RESETS:
            self.title_depth = -1
        return key, kind == XHTML

    def _text_type(self, attrs: dict[str, str], default: str) -> str:
        kind = content_type(attrs, default)
        if kind == XHTML and not self.xhtml:
            raise Decline("xhtml outside Atom 1.0")
        return kind

    def _store(self, key: str, value: str, depth: int) -> None:
        """feedparser's pop: a value found deeper than one already stored is dropped."""
        known = self.depths.get(key)
        if known is None or depth <= known:
            self.depths[key] = depth
            self.entry[key] = value

    def _start_link(self, attrs: dict[str, str], base: str) -> None:
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self"
                         else "text/html")
        attrs = enforce_href(attrs)
        if "href" in attrs:
            attrs["href"] = join(base, attrs["href"])
        self.links.append(attrs)
        if "href" in attrs:
            kind = attrs.get("type") or ""
            kind = {"html": "text/html", "xhtml": "application/xhtml+xml"}.get(kind, kind)
            if attrs.get("rel") == "alternate" and kind in _HTML_TYPES:
                self.entry["link"] = attrs["href"]
        else:
            attrs["_text"] = "1"  # its text is the link (popped below, never stored)

    # -- end tags --------------------------------------------------------------------------
    def end(self, key: str, text: str, base: str, depth: int) -> None:
        """The element `key` closes; `text` is its direct text (for xhtml, its markup),
        `base` the xml:base now, `depth` its depth below the item."""
        entry = self.entry
        if key in TITLE or key == "media_title":
            value = finish(text)
            if not -1 < self.title_depth <= depth:
                self._store("title", value, depth)
                if value and key != "media_title":  # media:title leaves the depth as it was
                    self.title_depth = depth
        elif key in LINK:
            link = self.links[-1] if self.links else {}
            if link.pop("_text", None) is not None:
                value = finish(text, base)
                value = _LINK_REFERENCE.sub(r"&\g<1>", value.replace("&amp;", "&"))
                entry["link"] = value
                if value:
                    link["href"] = value
        elif key in GUID:
            value = finish(text, base if self.guid_is_link else None)
            self._store("id", value, depth)
            if self.guid_is_link:
                entry.setdefault("link", value)
        elif key in PUBLISHED:
            entry["published"] = finish(text)
            entry["published_parsed"] = _parse_date(entry["published"])
        elif key in UPDATED:
            entry["updated"] = finish(text)
            entry["updated_parsed"] = _parse_date(entry["updated"])
        elif key in SUMMARY:
            self._store("summary", finish(text), depth)
            entry["summary_detail"] = {"base": self.content_base.pop()}
        elif key in CONTENT:
            value = finish(text)
            entry.setdefault("content", []).append({"value": value,
                                                    "base": self.content_base.pop()})
            entry.setdefault("summary", value)
        elif key in CATEGORY:
            self._end_category(finish(text))
        elif key == "itunes_keywords":
            for term in finish(text).split(","):
                if term.strip():
                    self._add_tag(term.strip(), _ITUNES, None)
        elif key in AUTHOR:
            self._store("author", finish(text), depth)
            self.in_author = False
            self._sync_author()
        elif key in AUTHOR_PARTS and self.in_author:
            value = text.strip() if key in ("name", "email") else finish(text, base)
            self._sync_author()
            assert self.authors is not None
            self.authors[-1]["name" if key == "name" else
                             "email" if key == "email" else "href"] = value
        elif key == "media_thumbnail":
            value = finish(text, base)
            if value.strip() and "url" not in entry["media_thumbnail"][-1]:
                entry["media_thumbnail"][-1]["url"] = value
        elif key == "feedburner_origlink":
            self._store("feedburner_origlink", finish(text), depth)

    def _end_category(self, value: str) -> None:
        if not value:
            return
        tags = self.entry["tags"]
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(value, None, None)

    def _add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = self.entry.setdefault("tags", [])
        if not term and not scheme and not label:
            return
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)

    def _sync_author(self) -> None:
        """feedparser's _sync_author_detail: a structured author (Atom name/email) sets the
        author string; a plain one only fills the detail, which a later part may read."""
        detail = self.authors[-1] if self.authors else {}
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                self.entry["author"] = f"{name} ({email})"
            elif name:
                self.entry["author"] = name
            elif email:
                self.entry["author"] = email
            return
        author, email = self.entry.get("author"), None
        if not author:
            return
        match = _email_in(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def done(self) -> dict[str, Any]:
        """The entry, with its enclosures (links whose rel is "enclosure", without rel)."""
        enclosures = [{k: v for k, v in link.items() if k != "rel"}
                      for link in self.links if link.get("rel") == "enclosure"]
        if enclosures:
            self.entry["enclosures"] = enclosures
        return self.entry
