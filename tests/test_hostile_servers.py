"""One feed, one failure, whatever its server sends: each hostile answer below is served
beside two good feeds by a real server on 127.0.0.1, fetched by the real `digest fetch`, and
must cost that feed one line while the good feeds' stories are stored."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scripted import Answer, feeds_config, rss, scripted_server

from digest import cli
from digest.config import load_config
from digest.store import Store

NOW = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
FEED = (("Content-Type", "application/rss+xml"),)
BODY = rss("bad", 5)

HOSTILE = {
    "redirect to mailto": Answer(302, (("Location", "mailto:someone@example.com"),)),
    "redirect to data": Answer(301, (("Location", "data:text/xml,<rss/>"),)),
    "redirect to a bad host": Answer(302, (("Location", "http://exa mple.com:99999/x"),)),
    "redirect to a bad port": Answer(302, (("Location", "http://example.com:0x50/"),)),
    "redirect with control bytes": Answer(302, (("Location", "http://a\x7f.example/"),)),
    "says gzip, is not": Answer(200, (*FEED, ("Content-Encoding", "gzip")), BODY),
    "says deflate, is not": Answer(200, (*FEED, ("Content-Encoding", "deflate")), BODY),
    "truncated gzip": Answer(200, (*FEED, ("Content-Encoding", "gzip")),
                             gzip.compress(BODY)[:-30], length=False),
    "corrupt deflate": Answer(200, (*FEED, ("Content-Encoding", "deflate")),
                              zlib.compress(BODY)[:20] + b"\xff" * 40),
    "brotli we did not ask for": Answer(200, (*FEED, ("Content-Encoding", "br")), b"\x0b\x02"),
    "zstd we did not ask for": Answer(200, (*FEED, ("Content-Encoding", "zstd")), b"\x28\xb5"),
    "truncated body": Answer(200, FEED, BODY, truncate_to=100),
    "status 999": Answer(999, FEED, BODY),
    "empty 200": Answer(200, FEED, b""),
}


def test_any_hostile_answer_costs_its_feed_one_line_and_the_others_are_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every hostile answer at once, beside two good feeds, in one real `digest fetch`."""
    with scripted_server() as server:
        server.answers.update({"/good/one": Answer(body=rss("one")),
                               "/good/two": Answer(body=rss("two"))})
        urls = {"Good one": server.url("/good/one")}
        for n, name in enumerate(sorted(HOSTILE)):
            server.answers[f"/bad/{n}"] = HOSTILE[name]
            urls[name] = server.url(f"/bad/{n}")
        urls["Good two"] = server.url("/good/two")
        config = feeds_config(tmp_path, urls)
        code = cli.main(["fetch", "--json", "--config", str(config)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 1
    feeds = {f["name"]: f for f in json.loads(out)["feeds"]}
    assert list(feeds) == list(urls)
    for name in HOSTILE:
        assert feeds[name]["status"] == "failed", name
        assert feeds[name]["error"] and "\n" not in feeds[name]["error"], name
    assert (feeds["Good one"]["new"], feeds["Good two"]["new"]) == (3, 3)
    with Store.open(load_config(config).database_path) as store:
        titles = {s.title for s in store.unsent_stories(NOW - timedelta(days=30), NOW)}
        states = store.feed_states()
    assert {"one story 0", "two story 2"} <= titles
    assert not any(t.startswith("bad story") for t in titles)
    assert all(states[server.url(f"/bad/{n}")].failures == 1 for n in range(len(HOSTILE)))


def test_a_lying_content_encoding_is_named_in_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with scripted_server() as server:
        server.answers["/bad"] = HOSTILE["says gzip, is not"]
        config = feeds_config(tmp_path, {"Bad": server.url("/bad")})
        assert cli.main(["fetch", "--json", "--config", str(config)]) == 1
    error = json.loads(capsys.readouterr().out)["feeds"][0]["error"]
    assert error.startswith("the body is not valid gzip")


def slow_feed(megabytes: int) -> bytes:
    """A well-formed feed that takes seconds of CPU to parse on any machine: thousands of
    items, each with deeply nested markup for the sanitizer."""
    item = ("<item><title>slow {n}</title><link>http://slow.example/{n}</link>"
            "<description><![CDATA[" + "<div>" * 4000 + "]]></description></item>")
    count = megabytes * 1024 * 1024 // len(item)
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>slow</title><link>http://slow.example/</link>"
            + "".join(item.format(n=n) for n in range(count))
            + "</channel></rss>").encode()


def test_a_feed_that_parses_too_long_is_stopped_and_its_worker_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with scripted_server() as server:
        server.answers.update({"/good/one": Answer(body=rss("one")),
                               "/good/two": Answer(body=rss("two")),
                               "/slow": Answer(body=slow_feed(20))})
        config = feeds_config(
            tmp_path, {"Slow": server.url("/slow"), "Good one": server.url("/good/one"),
                       "Good two": server.url("/good/two")},
            fetch="parse_seconds = 1\nparse_workers = 1\nmax_bytes = 40000000")
        code = cli.main(["fetch", "--json", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    feeds = {f["name"]: f for f in json.loads(out)["feeds"]}
    assert feeds["Slow"]["status"] == "failed"
    assert "took longer than 1 s to parse" in feeds["Slow"]["error"]
    assert (feeds["Good one"]["new"], feeds["Good two"]["new"]) == (3, 3)


def test_a_feed_moved_onto_another_feeds_url_stops_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 301 from one feed to another configured feed's URL: both are then fetched at one
    URL, and every later run must still report each feed once."""
    with scripted_server() as server:
        server.answers.update({"/a": Answer(301, (("Location", "/b"),)),
                               "/b": Answer(body=rss("bee"))})
        config = feeds_config(tmp_path, {"A": server.url("/a"), "B": server.url("/b")})
        for _ in range(3):
            code = cli.main(["fetch", "--json", "--config", str(config)])
            out, err = capsys.readouterr()
            assert code == 0 and "Traceback" not in out + err, err
            assert [f["name"] for f in json.loads(out)["feeds"]] == ["A", "B"]


def test_an_item_that_breaks_cleaning_costs_that_item_not_its_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half surrogate pairs (legal JSON escapes, illegal text) in one item of a JSON Feed."""
    items = [{"id": "bad\\ud800", "url": "http://j.example/\\udfff", "title": "Broken \\ud800",
              "content_html": "<p>\\udc00</p>", "authors": [{"name": "\\ud800"}]},
             {"id": "good", "url": "http://j.example/good", "title": "Good item",
              "content_html": "<p>Fine.</p>"}]
    body = ('{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
            + json.dumps(items).replace("\\\\u", "\\u") + "}").encode()
    with scripted_server() as server:
        server.answers["/j"] = Answer(body=body,
                                      headers=(("Content-Type", "application/feed+json"),))
        config = feeds_config(tmp_path, {"J": server.url("/j")})
        code = cli.main(["fetch", "--json", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in out + err and "Logging error" not in err
    assert json.loads(out)["feeds"][0]["new"] == 2
    with Store.open(load_config(config).database_path) as store:
        titles = {s.title for s in store.unsent_stories(datetime(1970, 1, 2, tzinfo=UTC),
                                                          datetime(2200, 1, 1, tzinfo=UTC))}
    assert "Good item" in titles and "Broken \ufffd" in titles
