"""The plain-RSS fast path (digest/fastrss.py) gives exactly what feedparser gives.

Every corpus feed, and generated feeds built to hit each rule of the subset, are read both
ways; where the fast path accepts a feed, its items must equal the feedparser path's. Where a
feed leaves the subset, the fast path must decline (None), never guess.
"""

from __future__ import annotations

import random
from pathlib import Path

import feedparser
import pytest

from digest.fastrss import parse_plain_rss
from digest.feedbytes import prepare
from digest.jsonfeed import RawItem
from digest.parse import _raw

BASE = "https://example.org/feeds/main.xml"


def slow_items(xml_bytes: bytes, base: str) -> list[RawItem]:
    parsed = feedparser.parse(
        xml_bytes, response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False, resolve_relative_uris=False,
    )
    return [_raw(e, base) for e in parsed.get("entries") or []]


def both(body: bytes) -> tuple[list[RawItem] | None, list[RawItem]]:
    xml_bytes = prepare(body, "application/rss+xml").xml_bytes
    return parse_plain_rss(xml_bytes, BASE), slow_items(xml_bytes, BASE)


def rss(items: str, channel: str = "<title>T</title><link>https://example.org/</link>",
        root: str = '<rss version="2.0">') -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{root}<channel>{channel}{items}'
            "</channel></rss>").encode()


def test_every_corpus_feed_the_fast_path_takes_reads_as_feedparser_reads_it(
    corpus: Path,
) -> None:
    taken = 0
    for path in sorted(corpus.iterdir()):
        if path.suffix not in (".xml", ".rdf", ".rss"):
            continue
        fast, slow = both(path.read_bytes())
        if fast is not None:
            taken += 1
            assert fast == slow, path.name
    assert taken >= 1  # the corpus has plain RSS 2.0 feeds: the path is exercised


# Item fragments for each rule: values that feedparser post-processes in some way.
FRAGMENTS = [
    "<title>  Spaced  title \n</title>",
    "<title>AT&amp;T &lt;b&gt;bold&lt;/b&gt;</title>",
    "<title><![CDATA[Caf\u00e9 <i>x</i> & y]]></title>",
    "<title>Ã©tÃ© mojibake</title>",
    "<title>smart \u0093quotes\u0094 \u0080</title>",
    "<title></title>",
    "<link>https://example.org/a?x=1&amp;y=2&amp;amp;z=3</link>",
    "<link>/relative/path.html</link>",
    "<link>http:///three-slashes.example/x</link>",
    "<link></link>",
    "<link>  https://example.org/spaced  </link>",
    "<guid>https://example.org/guid-as-link</guid>",
    '<guid isPermaLink="false">tag:example.org,2026:1</guid>',
    '<guid isPermaLink="true">/relative-guid</guid>',
    '<guid isPermaLink="TRUE">odd-case</guid>',
    "<guid></guid>",
    "<pubDate>Sat, 25 Apr 2026 12:00:00 GMT</pubDate>",
    "<pubDate>2026-04-25T12:00:00+02:00</pubDate>",
    "<pubDate>not a date</pubDate>",
    "<pubDate></pubDate>",
    "<description>&lt;p&gt;Hello &lt;a href=\"/x\"&gt;link&lt;/a&gt;&lt;/p&gt;</description>",
    "<description><![CDATA[<p>raw <img src=\"/i.png\" width=\"1\"></p>]]></description>",
    "<description>   </description>",
    '<category domain="https://example.org/tax">Politics</category>',
    "<category>Politics</category>",
    "<category></category>",
    "<category>  Science </category>",
    "<comments>/comments</comments>",
]


@pytest.mark.parametrize("seed", range(40))
def test_generated_plain_feeds_read_as_feedparser_reads_them(seed: int) -> None:
    rng = random.Random(seed)
    items = []
    for _ in range(rng.randint(1, 6)):
        chosen = rng.sample(FRAGMENTS, rng.randint(0, 7))
        names = [f.split(">", 1)[0].split()[0] for f in chosen]
        # Repeated fields (but category) leave the subset; keep the first of each here.
        kept = [f for i, f in enumerate(chosen)
                if names[i] == "<category" or names[i] not in names[:i]]
        items.append("<item>" + "".join(kept) + "</item>")
    fast, slow = both(rss("".join(items)))
    assert fast is not None
    assert fast == slow


@pytest.mark.parametrize("body", [
    rss('<item><title>x</title><media:content xmlns:media="http://search.yahoo.com/mrss/" '
        'url="https://example.org/i.jpg"/></item>'),
    rss('<item><title>x</title><enclosure url="https://e.org/i.jpg" type="image/jpeg"/></item>'),
    rss('<item><title>x</title><content:encoded xmlns:content="http://purl.org/rss/1.0/'
        'modules/content/">body</content:encoded></item>'),
    rss("<item><title>x</title><author>a@example.org (A)</author></item>"),
    rss("<item><title>x</title><title>y</title></item>"),
    rss("<item><title>x <b>bold</b></title></item>"),
    rss('<item><title type="html">x</title></item>'),
    rss("<item><title>x</title><item><title>nested</title></item></item>"),
    rss('<item xml:base="https://other.example/"><link>a</link></item>'),
    rss("<item><title>x</title></item>", root='<rss version="0.91">'),
    rss("<item><title>x</title></item>", channel="<entry><title>atom?</title></entry>"),
    rss(""),  # no items: feedparser decides what that is
    b"<rss version='2.0'><channel><item><title>x &nbsp; y</title></item></channel></rss>",
    b"<rss version='2.0'><channel><item><title>unclosed</item></channel></rss>",
])
def test_feeds_outside_the_subset_are_left_to_feedparser(body: bytes) -> None:
    fast, _ = both(body)
    assert fast is None
