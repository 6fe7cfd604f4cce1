"""Parse, step one: make a feed's raw bytes safe and decodable before any XML parser sees them.

In: the body as fetched and the server's Content-Type. Out: `Prepared`: the text as UTF-8
bytes with an XML declaration that says so, which encoding it was read as, and what kind of
document it looks like (XML, JSON or an HTML page). Used only by `parse.py`.

Why here and not in feedparser: feedparser trusts the declared charset (mojibake when a feed
declares ISO-8859-1 but sends UTF-8), falls back to a slow loose parser on a stray BOM or
leading blank line, and hands DTDs to expat, whose protection against entity bombs depends
on the system's expat version. Every function is pure and linear in the size of the body.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["xml", "json", "html"]

# Names as declared -> the codec that decodes what publishers really send under that name
# (the WHATWG encoding standard's choice: ISO-8859-1 pages are windows-1252, GB2312 is GBK).
_SUPERSETS = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "iso-8859-11": "cp874", "tis-620": "cp874", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
    "shift_jis": "cp932", "x-sjis": "cp932", "big5": "big5hkscs",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LATIN = {
    "cp1250", "cp1252", "cp1254", "cp1257", "iso8859-1", "iso8859-2", "iso8859-3", "iso8859-4",
    "iso8859-9", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16",
    "mac-roman", "mac-latin2", "cp850", "cp437",
}
_XML_DECL = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_XML_DECL_WHOLE = re.compile(r"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# Characters XML 1.0 forbids: expat stops at the first one and the whole feed is lost.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A general entity declaration's start, up to its value ("<!ENTITY % ..." parameter entities
# are not matched: "%" cannot start a name). Matched only where "<!" stands, never searched.
_ENTITY_HEAD = re.compile(r"<!ENTITY\s+([A-Za-z_:][-\w.:]*)\s+")
_DECLARATION_CLOSE = re.compile(r"\s*>")
_REFERENCE = re.compile(r"&([A-Za-z_:][-\w.:]*);")
_CHAR_REF = re.compile(r"&#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});")
_XML_PREDEFINED = {"amp", "lt", "gt", "quot", "apos"}
ENTITY_VALUE_LIMIT = 16
_HTML_START = re.compile(
    r"^(?:\s|<!--.*?-->)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Prepared:
    """A feed body ready for a parser."""

    text: str  # decoded, DOCTYPE removed, characters XML forbids removed
    encoding: str  # the codec it was decoded with
    kind: Kind

    @property
    def xml_bytes(self) -> bytes:
        """The text as UTF-8 bytes whose XML declaration (if any) says UTF-8."""
        return _XML_DECL_WHOLE.sub('<?xml version="1.0" encoding="utf-8"?>', self.text,
                                   count=1).encode("utf-8")


def prepare(body: bytes, content_type: str = "") -> Prepared:
    """Decode a feed's bytes as far as they allow and disarm its DTD.

    Args:
        body: the bytes as the server sent them (after Content-Encoding).
        content_type: the server's Content-Type header, for its charset and media type.
    Returns:
        The decoded text and what kind of document it looks like.
    """
    text, encoding = decode(body, content_type)
    text = text.lstrip("\ufeff \t\r\n")
    kind: Kind = "xml"
    if text.startswith(("{", "[")):
        return Prepared(text, encoding, "json")
    if _HTML_START.match(text[:4096]):
        kind = "html"
    text = strip_doctype(text)
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("", text)
    return Prepared(text, encoding, kind)


def decode(body: bytes, content_type: str = "") -> tuple[str, str]:
    """The body's text and the codec that produced it. Never fails.

    Order: a byte-order mark; then UTF-8 if the bytes are valid UTF-8 (a document in a legacy
    charset is almost never valid UTF-8 by accident, and feeds that declare ISO-8859-1 but send
    UTF-8 are common); then the XML declaration's charset, then the HTTP one; then a guess
    from the bytes; and windows-1252 with replacement characters as the last resort.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    head = body[:512].decode("ascii", errors="replace")
    declared = [m.group(1) for m in [_XML_DECL.match(head), _CHARSET.search(content_type)] if m]
    for name in declared:
        named = _codec(name)
        if named and named != "utf-8":
            try:
                return body.decode(named), named
            except UnicodeDecodeError:
                continue
    guess = _guess(body)
    if guess:
        return body.decode(guess, errors="replace"), guess
    fallback = next((c for c in map(_codec, declared) if c and c != "utf-8"), "cp1252")
    return body.decode(fallback, errors="replace"), fallback


def _codec(name: str) -> str | None:
    name = name.strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _guess(body: bytes) -> str | None:
    """charset-normalizer's best guess for undeclared legacy bytes (rare path: it is slow)."""
    import charset_normalizer  # imported here: only undeclared non-UTF-8 feeds need it

    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is None:
        return None
    codec = _codec(best.encoding)
    # Between the Latin single-byte charsets the guess is often wrong (cp1250 for French);
    # windows-1252 is what undeclared Western pages use (and what browsers assume).
    return "cp1252" if codec in _LATIN else codec


def strip_doctype(text: str) -> str:
    """The text without its DOCTYPE declarations, internal subsets and all.

    A DTD is where entity bombs (billion laughs, quadratic blow-up) and external entities
    live; feeds never need one (HTML entities such as &eacute; are known to feedparser
    without it). Every DOCTYPE in the prolog goes, wherever it stands: after comments,
    processing instructions, stray text, or past any offset. A DOCTYPE after the root element
    starts is not a DTD to any parser and stays. References to the entities it declared are
    replaced once, without recursion: by the value if that is short plain text or one
    character reference (`<!ENTITY nbsp "&#160;">`), else by nothing. So the document stays
    well-formed (the fast strict parser reads it) and the text can grow by at most
    `ENTITY_VALUE_LIMIT` times. One pass, linear in the length of the text.
    """
    spans = _doctypes(text)
    if not spans:
        return text
    declared: dict[str, str] = {}
    for start, end in spans:
        for name, value in _entity_declarations(text[start:end]).items():
            declared.setdefault(name, value)  # XML: the first declaration binds
    kept = []
    previous = 0
    for start, end in spans:
        kept.append(text[previous:start])
        previous = end
    rest = text[previous:]
    if declared:
        rest = _REFERENCE.sub(lambda m: declared.get(m.group(1), m.group(0)), rest)
    return "".join(kept) + rest


def _doctypes(text: str) -> list[tuple[int, int]]:
    """(start, end) of every DOCTYPE declaration before the root element. Comments and
    processing instructions are skipped whole, so a "<!DOCTYPE" or "<a>" inside one neither
    counts nor hides what follows."""
    spans: list[tuple[int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        i = text.find("<", i)
        if i < 0:
            break
        if text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
        elif text.startswith("<?", i):
            close = text.find("?>", i + 2)
            i = n if close < 0 else close + 2
        elif text[i:i + 9].upper() == "<!DOCTYPE":
            end = _declaration_end(text, i + 9)
            spans.append((i, end))
            i = end
        elif text[i + 1:i + 2].isalpha() or text[i + 1:i + 2] in ("_", ":"):
            break  # the root element: the prolog is over
        else:
            i += 1
    return spans


def _entity_declarations(subset: str) -> dict[str, str]:
    """The general entities a DOCTYPE declares, each with the value a reference to it gets:
    a short plain literal, else "". Comments are skipped, and each quoted value is read once
    with a single search, so no text is scanned twice."""
    declared: dict[str, str] = {}
    i = 0
    n = len(subset)
    while i < n:
        j = subset.find("<!", i)
        if j < 0:
            break
        if subset.startswith("<!--", j):
            close = subset.find("-->", j + 4)
            i = n if close < 0 else close + 3
            continue
        head = _ENTITY_HEAD.match(subset, j)
        if head is None:
            i = j + 2
            continue
        name, k = head.group(1), head.end()
        value = ""
        if k < n and subset[k] in "\"'":
            close = subset.find(subset[k], k + 1)
            literal = subset[k + 1:close] if close >= 0 else ""
            if close >= 0 and _DECLARATION_CLOSE.match(subset, close + 1) and _safe(literal):
                value = literal
            i = n if close < 0 else close + 1
        else:
            i = k  # an external entity (SYSTEM or PUBLIC): its references become nothing
        if name not in _XML_PREDEFINED:
            declared.setdefault(name, value)
    return declared


def _safe(value: str) -> bool:
    """Whether an entity's value may replace its references: short, no markup, and no
    reference but a single character reference."""
    return len(value) <= ENTITY_VALUE_LIMIT and "<" not in value and (
        "&" not in value or _CHAR_REF.fullmatch(value) is not None)


def _declaration_end(text: str, start: int) -> int:
    """Index just past the `>` closing a declaration that begins before `start`, skipping
    quoted strings, comments and a bracketed internal subset. Linear; the end of the text if
    the declaration never closes."""
    depth = 0
    quote = ""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth = max(depth - 1, 0)
        elif c == ">" and depth == 0:
            return i + 1
        i += 1
    return n
