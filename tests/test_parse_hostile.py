"""Hostile and broken feeds: entity bombs, external entities, active content, lying charsets,
bad dates, JSON that is not a feed. Each builds the bytes a server could send and asserts on the
stories (or the error) that come out.

Entity bombs are parsed in a child process with a memory and CPU limit, so that a regression
fails the test instead of taking the machine down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from digest.errors import ParseError
from digest.ingest.feedbytes import decode, strip_doctype
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story

NOW = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
FEED = Feed(url="https://news.example/feed.xml", name="Example", section="News")


def parse(body: bytes | str, content_type: str = "application/rss+xml",
          url: str = FEED.url) -> list[Story]:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(FetchResult(feed=FEED, status="ok", body=data, final_url=url,
                                  headers={"Content-Type": content_type}), NOW)


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (f'{prolog}<rss version="2.0"><channel><title>T</title>'
            f"<link>https://news.example/</link>{items}</channel></rss>")


def item(title: str = "A title", link: str = "https://news.example/a", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10))
    + ']><rss version="2.0"><channel><title>T</title><item><title>Laughs &lol9;</title>'
    "<link>https://news.example/bomb</link><description>&lol9;</description></item>"
    "</channel></rss>"
)
QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 100_000 + '">]>'
    '<rss version="2.0"><channel><title>T</title><item><title>Quadratic</title>'
    "<link>https://news.example/q</link><description>" + "&a;" * 100_000
    + "</description></item></channel></rss>"
)

CHILD = """
import json, resource, sys
from datetime import UTC, datetime
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
from digest.model import Feed, FetchResult
from digest.ingest.parse import parse_feed
feed = Feed(url="https://news.example/feed.xml", name="X", section="X")
body = sys.stdin.buffer.read()
stories = parse_feed(FetchResult(feed=feed, status="ok", body=body, final_url=feed.url),
                     datetime(2026, 4, 25, tzinfo=UTC))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"titles": [s.title for s in stories], "summaries": [s.summary_text
                  for s in stories], "peak_kb": peak}))
"""


def parse_in_child(body: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", CHILD], input=body.encode(),
                          capture_output=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, QUADRATIC], ids=["billion-laughs", "quadratic"])
def test_entity_bombs_do_not_expand(bomb: str) -> None:
    out = parse_in_child(bomb)
    assert len(out["titles"]) == 1 and out["titles"][0] in ("Laughs", "Quadratic")
    assert all("lollol" not in t and "xxxx" not in t for t in out["titles"] + out["summaries"])
    assert all(len(s) < 2000 for s in out["summaries"])
    baseline = parse_in_child(rss(item()))
    # Memory stays that of an ordinary feed (compared in the same run, not an absolute).
    assert out["peak_kb"] < baseline["peak_kb"] * 1.5


def test_external_entities_neither_read_files_nor_fetch_urls(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"REMOTE-ENTITY-CONTENT")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{server.server_address[1]}/entity"
        body = (
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY file SYSTEM "file://{secret}">'
            f'<!ENTITY remote SYSTEM "{remote}"><!ENTITY % dtd SYSTEM "{remote}-dtd"> %dtd;]>'
            '<rss version="2.0"><channel><title>T</title><item><title>A &file; B</title>'
            "<link>https://news.example/x</link><description>&remote;</description></item>"
            "</channel></rss>"
        )
        stories = parse(body)
    finally:
        server.shutdown()
        server.server_close()
    assert len(stories) == 1
    text = stories[0].title + stories[0].summary_text + stories[0].summary_html
    assert "TOP-SECRET" not in text and "REMOTE-ENTITY" not in text
    assert fetched == []


def test_doctype_removal_keeps_the_document_and_skips_quoted_brackets() -> None:
    text = '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "]>">]><rss><x>&a;</x></rss>'
    assert strip_doctype(text) == '<?xml version="1.0"?>\n<rss><x>]></x></rss>'
    later = "<rss><d><![CDATA[<!DOCTYPE html>]]></d></rss>"
    assert strip_doctype(later) == later  # a DOCTYPE after the root is text, not a DTD


def test_active_content_is_removed_and_links_made_absolute() -> None:
    description = (
        "&lt;p onclick=\"steal()\"&gt;Read &lt;a href=\"/more?utm_source=x\"&gt;more&lt;/a&gt;"
        " or &lt;a href=\"javascript:alert(1)\"&gt;this&lt;/a&gt; and "
        "&lt;a href=\"data:text/html,hi\"&gt;that&lt;/a&gt;&lt;/p&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;style&gt;p{}&lt;/style&gt;"
        "&lt;iframe src=\"https://evil.example\"&gt;&lt;/iframe&gt;"
        "&lt;form action=\"https://evil.example\"&gt;&lt;input name=q&gt;&lt;/form&gt;"
        "&lt;svg onload=\"x()\"&gt;&lt;/svg&gt;"
        "&lt;link rel=stylesheet href=\"https://evil.example/x.css\"&gt;"
    )
    [story] = parse(rss(item(extra=f"<description>{description}</description>")))
    html = story.summary_html
    for banned in ("onclick", "javascript:", "data:", "<script", "alert", "<style", "<iframe",
                   "<form", "<input", "<svg", "onload", "<link", "evil.example"):
        assert banned not in html, banned
    assert '<a href="https://news.example/more?utm_source=x" rel="noopener noreferrer">more</a>' \
        in html
    assert story.summary_text == "Read more or this and that"


def test_titles_are_one_line_of_plain_text_capped_at_a_word() -> None:
    title = ("&lt;b&gt;Breaking&lt;/b&gt;: A\r\nB\u2028C\u2029D\x85E &amp;amp; F "
             + "word " * 100)
    [story] = parse(rss(item(title=title)))
    # NEL (U+0085) is read as windows-1252's "…" by the HTML parser; never as a line break.
    assert story.title.startswith("Breaking: A B C D…E & F word")
    assert len(story.title) <= 300 and story.title.endswith("word…")
    assert not any(c in story.title for c in "\r\n\u2028\u2029\x85<>")


def test_an_item_without_a_title_takes_one_from_its_summary_and_one_with_neither_is_dropped(
) -> None:
    items = (item(title="", extra="<description>Only a summary here.</description>")
             + item(title="", link="https://news.example/empty")
             + item(title="No link", link=""))
    stories = parse(rss(items))
    assert [s.title for s in stories] == ["Only a summary here."]


def test_canonical_links() -> None:
    items = "".join(item(title=f"t{i}", link=link) for i, link in enumerate([
        "HTTPS://News.Example/a?id=3&amp;utm_source=rss&amp;utm_medium=x&amp;fbclid=1&amp;"
        "gclid=2&amp;mc_cid=3&amp;mc_eid=4&amp;page=2#comments",
        "relative/path.html",
        "ftp://news.example/file",
        "javascript:alert(1)",
    ]))
    items += ("<item xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'>"
              "<title>fb</title><link>https://feeds.feedburner.com/~r/x/~3/abc</link>"
              "<feedburner:origLink>https://origin.example/post</feedburner:origLink></item>")
    feed = rss(items).replace('<rss version="2.0">', '<rss version="2.0" xmlns:feedburner='
                              '"http://rssnamespace.org/feedburner/ext/1.0">')
    stories = parse(feed, url="https://news.example/feeds/all.xml")
    assert [s.url for s in stories] == [
        "https://news.example/a?id=3&page=2",
        "https://news.example/feeds/relative/path.html",
        "https://origin.example/post",
    ]


def test_dates_future_missing_impossible_and_updated() -> None:
    items = (
        item("future", "https://n.example/1", "<pubDate>Tue, 25 Apr 2028 10:00:00 GMT</pubDate>")
        + item("missing", "https://n.example/2")
        + item("impossible", "https://n.example/3", "<pubDate>Mon, 1 Jan 1900 00:00:00 GMT"
               "</pubDate>")
        + item("offset", "https://n.example/4", "<pubDate>Sat, 25 Apr 2026 09:30:00 +0200"
               "</pubDate>")
    )
    atom = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            '<entry><title>updated only</title><link href="https://n.example/5"/><id>5</id>'
            "<updated>2026-04-24T08:00:00Z</updated></entry></feed>")
    stories = {s.title: s for s in parse(rss(items)) + parse(atom)}
    assert (stories["future"].published, stories["future"].dated) == (NOW, False)
    assert (stories["missing"].published, stories["missing"].dated) == (NOW, False)
    assert (stories["impossible"].published, stories["impossible"].dated) == (NOW, False)
    assert stories["offset"].published == datetime(2026, 4, 25, 7, 30, tzinfo=UTC)
    assert stories["updated only"].published == datetime(2026, 4, 24, 8, tzinfo=UTC)
    assert all(s.published.tzinfo == UTC for s in stories.values())


def test_images_skip_tracking_pixels_and_take_the_first_real_picture() -> None:
    pixel = ('&lt;img src="https://t.example/p.gif" width="1" height="1"&gt;'
             '&lt;img src="https://t.example/z.gif" width="0"&gt;'
             '&lt;img src="/pics/real.jpg" alt="A &amp;amp; B" width="640"&gt;')
    media = ('<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" '
             'url="https://img.example/thumb.jpg" width="1" height="1"/>')
    [story] = parse(rss(item(extra=f"{media}<description>{pixel}</description>")))
    assert story.image is not None
    assert (story.image.url, story.image.width, story.image.alt) == (
        "https://news.example/pics/real.jpg", 640, "A & B")


def test_images_prefer_a_wide_picture_to_a_tall_one() -> None:
    """An email shows pictures in a landscape frame and leaves tall ones out: a feed's wide
    candidate wins over a tall one listed first, and over one of unknown shape."""
    media = "".join(
        f'<media:content xmlns:media="http://search.yahoo.com/mrss/" url="https://img.example/'
        f'{name}.jpg" medium="image"{size}/>'
        for name, size in (("tall", ' width="600" height="900"'), ("unknown", ""),
                           ("wide", ' width="1200" height="675"')))
    [story] = parse(rss(item(extra=media)))
    assert story.image is not None and story.image.url == "https://img.example/wide.jpg"


def test_bytes_in_a_lying_or_missing_charset_are_recovered() -> None:
    text = rss(item(title="Café — naïve"))
    # Declared ISO-8859-1, sent as UTF-8 (as davidbau.com does).
    lying = text.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("utf-8")
    assert parse(lying)[0].title == "Café — naïve"
    # Declared UTF-8 but sent as windows-1252: the bytes are not UTF-8, so the guess wins.
    assert parse(text.encode("cp1252"))[0].title == "Café — naïve"
    # Only the HTTP header names the charset.
    cyrillic = rss(item(title="Новости дня")).replace(' encoding="utf-8"', "")
    assert parse(cyrillic.encode("cp1251"),
                 "text/xml; charset=windows-1251")[0].title == "Новости дня"
    # A BOM and blank lines before the declaration, control characters inside.
    messy = b"\xef\xbb\xbf\n\n  " + rss(item(title="Clean\x01 text\x0b")).encode()
    assert parse(messy)[0].title == "Clean text"
    assert decode("caf\xe9".encode("latin-1"), "text/xml; charset=iso-8859-1") == (
        "café", "cp1252")


def test_bare_ampersands_and_nested_items_lose_no_good_story() -> None:
    items = (item("Fish & chips", "https://n.example/a?x=1&y=2")
             + "<item><title>Outer</title><link>https://n.example/outer</link>"
             + item("Inner", "https://n.example/inner") + "</item>")
    titles = [s.title for s in parse(rss(items))]
    assert "Fish & chips" in titles and "Inner" in titles


def test_not_a_feed_is_a_parse_error_naming_the_feed() -> None:
    with pytest.raises(ParseError, match=r"^feed https://news.example/feed.xml: not an RSS"):
        parse(b"\x00\x01binary garbage")
    with pytest.raises(ParseError, match="JSON, but not a JSON Feed"):
        parse(b'{"hello": "world"}', "application/json")
    with pytest.raises(ParseError, match="not valid JSON"):
        parse(b'{"items": [', "application/json")
    with pytest.raises(ParseError, match="advertises no feed"):
        parse(b"<!doctype html><html><body>hi</body></html>", "text/html")


def test_json_feed_1_1_and_rss_in_json() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1", "title": "J",
        "home_page_url": "https://j.example/",
        "items": [
            {"id": 1, "url": "/posts/1?utm_campaign=x", "title": "One &amp; only",
             "content_html": "<p>Hi <script>x()</script></p>",
             "date_published": "2026-04-24T10:00:00+02:00",
             "authors": [{"name": "Ann"}], "tags": ["a", "b"],
             "image": "https://j.example/1.png"},
            {"id": "2", "external_url": "https://elsewhere.example/2", "content_text": "a < b",
             "date_modified": "2026-04-23T10:00:00Z"},
            {"id": "3", "title": "no link"},
            "not an item",
        ],
    }
    stories = parse(json.dumps(feed), "application/feed+json", url="https://j.example/feed.json")
    assert [(s.id, s.url, s.title) for s in stories] == [
        ("1", "https://j.example/posts/1", "One & only"),
        ("2", "https://elsewhere.example/2", "a < b"),
    ]
    one = stories[0]
    assert one.summary_html == "<p>Hi </p>" and one.author == "Ann"
    assert one.categories == ("a", "b") and one.image and one.image.url.endswith("/1.png")
    assert one.published == datetime(2026, 4, 24, 8, tzinfo=UTC)
    assert stories[1].published == datetime(2026, 4, 23, 10, tzinfo=UTC)

    rss_json = {"rss": {"channel": {"title": "S", "link": "http://s.example/", "item": [
        {"description": "Untitled post.", "link": "http://s.example/1#a", "guid": "g1",
         "pubDate": "Mon, 26 Jun 2017 12:20:05 GMT"}]}}}
    [story] = parse(json.dumps(rss_json), "application/json")
    assert (story.id, story.url, story.title) == ("g1", "http://s.example/1", "Untitled post.")


def test_a_story_seen_again_keeps_its_first_seen_date_when_undated(tmp_path: Path) -> None:
    from digest.store import Store

    body = rss(item("Undated", "https://n.example/u"))
    with Store.open(tmp_path / "s.sqlite3") as store:
        first = parse_feed(FetchResult(feed=FEED, status="ok", body=body.encode()), NOW)
        assert store.upsert_stories(first, NOW) == 1
        later = NOW + timedelta(hours=5)
        edited = parse_feed(FetchResult(feed=FEED, status="ok",
                                        body=body.replace("Undated", "Edited").encode()), later)
        assert store.upsert_stories(edited, later) == 0
        [stored] = store.unsent_stories(NOW - timedelta(days=1), later)
    assert (stored.title, stored.published) == ("Edited", NOW)


def test_feeds_built_to_be_slow_for_the_fast_path_parse_within_limits() -> None:
    """Deep nesting inside an item and Atom xhtml with tens of thousands of tags (both read
    by the fast path, not declined) parse in the CPU and memory limits of the child, and
    still give their story."""
    nested = rss('<item xmlns:x="https://x.example/"><title>Deep</title><link>https://news.'
                 'example/deep</link>' + "<x:a>" * 50_000 + "t" + "</x:a>" * 50_000 + "</item>")
    wide = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            '<title>T</title><entry><title>Wide</title><link href="https://news.example/wide"/>'
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            + "  " * 50_000 + "<b>x</b> " * 50_000 + "</div></content></entry></feed>")
    assert parse_in_child(nested)["titles"] == ["Deep"]
    assert parse_in_child(wide)["titles"] == ["Wide"]
