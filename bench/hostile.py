"""CPU time to parse hostile feed shapes at two sizes, and the ratio between them.

Each shape is a pattern repeated to fill the feed: `<img ` and `<link ` without their `>`
(once quadratic in parse), unclosed `<!ENTITY` values (once quadratic in the DOCTYPE
stripping), deep nesting (quadratic in the HTML sanitizer, hence its input bound). A linear
pass takes about ten times as long on ten times the text.

    .venv/bin/python bench/hostile.py [SIZE]      # default 300000 bytes, and a tenth of it
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from datetime import UTC, datetime

from digest.errors import ParseError
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult


def _rss(description: str) -> bytes:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
            "<title>S</title><link>http://x.example/1</link><description><![CDATA["
            + description + "]]></description></item></channel></rss>").encode()


SHAPES = {
    "<img in RSS": (lambda n: _rss("<img " * (n // 5)), "application/rss+xml"),
    "<img in JSON": (lambda n: json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{
            "id": "1", "url": "http://x.example/1", "title": "S",
            "content_html": "<img " * (n // 5)}]}).encode(), "application/feed+json"),
    "<!ENTITY": (lambda n: ('<!DOCTYPE r [' + '<!ENTITY a "' * (n // 12) + "]><rss/>"
                            ).encode(), "application/rss+xml"),
    "<link in HTML": (lambda n: ("<!doctype html><html><head>" + "<link " * (n // 6)
                                 ).encode(), "text/html"),
    "nested <div>": (lambda n: _rss("<div>" * (n // 5)), "application/rss+xml"),
}


def cpu_seconds(body: bytes, content_type: str) -> float:
    result = FetchResult(feed=Feed(url="http://x.example/f", name="F", section="S"),
                         status="ok", body=body, headers={"content-type": content_type},
                         final_url="http://x.example/f")
    start = time.process_time()
    with contextlib.suppress(ParseError):  # "not a feed" is an answer too; its time counts
        parse_feed(result, datetime(2026, 1, 1, tzinfo=UTC))
    return time.process_time() - start


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    for name, (make, content_type) in SHAPES.items():
        small = cpu_seconds(make(size // 10), content_type)
        large = cpu_seconds(make(size), content_type)
        print(f"{name:14} {size // 10:>8} B {small:7.3f} s  {size:>8} B {large:7.3f} s  "
              f"ratio {large / max(small, 1e-4):6.1f}", flush=True)


if __name__ == "__main__":
    main()
