"""A real HTTP server on 127.0.0.1 that answers each path exactly as a test scripts it: any
status, any headers (lying ones included), any body bytes, cut short or not. For the tests of
hostile servers and the fuzz test that drives many feeds at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/rss+xml"),)
    body: bytes = b""
    truncate_to: int | None = None  # send only this many bytes of the body, then close
    length: bool = True  # send a Content-Length (of the whole body, even when truncating)


@dataclass
class Scripted:
    base: str
    answers: dict[str, Answer] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def rss(title: str, items: int = 3) -> bytes:
    """A small valid RSS feed whose items are titled "<title> story <i>"."""
    entries = "".join(
        f"<item><title>{title} story {i}</title><link>http://news.example/{title}/{i}</link>"
        f"<guid>{title}-{i}</guid><pubDate>Sat, 25 Apr 2026 0{i % 10}:00:00 GMT</pubDate>"
        f"<description>About {title} {i}.</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>http://news.example/</link>{entries}"
            "</channel></rss>").encode()


def _handler(state: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.hits.append(self.path)
            answer = state.answers.get(self.path, Answer(404, (), b"no such feed"))
            body = answer.body
            try:
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if answer.length:
                    self.send_header("Content-Length", str(len(body)))
                if answer.truncate_to is not None or not answer.length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body if answer.truncate_to is None
                                 else body[: answer.truncate_to])
                self.wfile.flush()
            except OSError:
                self.close_connection = True  # the client gave up, as it may

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that resets a connection is expected here, not a failure to print


@contextmanager
def serving_http(httpd: ThreadingHTTPServer) -> Iterator[str]:
    """Serve from a thread for the block; yields the server's base URL."""
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def scripted_server() -> Iterator[Scripted]:
    """The server, on a free loopback port, for the block."""
    state = Scripted("")
    with serving_http(_QuietServer(("127.0.0.1", 0), _handler(state))) as state.base:
        yield state


def feeds_config(tmp_path: Path, urls: dict[str, str], fetch: str = "",
                 timeout: float = 3.0) -> Path:
    """A config.toml under tmp_path with these feeds (name -> URL); `fetch` is more lines
    for its [fetch] table. Returns its path."""
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\nname = "{n}"\n\n' for n, u in urls.items())
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(
        '[newsletter]\nname = "Test"\nfrom = "Test <t@example.com>"\n\n'
        '[state]\ndatabase = "state.sqlite3"\n\n'
        f"[fetch]\ntimeout_seconds = {timeout}\nconnect_timeout_seconds = 1.0\n{fetch}\n\n"
        + feeds
    )
    return path
