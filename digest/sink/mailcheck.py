"""Sink checks: what an editor should know about one captured message before it goes out.

In: a message's HTML part, text part and headers (plain values from `digest.sink.mailbox`), and
for SpamAssassin (`digest.sink.spamcheck`) its raw bytes. Out: one `Check` per question, each with a
plain verdict (pass / warn / fail / skip), a one-line summary and the findings behind it. Every
check here is a pure function.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urlsplit

Verdict = Literal["pass", "warn", "fail", "skip"]
_RANK: dict[Verdict, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}

# Gmail cuts the HTML after about 102 KB and shows "[Message clipped]": everything after it,
# the unsubscribe footer included, is hidden behind a link.
GMAIL_CLIP_BYTES = 102 * 1024
ONE_CLICK = "List-Unsubscribe=One-Click"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_TEXT_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.I)


@dataclass(frozen=True)
class Finding:
    """One thing a check found: a link, an image, a header entry, a SpamAssassin rule."""

    verdict: Verdict
    text: str


@dataclass(frozen=True)
class Check:
    """One question about a message, answered."""

    key: str  # a stable name for machines: size, unsubscribe, links, images, text, spamassassin
    name: str
    verdict: Verdict
    summary: str
    findings: tuple[Finding, ...] = ()


def worst(verdicts: Sequence[Verdict], default: Verdict = "pass") -> Verdict:
    """The most serious verdict of several (fail > warn > pass > skip)."""
    return max(verdicts, key=_RANK.__getitem__, default=default)


@dataclass(frozen=True)
class _Link:
    href: str
    text: str
    in_heading: bool


class _Scan(HTMLParser):
    """Collects links, images and headings; never executes or fetches anything."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self.images: list[dict[str, str]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self._link: tuple[str, list[str]] | None = None
        self._skip = 0  # inside <style>/<script>/<title>: not reader-visible text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in ("style", "script", "title"):
            self._skip += 1
        elif tag in _HEADINGS:
            self._heading = []
        elif tag == "a" and "href" in a:
            self._close_link()
            self._link = (a["href"].strip(), [])
        elif tag == "area" and "href" in a:
            self.links.append(_Link(a["href"].strip(), a.get("alt", ""), False))
        elif tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a":
            self._close_link()
        elif tag in _HEADINGS and self._heading is not None:
            self._close_link()
            text = " ".join("".join(self._heading).split())
            if text:
                self.headings.append(text)
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._link is not None:
            self._link[1].append(data)
        if self._heading is not None:
            self._heading.append(data)

    def _close_link(self) -> None:
        if self._link is not None:
            href, parts = self._link
            text = " ".join("".join(parts).split())
            self.links.append(_Link(href, text, self._heading is not None))
            self._link = None


def _scan(html: str) -> _Scan:
    scan = _Scan()
    scan.feed(html)
    scan.close()
    scan._close_link()
    return scan


def check_size(html: str | None) -> Check:
    """The HTML part's size against Gmail's clipping threshold."""
    name = "HTML size (Gmail clips at ~102 KB)"
    if html is None:
        return Check("size", name, "skip", "no HTML part")
    size = len(html.encode("utf-8"))
    summary = f"{size / 1024:.1f} KB of HTML, {size * 100 // GMAIL_CLIP_BYTES}% of Gmail's limit"
    if size > GMAIL_CLIP_BYTES:
        return Check("size", name, "fail", summary + ": Gmail will clip it and hide the rest, "
                     "the unsubscribe link included; send fewer stories or shorter summaries")
    if size > GMAIL_CLIP_BYTES * 0.85:
        return Check("size", name, "warn", summary + ": close to the clip")
    return Check("size", name, "pass", summary)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_unsubscribe(headers: Sequence[tuple[str, str]]) -> Check:
    """List-Unsubscribe (RFC 2369) and one-click List-Unsubscribe-Post (RFC 8058)."""
    name = "List-Unsubscribe and one-click List-Unsubscribe-Post"
    values = [v for k, v in headers if k.lower() == "list-unsubscribe"]
    posts = [v for k, v in headers if k.lower() == "list-unsubscribe-post"]
    found: list[Finding] = []
    if not values:
        found.append(Finding("fail", "no List-Unsubscribe header: Gmail and Yahoo require it "
                                     "of bulk senders"))
    elif len(values) > 1:
        found.append(Finding("fail", f"List-Unsubscribe appears {len(values)} times; "
                                     "RFC 2369 allows one"))
    https = False
    for value in values[:1]:
        uris = re.findall(r"<([^<>]*)>", value)
        outside = re.sub(r"<[^<>]*>", "", value).replace(",", "").strip()
        if outside or not uris:
            found.append(Finding("fail", f"List-Unsubscribe: {value!r}: every URI must be in "
                                         "angle brackets, separated by commas (RFC 2369)"))
        for uri in uris:
            try:
                parts = urlsplit(uri.strip())
            except ValueError:
                found.append(Finding("fail", f"<{uri}>: not a URI"))
                continue
            scheme = parts.scheme.lower()
            if scheme == "https" and parts.hostname:
                https = True
                found.append(Finding("pass", f"<{uri}>: https, one-click target"))
            elif scheme == "http" and _is_loopback(parts.hostname):
                found.append(Finding("warn", f"<{uri}>: http on a local host: fine for a test, "
                                             "but real subscribers need an https URL "
                                             "(set newsletter.base_url)"))
            elif scheme == "http":
                found.append(Finding("fail", f"<{uri}>: http: RFC 8058 one-click needs https"))
            elif scheme == "mailto" and parts.path:
                found.append(Finding("pass", f"<{uri}>: mail fallback"))
            else:
                found.append(Finding("fail", f"<{uri}>: not an https or mailto URI"))
    if values and not https and not any(f.verdict == "warn" for f in found):
        found.append(Finding("fail", "no https URI in List-Unsubscribe: one-click needs one"))
    if not posts:
        found.append(Finding("fail", f"no List-Unsubscribe-Post header: it must say exactly "
                                     f"{ONE_CLICK!r} (RFC 8058)"))
    elif len(posts) > 1:
        found.append(Finding("fail", f"List-Unsubscribe-Post appears {len(posts)} times"))
    elif posts[0].strip() != ONE_CLICK:
        found.append(Finding("fail", f"List-Unsubscribe-Post is {posts[0]!r}; it must be "
                                     f"exactly {ONE_CLICK!r}"))
    else:
        found.append(Finding("pass", f"List-Unsubscribe-Post: {ONE_CLICK}"))
    verdict = worst([f.verdict for f in found])
    summary = {"pass": "present and well-formed",
               "warn": "well-formed, but only usable on this machine",
               "fail": "missing or malformed: subscribers cannot leave with one click"}[verdict]
    return Check("unsubscribe", name, verdict, summary, tuple(found))


def _link_problem(href: str) -> str | None:
    """Why a link would not work in a mail client, or None when it is fine."""
    if not href:
        return "empty href"
    if any(mark in href for mark in ("{{", "}}", "%%", "*|", "\x00")):
        return "an unfilled placeholder"
    try:
        parts = urlsplit(href)
    except ValueError:
        return "not a URL"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.netloc else "no host"
    if scheme in ("mailto", "tel"):
        return None
    if href.startswith("#"):
        return "a fragment: goes nowhere in a mail client"
    if not scheme:
        return "relative: a mail client has no base URL to resolve it against"
    return f"a {scheme}: link"


def check_links(html: str | None) -> Check:
    """Every link absolute http(s) (mailto: and tel: allowed), each listed."""
    name = "Links are absolute http(s)"
    if html is None:
        return Check("links", name, "skip", "no HTML part")
    links = _scan(html).links
    if not links:
        return Check("links", name, "warn", "the HTML has no links at all")
    found: list[Finding] = []
    seen: dict[str, int] = {}
    for link in links:
        seen[link.href] = seen.get(link.href, 0) + 1
    texts = {link.href: link.text for link in reversed(links)}
    bad = 0
    for href, count in seen.items():
        problem = _link_problem(href)
        label = f"{href or '(empty)'}" + (f" ({count}×)" if count > 1 else "")
        if texts[href]:
            label += f" “{texts[href][:80]}”"
        if problem:
            bad += 1
            found.append(Finding("fail", f"{label}: {problem}"))
        else:
            found.append(Finding("pass", label))
    found.sort(key=lambda f: -_RANK[f.verdict])
    if bad:
        return Check("links", name, "fail", f"{bad} of {len(seen)} distinct links would not work",
                     tuple(found))
    return Check("links", name, "pass", f"all {len(seen)} distinct links are absolute",
                 tuple(found))


def check_images(html: str | None) -> Check:
    """Images need width (Outlook), height (no jump as they load) and alt (images off)."""
    name = "Images have width, height and alt"
    if html is None:
        return Check("images", name, "skip", "no HTML part")
    images = _scan(html).images
    if not images:
        return Check("images", name, "pass", "no images")
    found: list[Finding] = []
    for image in images:
        src = image.get("src", "")
        problems: list[tuple[Verdict, str]] = []
        if "alt" not in image:
            problems.append(("fail", "no alt (shows nothing useful with images off)"))
        if not image.get("width", "").strip():
            problems.append(("fail", "no width (Outlook shows it at full size)"))
        if not image.get("height", "").strip():
            problems.append(("warn", "no height (the layout jumps as it loads)"))
        scheme = src.split(":", 1)[0].lower() if ":" in src else ""
        if scheme not in ("http", "https", "cid", "data"):
            problems.append(("fail", "src is not an absolute http(s) URL"))
        if problems:
            found.append(Finding(worst([v for v, _ in problems]),
                                 f"{src or '(no src)'}: " + "; ".join(t for _, t in problems)))
    verdict = worst([f.verdict for f in found])
    if not found:
        plural = "" if len(images) == 1 else "s"
        return Check("images", name, "pass",
                     f"{len(images)} image{plural}, all with width, height and alt")
    return Check("images", name, verdict, f"{len(found)} of {len(images)} images lack something",
                 tuple(found))


def _compact(text: str) -> str:
    # Wrapping puts line breaks anywhere (after hyphens too): compare without any whitespace.
    return "".join(text.split()).casefold()


def _text_urls(text: str) -> set[str]:
    return {u.rstrip(".,;:!?*") for u in _TEXT_URL.findall(text)}


def check_text_matches_html(html: str | None, text: str | None) -> Check:
    """The text part carries the same stories: the HTML's headlines and their links."""
    name = "Text part has the same stories as the HTML"
    if html is None:
        return Check("text", name, "skip", "no HTML part to compare with")
    if text is None:
        return Check("text", name, "fail", "no text/plain part: readers with text-only clients see "
                                   "nothing, and spam filters score it")
    scan = _scan(html)
    compact_text = _compact(text)
    text_urls = _text_urls(text)
    web = [link.href for link in scan.links if _link_problem(link.href) is None
           and link.href.lower().startswith("http")]
    story_urls = [link.href for link in scan.links if link.in_heading and link.href in web]
    found: list[Finding] = []
    for headline in scan.headings:
        if _compact(headline) not in compact_text:
            found.append(Finding("fail", f"headline missing from the text: {headline[:120]}"))
    compared = story_urls or web
    missing_url: Verdict = "fail" if story_urls else "warn"
    for url in dict.fromkeys(compared):
        if url not in text_urls and url not in text:
            found.append(Finding(missing_url, f"link missing from the text: {url}"))
    for url in sorted(text_urls - set(web)):
        found.append(Finding("warn", f"link only in the text: {url}"))
    verdict = worst([f.verdict for f in found])
    counted = (f"{len(scan.headings)} headlines, {len(set(compared))} "
               f"{'story' if story_urls else 'web'} links")
    summary = {"pass": f"{counted}: all in the text part",
               "warn": f"{counted}: the parts differ (see below)",
               "fail": f"{counted}: the text part is missing stories"}[verdict]
    return Check("text", name, verdict, summary, tuple(found))


def check_message(html: str | None, text: str | None,
                  headers: Sequence[tuple[str, str]]) -> list[Check]:
    """Every check but SpamAssassin (which runs a process), in the order the page shows them."""
    return [
        check_size(html),
        check_unsubscribe(headers),
        check_links(html),
        check_images(html),
        check_text_matches_html(html, text),
    ]
