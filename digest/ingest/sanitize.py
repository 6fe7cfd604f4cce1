"""Make untrusted feed text safe: one-line plain text, allow-listed HTML, clean URLs.

Used by parse (stories come out clean) and by message (headers never carry CR/LF). Every
function here is pure and total: any string in, a safe string out.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import nh3

# Tags a summary may keep: text structure and links, nothing active, nothing that loads.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "i", "li", "ol", "p", "pre",
    "q", "s", "small", "strong", "sub", "sup", "u", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
# Characters of markup handed to the HTML parser per field. nh3's tree builder takes time
# quadratic in how deeply tags nest (each start tag walks the stack of open ones), so only a
# bounded piece may reach it: then a feed costs at most this bound's time per item, linear in
# its size. A summary keeps 1,200 characters of text, which never needs more markup than this.
MARKUP_LIMIT = 32_000
URL_LIMIT = 2048  # characters: what browsers, mail clients and search engines all keep
TRACKING_PARAMS = {"fbclid", "gclid", "mc_cid", "mc_eid", "dclid", "msclkid", "igshid"}

# "[^<>]", not "[^>]": a tag never spans another "<", so a "<" without its ">" costs one scan
# to the next "<", not one to the end of the text (which made many of them quadratic).
_TAG = re.compile(r"<[^<>]*>")
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|li|ul|ol|blockquote|pre|div|h[1-6]|tr|td|th|table|hr|dd|dt|figure)\b[^<>]*>",
    re.IGNORECASE,
)
_HTTP_PREFIX = re.compile(r"https?://", re.IGNORECASE)
# An absolute http(s) URL that `absolute_http_url` would return unchanged: printable ASCII,
# no space, a plain host name. Most links are; they skip urlsplit.
_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?\Z",
                             re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Line and paragraph separators and every C0/C1 control: none may reach a header or a title.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """Plain text on one line: no control characters, whitespace collapsed, NFC."""
    if not text.isascii():  # ASCII is NFC already
        text = unicodedata.normalize("NFC", text)
    # Fast path (most text): every character _CONTROL and _SPACE match except " " is
    # non-printable, so printable text without a double space needs only the strip.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def html_to_text(markup: str) -> str:
    """The visible text of an HTML fragment, entities decoded, on one line."""
    if "<" not in markup:
        # No tag (most titles): entities are all there is to decode, no parser needed.
        return one_line(html.unescape(markup) if "&" in markup else markup)
    without_tags = _TAG.sub(" ", nh3.clean(markup[:MARKUP_LIMIT], tags=set(), attributes={}))
    return one_line(html.unescape(without_tags))


def text_of_clean_html(cleaned: str) -> str:
    """The visible text of HTML that `clean_html` produced (so has no script or style), on one
    line: cheaper than `html_to_text` on the original, which parses it a second time."""
    if "<" not in cleaned and "&" not in cleaned:
        return one_line(cleaned)
    # Block tags separate words ("<p>a</p><p>b</p>" is "a b"); inline ones do not ("<a>x</a>:").
    return one_line(html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", cleaned))))


def clean_html(markup: str, base_url: str = "") -> str:
    """Allow-listed HTML: no scripts, styles, forms, frames, images, handlers or bad URLs.

    Relative links are made absolute against `base_url`; any link that is not then an
    absolute http(s) URL is removed.
    """

    def keep_link(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "href":
            return absolute_http_url(value, base_url) or None
        return value

    return nh3.clean(
        markup[:MARKUP_LIMIT],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        attribute_filter=keep_link,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def cap(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ellipsis), 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ellipsis


def absolute_http_url(url: str, base_url: str = "") -> str:
    """`url` resolved against `base_url` if relative; "" unless the result is http(s) and at
    most `URL_LIMIT` characters (one huge link would crowd every other story out of the
    size budget and go to every subscriber)."""
    if len(url) > URL_LIMIT:
        return ""
    if _PLAIN_HTTP_URL.match(url):
        return url
    url = one_line(url).replace(" ", "%20")
    if not url:
        return ""
    try:
        if base_url and not _HTTP_PREFIX.match(url):
            url = urljoin(base_url, url)
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return ""
    except ValueError:  # e.g. a bad port or IPv6 literal
        return ""
    return url if len(url) <= URL_LIMIT else ""


def canonical_url(url: str, base_url: str = "") -> str:
    """The story's canonical link: absolute http(s), tracking parameters and fragment dropped,
    scheme and host lower-cased, other query parameters kept in their order and spelling.
    "" if unusable."""
    absolute = absolute_http_url(url, base_url)
    if not absolute:
        return ""
    scheme, netloc, path, query, _ = urlsplit(absolute)
    if query:
        query = "&".join(
            p for p in query.split("&")
            if p and not _is_tracking(unquote_plus(p.partition("=")[0]).lower())
        )
    netloc = netloc.lower() if "@" not in netloc else netloc
    return urlunsplit((scheme.lower(), netloc, path or "/", query, ""))


def _is_tracking(key: str) -> bool:
    return key.startswith("utm_") or key in TRACKING_PARAMS
