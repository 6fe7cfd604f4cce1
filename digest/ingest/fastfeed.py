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
which declines the feed: any other element feedparser has a handler for (georss, podlove
chapters, an Atom source, an item's image with child elements, ...), markup inside a field
that is not Atom 1.0 xhtml, svg or math inside xhtml, base64 or `src` content, an item or
entry anywhere but its place. Feed-level state that feedparser carries into the first item
(a content flag) is copied too. tests/test_parse_fast.py checks both paths against each
other on the corpus, on generated feeds and on random trees.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import Any
from xml.sax.saxutils import escape

from feedparser.mixin import _FeedParserMixin
from feedparser.urls import make_safe_absolute_uri

from digest.ingest.fastentry import (
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
    TITLE_RESETS,
    UPDATED,
    Decline,
    EntryBuilder,
    has_handler,
    join,
    unknown_is_harmless,
)

_SEPARATOR = "\x01"  # between namespace URI and local name in expat's names
_KNOWN = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_USERLAND = "http://backend.userland.com/rss"
# Fields whose handler fastentry copies; they hold text only.
_FIELDS = (TITLE | LINK | GUID | PUBLISHED | UPDATED | set(SUMMARY) | set(CONTENT) | CATEGORY
           | TITLE_RESETS | {"itunes_keywords", "enclosure", "media_thumbnail", "media_title",
                             "feedburner_origlink"})
_MEDIA = {"media_content", "media_thumbnail", "media_title", "media_description"}
_CONTAINERS = {"media_group": _MEDIA, "media_content": _MEDIA - {"media_content"},
               "contributor": AUTHOR_PARTS} | {key: AUTHOR_PARTS for key in AUTHOR}
_LEAF_PARENTS = {"media_group", "media_content"}  # may hold harmless elements too
_XLINK = "http://www.w3.org/1999/xlink"
_MAX_NAMESPACES = 200  # real feeds declare a dozen
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
    parser.namespace_prefixes = True  # as SAX asks expat: attribute names keep their prefix
    parser.StartNamespaceDeclHandler = reader.namespace
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(xml_bytes, True)
    except Exception:  # Decline, an XML error, or a surprise: feedparser decides
        return None
    return reader.entries or None


def _split(name: str) -> tuple[str, str, str]:
    """expat's name as (namespace URI, local name, prefix as written), "" where absent."""
    parts = name.split(_SEPARATOR)
    if len(parts) == 1:
        return "", name, ""
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def _xhtml(pieces: list[str]) -> str:
    """feedparser's pop for Atom 1.0 xhtml: markup without the one <div> around it all.
    (Blank pieces at either end go first, as in feedparser, but in one slice: deleting them
    one by one from the front is quadratic.)"""
    end = len(pieces)
    while end > 1 and not pieces[end - 1].strip():
        end -= 1
    start = 0
    while end - start > 1 and not pieces[start].strip():
        start += 1
    pieces = pieces[start:end]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and (
        pieces[-1] == "</div>"
    ):
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return "".join(pieces)


class _Reader:
    """expat's events turned into feedparser's element keys, attributes and xml:base."""

    def __init__(self) -> None:
        self.in_use: dict[str, str] = {}  # feedparser's namespaces_in_use
        self.prefixes: dict[str | None, str] = {}  # feedparser's namespacemap
        self.depth = 0
        self.base = ""
        self.bases: list[str] = []
        self.joined: dict[tuple[str, str], str] = {}  # (base, xml:base) -> the new base
        # expat's name -> feedparser's key and whether it has a prefix, while unchanged
        self.keys: dict[str, tuple[str, bool]] = {}
        self.root = ""
        self.feed_keys: list[str] = []  # open elements outside items
        self.summaries: set[str] = set()  # feed-level contexts with a summary (_feed_summary)
        self.in_image = False  # feedparser's inimage and intextinput
        self.in_textinput = False
        self.carry_content = False  # feedparser's hasContent, set outside the item
        self.entries: list[dict[str, Any]] = []
        self.entry: EntryBuilder | None = None
        self.entry_depth = 0
        # Open elements inside the item: key, text pieces, kind, depth below the item.
        self.open: list[tuple[str, list[str], str, int]] = []
        self.xhtml_pieces: list[str] = []  # the markup of the open xhtml text construct
        self.version = ""  # feedparser's guess, as far as xhtml needs it (Atom 1.0 or not)

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        """feedparser's track_namespace (its version guess aside: nothing here reads it)."""
        if not uri:
            return
        self.keys.clear()  # a declaration can change how later names map
        if any(c.isspace() for c in uri):
            raise Decline("a namespace URI with spaces")  # SAX would split it differently
        if uri == _XLINK and prefix:
            raise Decline("xlink")  # feedparser adds its declaration to the next element
        if len(self.in_use) > _MAX_NAMESPACES:
            raise Decline("too many namespaces")  # naming an element looks through them all
        lower = uri.lower()
        if not self.version:
            self.version = {"http://my.netscape.com/rdf/simple/0.9/": "rss090" if not prefix
                            else "", "http://purl.org/rss/1.0/": "rss10",
                            "http://www.w3.org/2005/atom": "atom10"}.get(lower, "")
        if _USERLAND in lower or "backend.userland.com/rss" in lower:
            uri = lower = _USERLAND
        if lower in _KNOWN:
            self.prefixes[prefix or None] = _KNOWN[lower]
            self.in_use[_KNOWN[lower]] = uri
        else:
            self.in_use[prefix or ""] = uri

    def _key(self, name: str) -> tuple[str, bool]:
        """The element's name as feedparser's handlers are named (`media_thumbnail`), and
        whether it has a prefix there."""
        uri, local, _ = _split(name)
        local = local.lower()
        lower = uri.lower()
        if "backend.userland.com/rss" in lower:
            uri = lower = _USERLAND
        prefix = _KNOWN.get(lower) if uri else None
        if not prefix and uri:
            prefix = next((p for p, u in self.in_use.items() if p and u == uri), None)
        if prefix:
            prefix = self.prefixes.get(prefix.lower(), prefix.lower())
        found = (f"{prefix}_{local}", True) if prefix else (local, False)
        self.keys[name] = found
        return found

    def _attributes(self, attrs: dict[str, str]) -> dict[str, str]:
        """feedparser's attribute dictionary: `prefix:name` with the usual prefix of a known
        namespace (else the bare name), then the name as written; names lower case, and the
        values of rel and type too."""
        found: dict[str, str] = {}
        if not any(_SEPARATOR in name for name in attrs):  # no namespaced attribute (most)
            found = {name.lower(): value for name, value in attrs.items()}
        else:
            for name, value in attrs.items():
                uri, local, _ = _split(name)
                prefix = _KNOWN.get(uri.lower(), "") if uri else ""
                found[(f"{prefix}:{local}" if prefix else local).lower()] = value
            for name, value in attrs.items():  # then SAX's qualified names
                _, local, given = _split(name)
                found[(f"{given}:{local}" if given else local).lower()] = value
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
                self.joined[step] = join(self.base, given)
        self.base = self.joined[step]
        self.bases.append(self.base)
        key, prefixed = self.keys.get(name) or self._key(name)
        if not prefixed:  # feedparser's "special hack" for image and textinput
            if key not in ("title", "link", "description", "name"):
                self.in_textinput = False
            if key not in ("title", "link", "description", "url", "href", "width", "height"):
                self.in_image = False
        if self.entry is None:
            self._start_outside(key, attrs)
        else:
            self._start_inside(name, key, attrs)

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
            self.entry = EntryBuilder(xhtml=self.root == "feed" and self.version == "atom10",
                                      has_content=self.carry_content)
            self.carry_content = False  # cleared when this item ends
            self.entry_depth = depth
            about = attrs.get(self.prefixes.get("rdf", "rdf") + ":about")
            if about:
                self.entry.entry["id"] = about
            return
        if depth == 2 and self.root == "rss" and key != "channel":
            raise Decline(f"{key} beside the channel")
        if parent in _FEED_TEXT:
            raise Decline(f"markup inside the feed's {parent}")
        if key in CONTENT or key in SUMMARY:
            self._feed_summary(key)
        elif key == "source":
            raise Decline("a feed-level source")
        self.in_image = self.in_image or key == "image"
        self.in_textinput = self.in_textinput or key == "textinput"
        self.feed_keys.append(key)

    def _feed_summary(self, key: str) -> None:
        """feedparser's hasContent outlives the feed-level element that set it, up to the end
        of the next item: a summary-like element where a summary is (in the feed, its image
        or its textinput) is read as content, and then that item's second summary-like
        element is not. A description is stored as the subtitle, not as the summary."""
        context = "image" if self.in_image else "textinput" if self.in_textinput else "feed"
        if key in CONTENT:
            self.carry_content = True
            self.summaries.add(context)  # an empty summary takes the content
        elif context in self.summaries and not self.carry_content:
            self.carry_content = True  # read as content
        elif key in ("summary", "itunes_summary"):
            self.summaries.add(context)

    def _start_inside(self, name: str, key: str, attrs: dict[str, str]) -> None:
        entry = self.entry
        assert entry is not None
        parent, _, parent_kind, _ = self.open[-1] if self.open else ("", [], "", 0)
        if parent_kind in ("xhtml", "inline"):
            self._start_inline(name, key, attrs)
            return
        if key in ("item", "entry"):
            raise Decline(f"{key} inside an item")
        if key in _CONTAINERS:
            kind = "container"
        elif key in _FIELDS or (key in AUTHOR_PARTS and parent):
            kind = "field"
        elif key in HARMLESS:
            kind = "leaf"
        elif not has_handler(key) and unknown_is_harmless(key):
            kind = "unknown"
        else:
            raise Decline(f"{key} in an item")
        if parent and not (
            (parent_kind == "container" and key in _CONTAINERS[parent])
            or (kind in ("leaf", "unknown")
                and (parent in _LEAF_PARENTS or parent_kind == "unknown"))
            or (kind == "unknown" and parent in AUTHOR)
        ):
            raise Decline(f"{key} inside {parent}")
        if key in _NO_ATTRIBUTES and attrs:
            raise Decline(f"{key} with attributes")
        key, xhtml = entry.start(key, attrs, self.base)
        # feedparser keeps no place for the text of an element it has no handler for when it
        # has attributes: that text goes to the element around it (an author's name, say).
        pieces: list[str] = self.open[-1][1] if kind == "unknown" and attrs and parent else []
        if xhtml:
            kind = "xhtml"
            self.xhtml_pieces = pieces
        self.open.append((key, pieces, kind, self.depth - self.entry_depth))

    def _start_inline(self, name: str, key: str, attrs: dict[str, str]) -> None:
        """An element inside xhtml text: feedparser writes it out as markup (its start tag
        is never handled, but its end tag is: so it must have no handler)."""
        local = _split(name)[1].lower()
        if has_handler(key) or local in ("svg", "math"):
            raise Decline(f"{key} inside xhtml")
        pairs = "".join(f' {k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in attrs.items())
        self.xhtml_pieces.append(f"<{local}{pairs}>")
        self.open.append((local, self.xhtml_pieces, "inline", 0))

    def text(self, data: str) -> None:
        if self.open:
            pieces, kind = self.open[-1][1:3]
            pieces.append(escape(data) if kind in ("xhtml", "inline") else data)

    def end(self, name: str) -> None:
        entry = self.entry
        if entry is not None:
            if self.open:
                key, pieces, kind, depth = self.open.pop()
                if kind == "inline":
                    pieces.append(f"</{key}>")
                elif kind == "xhtml":
                    entry.end(key, _xhtml(pieces), self.base, depth)
                elif kind not in ("leaf", "unknown"):
                    entry.end(key, "".join(pieces), self.base, depth)
            elif self.depth == self.entry_depth:
                self.entries.append(entry.done())
                self.entry = None
        elif self.feed_keys:
            key = self.feed_keys.pop()
            self.in_image = self.in_image and key != "image"
            self.in_textinput = self.in_textinput and key != "textinput"
        self.bases.pop()
        if self.bases and self.bases[-1]:
            self.base = self.bases[-1]
        self.depth -= 1
