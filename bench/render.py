"""Benchmark: rendering one edition, and personalising it for many subscribers.

    .venv/bin/python bench/render.py                      # 30 stories, 100,000 subscribers
    .venv/bin/python bench/render.py --subscribers 10000  # quicker

Prints:
  1. one render of a 30-story edition (Jinja2 + premailer), in ms, and the HTML sizes;
  2. the string stage per subscriber: `Personalizer.fill` of both parts with ready values,
     and with the values made (HMAC token, HTML escaping) as `message.py` makes them;
  3. the whole per-subscriber cost up to the bytes on the wire: `PreparedMessage.wire()`
     (what `digest send` uses: the variant encoded once, only the values per subscriber), and
     for comparison the email package's slow path (`build_message(...)` then `bytes(msg)`).
The edition is built from the real-world corpus's 2023-11-24 feeds (NYT, NPR, Japan Times)
when ../shared/corpus is present, else from tests/editions.py's synthetic stories.
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from editions import NOW, corpus_edition, large_edition  # noqa: E402

from digest.deliver.message import (  # noqa: E402
    Personalizer,
    PreparedMessage,
    Sender,
    build_message,
    recipient_values,
)
from digest.model import (  # noqa: E402
    Edition,
    Subscriber,
)
from digest.render.budget import html_size, sample_values  # noqa: E402
from digest.render.edition import inline_css, render_edition, render_templates  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
BASE_URL = "https://morningbrief.example.com"
TARGET_US = 50.0


def thirty_stories(count: int) -> tuple[Edition, str]:
    if CORPUS.is_dir():
        return corpus_edition(CORPUS, count), "corpus 2023-11-24 (NYT, NPR, Japan Times)"
    return large_edition(count), "synthetic (tests/editions.py)"


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """CPU seconds of this process per call: other jobs on a shared machine inflate wall
    time, not this (all of it runs in this one thread)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=15)
    parser.add_argument("--messages", type=int, default=2_000,
                        help="whole messages to build (the email package is slow: ~ms each)")
    args = parser.parse_args()

    edition, origin = thirty_stories(args.stories)
    zone = ZoneInfo("America/New_York")
    templates = REPO / "templates"
    extra = {"base_url": BASE_URL}
    rendered = render_edition(edition, templates, zone, "0123456789abcdef", extra)
    raw = render_templates(edition, templates, zone, "0123456789abcdef", extra).html
    full = timed(lambda: render_edition(edition, templates, zone, "0123456789abcdef", extra),
                 args.renders)
    premailer_only = timed(lambda: inline_css(raw), args.renders)
    wire_size = html_size(rendered, sample_values(BASE_URL, edition.id))
    print(f"edition: {len(edition.clusters)} stories, {origin}")
    print(f"render (Jinja2 + premailer), CPU time, median of {args.renders}: "
          f"{statistics.median(full) * 1000:.1f} ms; premailer alone "
          f"{statistics.median(premailer_only) * 1000:.1f} ms")
    print(f"HTML before inlining {len(raw.encode()):,} bytes; inlined "
          f"{len(rendered.html.encode()):,} bytes; as sent with a subscriber's values "
          f"{wire_size:,} bytes; "
          f"text part {len(rendered.text.encode()):,} bytes")

    n = args.subscribers
    subscribers = [Subscriber(email=f"reader{i:06d}@example-mail.com", name=f"Reader {i}")
                   for i in range(n)]
    sender = Sender("Morning Brief", "Morning Brief <news@morningbrief.example.com>", BASE_URL,
                    b"bench-secret-key-of-enough-length")
    html_part = Personalizer(rendered.html, rendered.placeholders)
    text_part = Personalizer(rendered.text, rendered.placeholders)
    ready = [recipient_values(sender, s, edition.id) for s in subscribers]
    ready_escaped = [{k: html.escape(v, quote=True) for k, v in v.items()} for v in ready]

    def fill_only() -> None:
        for plain, escaped in zip(ready, ready_escaped, strict=True):
            html_part.fill(escaped).encode()
            text_part.fill(plain).encode()

    def string_stage() -> None:
        for s in subscribers:
            plain = recipient_values(sender, s, edition.id)
            escaped = {k: html.escape(v, quote=True) for k, v in plain.items()}
            html_part.fill(escaped)
            text_part.fill(plain)

    naive_n = min(n, 10_000)

    def naive_replace() -> None:
        for values in ready_escaped[:naive_n]:
            page = rendered.html
            for field, mark in rendered.placeholders.items():
                page = page.replace(mark, values[field])

    message_n = min(n, args.messages)

    def fill_strings() -> None:
        for plain, escaped in zip(ready, ready_escaped, strict=True):
            html_part.fill(escaped)
            text_part.fill(plain)

    # What an encode-once path does: the literal pieces encoded to UTF-8 once, and per
    # subscriber only the few short values encoded, then one bytes join a part.
    html_bytes = [p.encode() for p in html_part._pieces]
    text_bytes = [p.encode() for p in text_part._pieces]

    def fill_bytes() -> None:
        for plain, escaped in zip(ready, ready_escaped, strict=True):
            for pieces, values in ((html_bytes, escaped), (text_bytes, plain)):
                filled = pieces[:]
                for i in range(1, len(filled), 2):
                    filled[i] = values[pieces[i].decode()].encode()
                b"".join(filled)

    prepared = PreparedMessage(rendered, sender, NOW)

    def wire_bytes() -> None:
        for s in subscribers:
            prepared.wire(s)

    def whole_message() -> None:
        for s in subscribers[:message_n]:
            bytes(build_message(rendered, s, sender, NOW, html_part, text_part))

    results = [
        ("Personalizer.fill, both parts, values ready (str out)", fill_strings, n),
        ("  the same, then str.encode('utf-8') of each part", fill_only, n),
        ("  the same with the pieces UTF-8 encoded once (bytes out)", fill_bytes, n),
        ("string stage: values (HMAC token) + escaping + fill, both parts (str out)",
         string_stage, n),
        ("for comparison: a str.replace chain over the HTML part only", naive_replace, naive_n),
        ("WIRE: PreparedMessage.wire(subscriber), the whole message as bytes (what send uses)",
         wire_bytes, n),
        ("for comparison: build_message(...) + bytes(msg), the email package's slow path",
         whole_message, message_n),
    ]
    print(f"per subscriber, CPU time, {n:,} subscribers (target {TARGET_US:.0f} µs):")
    for label, function, count in results:
        (seconds,) = timed(function, 1)
        per = seconds / count * 1e6
        mark = "meets" if per < TARGET_US else "misses"
        print(f"  {per:8.1f} µs  {mark} the target   {label} ({count:,} in {seconds:.1f} s)")


if __name__ == "__main__":
    main()
