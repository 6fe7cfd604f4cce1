"""Parsing time grows linearly with a feed's size, whatever shape the feed's text takes.

Each test grows one hostile shape (repeated `<!ENTITY`, `<img `, `<link `, unclosed tags,
deep nesting, long attributes, long author names) and parses it at two sizes ten times
apart, in the same test. What is asserted is the ratio of the two times, never a time: a
linear pass takes about ten times as long on ten times the text, a quadratic one a hundred
times. The bound (30) leaves room for a loaded machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.ingest.feedbytes import prepare
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult

NOW = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
SMALL = 10_000  # bytes of the hostile part at the smaller size
GROWTH = 10
MOST_RATIO = 30.0
# No shrinking: a failing example is already small and readable, and shrinking would parse
# quadratic inputs again and again.
SETTINGS = settings(max_examples=3, deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow])


def timed(work: Callable[[], object]) -> float:
    """The least CPU time of two runs (the least is the one with the least noise)."""
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return max(best, 1e-4)


def assert_linear(make: Callable[[int], bytes], kind: str = "rss") -> None:
    """Parse `make(size)` at two sizes; ten times the size must cost under 30 times the time."""
    def parse(size: int) -> Callable[[], object]:
        body = make(size)
        headers = {"content-type": "application/feed+json" if kind == "json"
                   else "text/html" if kind == "html" else "application/rss+xml"}
        feed = Feed(url="http://feeds.example/f", name="F", section="S")
        result = FetchResult(feed=feed, status="ok", body=body, headers=headers,
                             final_url="http://feeds.example/f")

        def run() -> object:
            try:
                return parse_feed(result, NOW)
            except ParseError as e:
                return e
        return run

    small, large = timed(parse(SMALL)), timed(parse(SMALL * GROWTH))
    assert large / small < MOST_RATIO, (
        f"{GROWTH}x the text took {large / small:.1f}x the time ({small:.4f} s -> {large:.4f} s)")


def rss_item(description: str, author: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            "<link>http://news.example/</link><item><title>Story</title>"
            "<link>http://news.example/1</link><guid>1</guid>"
            f"<author>{author}</author>"
            f"<description><![CDATA[{description}]]></description></item></channel></rss>"
            ).encode()


def repeat(unit: str, size: int) -> str:
    return unit * max(1, size // max(len(unit), 1))


pieces = st.sampled_from(["", "x", " ", "a=", '"', "'", "=", "/", "\t", "<", "&"])


@SETTINGS
@given(unit=st.sampled_from(["<!ENTITY a \"", "<!ENTITY a '", "<!ENTITY a ", "<!ENTITY ",
                             "<!ENTITY a SYSTEM \"", "<!-- <!ENTITY a \""]), filler=pieces)
def test_repeated_entity_declarations(unit: str, filler: str) -> None:
    def make(size: int) -> bytes:
        subset = repeat(unit + filler, size)
        return (f'<?xml version="1.0"?><!DOCTYPE rss [{subset}]><rss version="2.0"><channel>'
                "<title>T</title><item><title>a &a; b</title><link>http://x.example/</link>"
                "</item></channel></rss>").encode()
    assert_linear(make)
    assert_linear(lambda size: make(size)[:-30])  # the DOCTYPE's end never comes


@SETTINGS
@given(unit=st.sampled_from(["<img ", "<IMG\t", "<img src=x ", "<img src='", "<img/"]),
       filler=pieces)
def test_repeated_img_tags_in_a_summary(unit: str, filler: str) -> None:
    assert_linear(lambda size: rss_item(repeat(unit + filler, size)))


@SETTINGS
@given(unit=st.sampled_from(["<img ", "<img src=\"x", "<p><img "]), filler=pieces)
def test_repeated_img_tags_in_a_json_feed(unit: str, filler: str) -> None:
    def make(size: int) -> bytes:
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T",
                           "items": [{"id": "1", "url": "http://x.example/1", "title": "S",
                                      "content_html": repeat(unit + filler, size)}]}).encode()
    assert_linear(make, "json")


@SETTINGS
@given(unit=st.sampled_from(["<link ", "<LINK rel=alternate ", "<link href='", "<link/"]),
       filler=pieces)
def test_repeated_link_tags_in_an_html_page(unit: str, filler: str) -> None:
    assert_linear(lambda size: ("<!doctype html><html><head>" + repeat(unit + filler, size)
                                ).encode(), "html")


@SETTINGS
@given(unit=st.sampled_from(["<p", "<a href=", "<div ", "</p", "<", "<b><i"]), filler=pieces)
def test_unclosed_tags_in_a_summary(unit: str, filler: str) -> None:
    assert_linear(lambda size: rss_item(repeat(unit + filler, size)))


@SETTINGS
@given(tag=st.sampled_from(["div", "p", "b", "blockquote", "ul"]))
def test_deep_nesting_in_a_summary_and_in_the_feed(tag: str) -> None:
    assert_linear(lambda size: rss_item(repeat(f"<{tag}>", size)))

    def nested_xml(size: int) -> bytes:
        depth = size // 8
        return ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
                "<title>S</title><link>http://x.example/</link>" + "<x>" * depth
                + "</x>" * depth + "</item></channel></rss>").encode()
    assert_linear(nested_xml)


@SETTINGS
@given(start=st.sampled_from(["<img ", "<img src=\"", "<img alt='", "<a href=\"", "<img x"]),
       letter=st.sampled_from(["a", "-", ":", " "]))
def test_long_attributes(start: str, letter: str) -> None:
    assert_linear(lambda size: rss_item(start + letter * size))
    assert_linear(lambda size: rss_item(start + letter * size + ">"))


@SETTINGS
@given(unit=st.sampled_from(["a", "a.", "a+", "a@", "@a.", "a.b@"]))
def test_long_author_names(unit: str) -> None:
    assert_linear(lambda size: rss_item("About.", repeat(unit, size) + " x"))


def test_doctype_removal_alone_is_linear_on_unclosed_entity_values() -> None:
    def make(size: int) -> bytes:
        return ("<!DOCTYPE r [" + repeat('<!ENTITY a "', size) + "]><r/>").encode()
    small = timed(lambda: prepare(make(SMALL)))
    large = timed(lambda: prepare(make(SMALL * GROWTH)))
    assert large / small < MOST_RATIO
