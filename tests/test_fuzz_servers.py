"""Fuzz: a real HTTP server on 127.0.0.1 answers many feeds at once with random
combinations of status, redirects, headers, encodings and truncated bodies; every run of the
real `digest fetch` command must end with one line per feed, no traceback, exit
0 or 1, and the good feeds stored."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tempfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scripted import Answer, feeds_config, rss, scripted_server

from digest import cli
from digest.config import load_config
from digest.store import Store

GOOD = rss("good", 3)
JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
    {"id": "1", "url": "http://j.example/1", "title": "J story"}]}).encode()
BODIES = {
    "rss": GOOD, "json": JSON_FEED, "empty": b"", "junk": bytes(range(256)) * 4,
    "html": b"<!doctype html><html><head><link rel=alternate type=application/rss+xml "
            b"href=/good></head></html>",
    "half xml": GOOD[: len(GOOD) // 2],
}
ENCODINGS = {
    "identity": lambda b: b, "gzip": gzip.compress, "deflate": zlib.compress,
    "raw deflate": lambda b: zlib.compress(b)[2:-4], "lying gzip": lambda b: b,
    "br": lambda b: b"\x1b" + b, "zstd": lambda b: b"\x28\xb5\x2f\xfd" + b,
}
ENCODING_HEADER = {"identity": None, "gzip": "gzip", "deflate": "deflate",
                   "raw deflate": "deflate", "lying gzip": "gzip", "br": "br", "zstd": "zstd"}
LOCATIONS = ["/good/a", "/f/0", "/f/1", "mailto:x@example.com", "data:text/xml,<rss/>",
             "http://localhost:1/x", "http://[::1]:1/", "//", "http://exa mple/", "ftp://x/",
             "http://127.0.0.1:1/refused", "/f/0?again", "http://%zz/"]
STATUSES = [200, 200, 200, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 410, 429, 500,
            503, 204, 206, 999]


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status = draw(st.sampled_from(STATUSES))
    body_kind = draw(st.sampled_from(sorted(BODIES)))
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    body = ENCODINGS[encoding](BODIES[body_kind])
    headers: list[tuple[str, str]] = []
    content_type = draw(st.sampled_from(["application/rss+xml", "text/html", "image/png",
                                         "application/feed+json", "text/xml; charset=bogus",
                                         ""]))
    if content_type:
        headers.append(("Content-Type", content_type))
    if ENCODING_HEADER[encoding]:
        headers.append(("Content-Encoding", str(ENCODING_HEADER[encoding])))
    if status in (301, 302, 303, 307, 308) and draw(st.booleans()):
        headers.append(("Location", draw(st.sampled_from(LOCATIONS))))
    if draw(st.booleans()):
        headers.append(("Retry-After", draw(st.sampled_from(
            ["5", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999"]))))
    if draw(st.booleans()):
        headers.append(("ETag", draw(st.sampled_from(['"v1"', "", "W/\"x\"", "\"unclosed"]))))
    truncate = draw(st.one_of(st.none(), st.integers(0, max(len(body) - 1, 0))))
    return Answer(status, tuple(headers), body, truncate_to=truncate, length=draw(st.booleans()))


@settings(max_examples=8, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(answers(), min_size=6, max_size=12))
def test_any_mix_of_hostile_answers_ends_with_one_line_per_feed(hostile: list[Answer]) -> None:
    with tempfile.TemporaryDirectory() as folder, scripted_server() as server:
        server.answers["/good/a"] = Answer(body=rss("alpha"))
        server.answers["/good/b"] = Answer(body=gzip.compress(rss("beta")),
                                           headers=(("Content-Type", "application/rss+xml"),
                                                    ("Content-Encoding", "gzip")))
        urls = {"Good a": server.url("/good/a"), "Good b": server.url("/good/b")}
        for n, answer in enumerate(hostile):
            server.answers[f"/f/{n}"] = answer
            urls[f"Feed {n}"] = server.url(f"/f/{n}")
        config = feeds_config(Path(folder), urls, timeout=1.5)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["fetch", "--json", "--config", str(config)])
        assert code in (0, 1), err.getvalue()
        assert "Traceback" not in out.getvalue() + err.getvalue(), err.getvalue()
        report = json.loads(out.getvalue())
        assert [f["name"] for f in report["feeds"]] == list(urls)
        for feed in report["feeds"]:
            assert feed["status"] in ("ok", "not_modified", "failed", "skipped")
            assert feed["error"] is None or "\n" not in feed["error"]
            assert (feed["status"] == "failed") == (feed["error"] is not None) or \
                feed["status"] == "skipped"
        good = [f for f in report["feeds"] if f["name"].startswith("Good")]
        assert [(f["status"], f["new"]) for f in good] == [("ok", 3), ("ok", 3)]
        now = datetime.now(UTC)
        with Store.open(load_config(config).database_path) as store:
            titles = {s.title for s in store.unsent_stories(now - timedelta(days=3650), now)}
        assert {"alpha story 0", "beta story 2"} <= titles
