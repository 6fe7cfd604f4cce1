"""Misbehaving servers, each against a real local HTTP server in the same run as good feeds.

Every test fetches one bad feed beside two good ones through `pipeline.fetch` (the real
SQLite store under tmp_path), and asserts both the bad feed's message and that the good
feeds were stored. Deadlines are short (FetchConfig) so that no test waits long.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scripted import serving_http

from digest import cli, pipeline
from digest.config import Config, load_config
from digest.pipeline import FetchSummary
from digest.store import Store

NOW = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)


def rss(title: str, items: int = 3) -> bytes:
    entries = "".join(
        f"<item><title>{title} story {i}</title><link>http://news.example/{title}/{i}</link>"
        f"<guid>{title}-{i}</guid><pubDate>Sat, 25 Apr 2026 0{i}:00:00 GMT</pubDate>"
        f"<description>About {title} {i}.</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>http://news.example/</link>{entries}"
            "</channel></rss>").encode()


@dataclass
class Server:
    base: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hanging: dict[str, int] = field(default_factory=dict)  # per group, held right now
    most_hanging: dict[str, int] = field(default_factory=dict)  # per group, most held at once
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]


GZIP_BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB in ~64 KiB
ETAG = '"v1"'
SERVER_ERROR = "HTTP 500 Internal Server Error; a server problem, digest tries again later"
LAST_MODIFIED = "Sat, 25 Apr 2026 08:00:00 GMT"
HTML_PAGE = b"""<!DOCTYPE html><html><head><title>News</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/real/feed.xml">
</head><body><p>Welcome</p></body></html>"""


def _handler(server: Server, stop: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            named = {k.replace("_", "-"): v for k, v in headers.items()}
            named.setdefault("Content-Type", "application/rss+xml")
            for k, v in named.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def hold_until_client_leaves(self, stop: threading.Event) -> None:
            """Answer nothing until the client closes the connection (or the test ends)."""
            while not stop.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return

        def do_GET(self) -> None:  # noqa: C901 - one branch per misbehaviour
            path = self.path
            server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            if path.startswith("/good/") or path.startswith("/real/"):
                self.send(200, rss(path.strip("/").replace("/", "-")))
            elif path == "/drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for byte in rss("drip", 50):
                    if stop.wait(0.5):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up, as it should
            elif path.startswith("/hang"):
                group = path.partition("?")[2].partition("-")[0]  # /hang?GROUP-N
                with server.lock:
                    server.hanging[group] = server.hanging.get(group, 0) + 1
                    server.most_hanging[group] = max(server.most_hanging.get(group, 0),
                                                     server.hanging[group])
                self.hold_until_client_leaves(stop)
                with server.lock:
                    server.hanging[group] -= 1
            elif path == "/loop-a":
                self.send(302, Location="/loop-b")
            elif path == "/loop-b":
                self.send(301, Location="/loop-a")
            elif path == "/error":
                self.send(500, b"oops", Content_Type="text/plain")
            elif path == "/conditional":
                if (self.headers.get("If-None-Match") == ETAG
                        or self.headers.get("If-Modified-Since") == LAST_MODIFIED):
                    self.send(304, ETag=ETAG)
                else:
                    self.send(200, rss("conditional"), ETag=ETAG, Last_Modified=LAST_MODIFIED)
            elif path == "/bomb":
                self.send(200, GZIP_BOMB, Content_Encoding="gzip")
            elif path == "/html":
                self.send(200, HTML_PAGE, Content_Type="text/html; charset=utf-8")
            elif path == "/image":
                self.send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, Content_Type="image/png")
            elif path == "/busy":
                self.send(429, b"slow down", Content_Type="text/plain", Retry_After="120")
            elif path == "/moved":
                self.send(301, Location="/good/new-home")
            elif path == "/gone":
                self.send(410, b"gone", Content_Type="text/plain")
            else:
                self.send(404, b"no such feed", Content_Type="text/plain")

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    stop = threading.Event()
    state = Server("")
    with serving_http(ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, stop))) as state.base:
        try:
            yield state
        finally:
            stop.set()  # before the shutdown: handlers that hold a connection open let go


def make_config(tmp_path: Path, urls: dict[str, str], **fetch: Any) -> Config:
    """A config with these feeds (name -> URL), its database under tmp_path."""
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\nname = "{n}"\n\n' for n, u in urls.items())
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(
        '[newsletter]\nname = "Test"\nfrom = "Test <t@example.com>"\n\n'
        '[state]\ndatabase = "state.sqlite3"\n\n'
        "[fetch]\ntimeout_seconds = 2.0\nconnect_timeout_seconds = 1.0\n\n" + feeds
    )
    config = load_config(path)
    return dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, **fetch))


def run_with_good_feeds(
    tmp_path: Path, server: Server, bad: str, now: datetime = NOW, **fetch: Any
) -> tuple[FetchSummary, Config]:
    config = make_config(tmp_path, {
        "Good one": server.url("/good/one"), "Bad": server.url(bad),
        "Good two": server.url("/good/two"),
    }, **fetch)
    with Store.open(config.database_path) as store:
        summary = pipeline.fetch(config, store, now)
    return summary, config


def report(summary: FetchSummary, name: str) -> pipeline.FeedReport:
    return next(f for f in summary.feeds if f.name == name)


def assert_good_feeds_stored(summary: FetchSummary, config: Config) -> None:
    for name in ("Good one", "Good two"):
        r = report(summary, name)
        assert (r.status, r.new, r.error) == ("ok", 3, None), r
    with Store.open(config.database_path) as store:
        stored = store.unsent_stories(NOW - timedelta(days=1), NOW)
    titles = {s.title for s in stored}
    assert {"good-one story 0", "good-two story 2"} <= titles


def test_a_server_dripping_one_byte_at_a_time_is_cut_off_at_the_deadline(
    tmp_path: Path, server: Server
) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/drip", timeout_seconds=1.5)
    bad = report(summary, "Bad")
    assert bad.status == "failed"
    assert bad.error and "no complete answer within 1.5 s" in bad.error
    assert_good_feeds_stored(summary, config)


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(
    tmp_path: Path, server: Server
) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/hang", timeout_seconds=1.0)
    bad = report(summary, "Bad")
    assert bad.status == "failed" and bad.error
    assert "within 1 s" in bad.error or "timed out" in bad.error
    assert_good_feeds_stored(summary, config)


def test_a_redirect_loop_is_that_feeds_error(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/loop-a")
    bad = report(summary, "Bad")
    assert bad.status == "failed" and bad.error
    assert bad.error.startswith(f"redirect loop (back to {server.url('/loop-a')})")
    assert len(server.hits("/loop-a")) == 1 and len(server.hits("/loop-b")) == 1
    assert_good_feeds_stored(summary, config)


def test_a_server_error_is_one_line_and_counts_as_a_failure(
    tmp_path: Path, server: Server
) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/error")
    bad = report(summary, "Bad")
    assert (bad.status, bad.error) == ("failed", SERVER_ERROR)
    assert_good_feeds_stored(summary, config)
    with Store.open(config.database_path) as store:
        state = store.feed_states()[server.url("/error")]
    assert (state.failures, state.last_error) == (1, SERVER_ERROR)


def test_validators_are_sent_back_and_a_304_is_not_an_empty_feed(
    tmp_path: Path, server: Server
) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/conditional")
    assert (report(summary, "Bad").status, report(summary, "Bad").new) == ("ok", 3)
    assert "if-none-match" not in server.hits("/conditional")[0]

    with Store.open(config.database_path) as store:
        again = pipeline.fetch(config, store, NOW + timedelta(hours=1))
        stored = store.unsent_stories(NOW - timedelta(days=1), NOW + timedelta(hours=1))
    second = server.hits("/conditional")[1]
    assert second["if-none-match"] == ETAG
    assert second["if-modified-since"] == LAST_MODIFIED
    assert (report(again, "Bad").status, report(again, "Bad").new) == ("not_modified", 0)
    # The 304 left the feed's stories alone, and the other feeds of the run were fetched.
    assert sum(1 for s in stored if s.title.startswith("conditional story")) == 3
    assert [report(again, n).status for n in ("Good one", "Good two")] == ["ok", "ok"]


def test_a_gzip_bomb_stops_at_the_size_cap_after_decompression(
    tmp_path: Path, server: Server
) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/bomb", max_bytes=1024 * 1024)
    bad = report(summary, "Bad")
    assert bad.status == "failed"
    assert bad.error == ("larger than the 1048576 byte limit (fetch.max_bytes), "
                         "after decompression")
    assert server.hits("/bomb")[0]["accept-encoding"] == "gzip, deflate"
    assert_good_feeds_stored(summary, config)


def test_an_html_page_names_the_feed_it_advertises(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/html")
    bad = report(summary, "Bad")
    assert bad.status == "failed"
    assert bad.error == (
        f"feed {server.url('/html')}: an HTML page, not a feed; the page advertises a feed at "
        f"{server.url('/real/feed.xml')}: put that URL in config.toml"
    )
    assert_good_feeds_stored(summary, config)


def test_a_media_type_that_cannot_be_a_feed_is_refused(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/image")
    bad = report(summary, "Bad")
    assert (bad.status, bad.error) == (
        "failed", "the server sends image/png, not a feed; check the feed's url")
    assert_good_feeds_stored(summary, config)


def test_429_with_retry_after_is_honoured(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/busy")
    bad = report(summary, "Bad")
    assert (bad.status, bad.error) == (
        "failed", "HTTP 429 Too Many Requests; the server asks to wait 120 s")
    assert_good_feeds_stored(summary, config)
    with Store.open(config.database_path) as store:
        assert store.feed_states()[server.url("/busy")].next_try == NOW + timedelta(seconds=120)
        soon = pipeline.fetch(config, store, NOW + timedelta(seconds=60))
        later = pipeline.fetch(config, store, NOW + timedelta(seconds=121))
    assert report(soon, "Bad").status == "skipped"
    assert report(soon, "Bad").error == (
        "waiting after 1 failure in a row; next try after 2026-04-25T12:02:00+00:00")
    assert len(server.hits("/busy")) == 2  # none while backing off, one after
    assert report(later, "Bad").status == "failed"
    assert [report(soon, n).status for n in ("Good one", "Good two")] == ["ok", "ok"]


def test_301_moves_the_feed_to_its_new_url(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/moved")
    bad = report(summary, "Bad")
    assert (bad.status, bad.new) == ("ok", 3)
    assert_good_feeds_stored(summary, config)
    with Store.open(config.database_path) as store:
        state = store.feed_states()[server.url("/moved")]
        assert state.moved_to == server.url("/good/new-home")
        pipeline.fetch(config, store, NOW + timedelta(hours=1))
    assert len(server.hits("/moved")) == 1  # the second run went straight to the new URL
    assert len(server.hits("/good/new-home")) == 2


def test_410_disables_the_feed_with_a_clear_message(tmp_path: Path, server: Server) -> None:
    summary, config = run_with_good_feeds(tmp_path, server, "/gone")
    bad = report(summary, "Bad")
    assert bad.status == "failed" and bad.error
    assert bad.error.startswith("HTTP 410 Gone: the site removed this feed; digest stops")
    assert_good_feeds_stored(summary, config)
    with Store.open(config.database_path) as store:
        again = pipeline.fetch(config, store, NOW + timedelta(days=30))
    assert report(again, "Bad").status == "skipped"
    assert report(again, "Bad").error == f"disabled: {bad.error}"
    assert len(server.hits("/gone")) == 1


def test_failures_back_off_exponentially_up_to_a_day(tmp_path: Path, server: Server) -> None:
    config = make_config(tmp_path, {"Bad": server.url("/error")}, backoff_seconds=600.0)
    waits = []
    now = NOW
    with Store.open(config.database_path) as store:
        for _ in range(12):
            pipeline.fetch(config, store, now)
            state = store.feed_states()[server.url("/error")]
            waits.append((state.next_try - now).total_seconds() if state.next_try else 0)
            now = state.next_try or now
    assert waits[:5] == [0, 600, 1200, 2400, 4800]
    assert max(waits) == 86400 and waits[-1] == 86400
    assert len(server.hits("/error")) == 12


def test_unreachable_hosts_are_named(tmp_path: Path, server: Server) -> None:
    from digest.sink.server import free_port

    closed = f"http://127.0.0.1:{free_port()}/feed.xml"
    config = make_config(tmp_path, {"Closed": closed, "Good": server.url("/good/three")})
    with Store.open(config.database_path) as store:
        summary = pipeline.fetch(config, store, NOW)
    assert report(summary, "Closed").error == (
        "connection refused; the server is down or the port is wrong")
    assert report(summary, "Good").new == 3


def test_the_fetch_command_prints_json_and_exits_1_when_a_feed_failed(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    make_config(tmp_path, {"Good": server.url("/good/one"), "Bad": server.url("/error")})
    code = cli.main(["fetch", "--json", "--config", str(tmp_path / "config.toml")])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out == {
        "feeds": [
            {"url": server.url("/good/one"), "name": "Good", "status": "ok", "new": 3,
             "error": None},
            {"url": server.url("/error"), "name": "Bad", "status": "failed", "new": 0,
             "error": SERVER_ERROR},
        ],
        "new_stories": 3,
    }
    code = cli.main(["fetch", "--config", str(tmp_path / "config.toml")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == "1 ok, 0 not modified, 1 failed; 0 new stories."
    assert lines[1] == (
        f"  failed: Bad ({server.url('/error')}): HTTP 500 Internal Server Error; a server "
        "problem, digest tries again later")
    code = cli.main(["status", "--config", str(tmp_path / "config.toml")])
    status = capsys.readouterr().out
    assert "failing: 2 failures in a row; next try after" in status


def test_feeds_are_fetched_at_once_within_the_per_host_limit(
    tmp_path: Path, server: Server
) -> None:
    """Counted on the server: how many requests for hanging feeds it held at once."""
    for group, per_host in (("wide", 6), ("polite", 2)):
        urls = {f"Hang {i}": server.url(f"/hang?{group}-{i}") for i in range(6)}
        config = make_config(tmp_path / group, urls, timeout_seconds=0.3, per_host=per_host)
        with Store.open(config.database_path) as store:
            assert pipeline.fetch(config, store, NOW).failed == 6
    assert server.most_hanging == {"wide": 6, "polite": 2}


def test_many_feeds_are_parsed_in_worker_processes_with_errors_kept_per_feed(
    tmp_path: Path, server: Server
) -> None:
    urls = {f"Good {i}": server.url(f"/good/many-{i}") for i in range(9)}
    urls["Page"] = server.url("/html")
    config = make_config(tmp_path, urls, parse_workers=2)
    assert pipeline.parse_workers(config.fetch, len(urls)) == 2
    with Store.open(config.database_path) as store:
        summary = pipeline.fetch(config, store, NOW)
        stored = store.unsent_stories(NOW - timedelta(days=1), NOW)
    assert [report(summary, f"Good {i}").new for i in range(9)] == [3] * 9
    page = report(summary, "Page")
    assert page.status == "failed" and page.error and "advertises a feed at" in page.error
    assert len(stored) == 27
    assert {s.feed_url for s in stored} == {server.url(f"/good/many-{i}") for i in range(9)}
