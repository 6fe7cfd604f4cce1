"""Parse, the fast path: RSS 2.0, RSS 1.0 and Atom read straight from expat, as feedparser
reads them.

In: a prepared feed (`feedbytes.prepare`: UTF-8, no DTD). Out: its entries as plain dicts
with the keys `parse._raw` reads, equal to the ones feedparser would give; or None when the
feed holds anything this path does not copy exactly, and then feedparser reads it as before.
Used only by `parse.py`.

Why: feedparser costs about 0.45 ms an item (most of a cold fetch's CPU), nearly all of it in
machinery these feeds do not need. How it stays exact: elements are named as feedparser
names them (namespace URI to its prefix, lower case: `content_encoded`, `media_thumbnail`),
with its attribute dictionary and its xml:base stack; inside an item every element is one of
(a) those whose handler `fastentry.py` copies, (b) those feedparser stores only under keys we
never read (`slash_comments`, `itunes_duration`, unknown namespaces), or (c) anything else,
which declines the feed: any other element feedparser has a handler for (media:description
and itunes:subtitle-like mappings into summary, media:title, georss, source, ...), markup
inside a field, xhtml or base64 content, an item or entry anywhere but its place.
tests/test_parse_fast.py checks both paths against each other on the corpus and on
generated feeds.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import Any

from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from digest.fastentry import (
    AUTHOR,
    AUTHOR_PARTS,
    CATEGORY,
    CONTENT,
    GUID,
    HARMLESS,
    LINK,
    PUBLISHED,
    SUMMARY,
    TITLE,
    UPDATED,
    Decline,
    EntryBuilder,
    has_handler,
    unknown_is_harmless,
)

_SEPARATOR = "\x01"  # between namespace URI and local name in expat's names
_KNOWN = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_USERLAND = "http://backend.userland.com/rss"
# Fields whose handler fastentry copies; they hold text only.
_FIELDS = (TITLE | LINK | GUID | PUBLISHED | UPDATED | set(SUMMARY) | set(CONTENT) | CATEGORY
           | {"itunes_keywords", "enclosure", "media_content", "media_thumbnail",
              "feedburner_origlink"})
_CONTAINERS = {"media_group": {"media_content", "media_thumbnail"},
               "contributor": AUTHOR_PARTS} | {key: AUTHOR_PARTS for key in AUTHOR}
_NO_ATTRIBUTES = {"itunes_keywords", "feedburner_origlink"}  # else feedparser stores a dict
_ITEM_ATTRIBUTES = {"xml:base", "base", "xml:lang", "lang"}
# Feed-level elements whose text feedparser keeps (markup inside them is text to it).
_FEED_TEXT = set(SUMMARY) | set(CONTENT) | TITLE | {
    "subtitle", "tagline", "itunes_subtitle", "rights", "copyright", "dc_rights", "info",
    "feedburner_browserfriendly", "abstract", "body", "xhtml_body", "media_title", "dc_title",
    "media_description", "dc_description",
}


def read_entries(xml_bytes: bytes) -> list[dict[str, Any]] | None:
    """The entries of an RSS 2.0, RSS 1.0 or Atom feed as feedparser gives them (the keys
    `parse._raw` reads), or None if the feed leaves the subset (see the module docstring).

    Args:
        xml_bytes: the prepared feed (UTF-8, DTD removed).
    """
    head = xml_bytes[:4096]
    if b"<rss" not in head and b"feed" not in head and b"RDF" not in head:
        return None
    reader = _Reader()
    parser = xml.parsers.expat.ParserCreate("utf-8", namespace_separator=_SEPARATOR)
    parser.buffer_text = True
    parser.StartNamespaceDeclHandler = reader.namespace
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(xml_bytes, True)
    except (Decline, xml.parsers.expat.ExpatError, ValueError, KeyError, IndexError):
        return None
    return reader.entries or None


class _Reader:
    """expat's events turned into feedparser's element keys, attributes and xml:base."""

    def __init__(self) -> None:
        self.in_use: dict[str, str] = {}  # feedparser's namespaces_in_use
        self.prefixes: dict[str | None, str] = {}  # feedparser's namespacemap
        self.depth = 0
        self.base = ""
        self.bases: list[str] = []
        self.joined: dict[tuple[str, str], str] = {}  # (base, xml:base) -> the new base
        self.keys: dict[str, str] = {}  # expat's name -> feedparser's key, while unchanged
        self.root = ""
        self.feed_keys: list[str] = []  # open elements outside items
        self.feed_summary = False
        self.entries: list[dict[str, Any]] = []
        self.entry: EntryBuilder | None = None
        self.entry_depth = 0
        self.open: list[tuple[str, dict[str, str], list[str], str]] = []  # inside the item

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        """feedparser's track_namespace (its version guess aside: nothing here reads it)."""
        if not uri:
            return
        self.keys.clear()  # a declaration can change how later names map
        if any(c.isspace() for c in uri):
            raise Decline("a namespace URI with spaces")  # SAX would split it differently
        lower = uri.lower()
        if _USERLAND in lower or "backend.userland.com/rss" in lower:
            uri = lower = _USERLAND
        if lower in _KNOWN:
            self.prefixes[prefix or None] = _KNOWN[lower]
            self.in_use[_KNOWN[lower]] = uri
        else:
            self.in_use[prefix or ""] = uri

    def _key(self, name: str) -> str:
        """The element's name as feedparser's handlers are named (`media_thumbnail`)."""
        uri, _, local = name.rpartition(_SEPARATOR)
        local = local.lower()
        lower = uri.lower()
        if "backend.userland.com/rss" in lower:
            uri = lower = _USERLAND
        prefix = _KNOWN.get(lower) if uri else None
        if not prefix and uri:
            prefix = next((p for p, u in self.in_use.items() if p and u == uri), None)
        key = local
        if prefix:
            prefix = self.prefixes.get(prefix.lower(), prefix.lower())
            key = f"{prefix}_{local}" if prefix else local
        self.keys[name] = key
        return key

    def _attributes(self, attrs: dict[str, str]) -> dict[str, str]:
        """feedparser's attribute dictionary: `prefix:name` for known namespaces, then every
        local name again; names lower case, and the values of rel and type too."""
        found: dict[str, str] = {}
        for name, value in attrs.items():
            uri, _, local = name.rpartition(_SEPARATOR)
            prefix = _KNOWN.get(uri.lower(), "") if uri else ""
            found[(f"{prefix}:{local}" if prefix else local).lower()] = value
        for name, value in attrs.items():
            found[name.rpartition(_SEPARATOR)[2].lower()] = value
        for key in ("rel", "type"):
            if key in found:
                found[key] = found[key].lower()
        return found

    def start(self, name: str, raw_attrs: dict[str, str]) -> None:
        self.depth += 1
        attrs = self._attributes(raw_attrs) if raw_attrs else {}
        given = attrs.get("xml:base", attrs.get("base")) or self.base
        step = (self.base, given)
        if step not in self.joined:  # the same join for nearly every element: remembered
            if self.base:
                self.joined[step] = make_safe_absolute_uri(self.base, given) or self.base
            else:
                self.joined[step] = _urljoin(self.base, given)
        self.base = self.joined[step]
        self.bases.append(self.base)
        key = self.keys.get(name) or self._key(name)
        if self.entry is None:
            self._start_outside(key, attrs)
        else:
            self._start_inside(key, attrs)

    def _start_outside(self, key: str, attrs: dict[str, str]) -> None:
        depth = self.depth
        if depth == 1:
            if key == "rss" and not attrs.get("version", "").startswith("2."):
                raise Decline("not RSS 2")
            if key not in ("rss", "feed", "rdf_rdf"):
                raise Decline(f"root {key}")
            self.root = key
        parent = self.feed_keys[-1] if self.feed_keys else ""
        if key in ("item", "entry"):
            placed = ((self.root, key, depth) in (("feed", "entry", 2), ("rdf_rdf", "item", 2))
                      or (self.root, key, depth, parent) == ("rss", "item", 3, "channel"))
            if not placed or set(attrs) - _ITEM_ATTRIBUTES - {"rdf:about", "about"}:
                raise Decline(f"{key} at depth {depth} or with attributes")
            if self.root != "rdf_rdf" and ("rdf:about" in attrs or "about" in attrs):
                raise Decline("rdf:about outside RDF")
            self.entry = EntryBuilder(has_content=False)
            self.entry_depth = depth
            about = attrs.get(self.prefixes.get("rdf", "rdf") + ":about")
            if about:
                self.entry.entry["id"] = about
            return
        if depth == 2 and self.root == "rss" and key != "channel":
            raise Decline(f"{key} beside the channel")
        if parent in _FEED_TEXT:
            raise Decline(f"markup inside the feed's {parent}")
        if key in CONTENT:
            raise Decline("feed-level content")  # it would change how the first item reads
        if key in SUMMARY:
            # feedparser keeps a feed-level summary (not a description) as "summary"; a
            # summary-like element after it becomes content and changes the first item.
            if self.feed_summary:
                raise Decline("a summary after a feed-level summary")
            self.feed_summary = key in ("summary", "itunes_summary")
        self.feed_keys.append(key)

    def _start_inside(self, key: str, attrs: dict[str, str]) -> None:
        assert self.entry is not None
        if key in ("item", "entry"):
            raise Decline(f"{key} inside an item")
        if self.open:
            parent, _, _, kind = self.open[-1]
            if kind != "container" or key not in _CONTAINERS[parent] and not (
                parent == "media_group" and self._leaf(key)
            ):
                raise Decline(f"{key} inside {parent}")
        if key in _CONTAINERS:
            kind = "container"
        elif key in _FIELDS or (key in AUTHOR_PARTS and self.open):
            kind = "field"
        elif self._leaf(key):
            kind = "leaf"
        else:
            raise Decline(f"{key} in an item")
        if key in _NO_ATTRIBUTES and attrs:
            raise Decline(f"{key} with attributes")
        self.entry.start(key, attrs, self.base)
        self.open.append((key, attrs, [], kind))

    @staticmethod
    def _leaf(key: str) -> bool:
        return key in HARMLESS or (not has_handler(key) and unknown_is_harmless(key))

    def text(self, data: str) -> None:
        if self.open:
            self.open[-1][2].append(data)

    def end(self, name: str) -> None:
        entry = self.entry
        if entry is not None:
            if self.open:
                key, attrs, pieces, kind = self.open.pop()
                if kind != "leaf":
                    entry.end(key, attrs, "".join(pieces), self.base)
            elif self.depth == self.entry_depth:
                self.entries.append(entry.done())
                self.entry = None
        elif self.feed_keys:
            self.feed_keys.pop()
        self.bases.pop()
        if self.bases and self.bases[-1]:
            self.base = self.bases[-1]
        self.depth -= 1
