"""`digest status` against a real state database after real fetches and a real send: each
feed's last fetch (ok / failed, why, next try), the editions' delivery counts,
and who holds the locks."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import SmtpServer, set_config

from digest import cli, pipeline
from digest.cli import status
from digest.config import load_config
from digest.service import schedule
from digest.store import FeedState
from digest.store.lock import hold_lock

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}


def _status(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    capsys.readouterr()
    assert cli.main(["status", "--config", str(config), *flags]) == 0
    return capsys.readouterr().out


class _FeedHandler(BaseHTTPRequestHandler):
    """Serves the sample feeds (200 every time, no validators) and 404 for anything else."""

    folder: Path

    def do_GET(self) -> None:
        path = self.folder / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "File not found")
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feeds_url(project: Path) -> Iterator[str]:
    handler = type("Handler", (_FeedHandler,), {"folder": project / "samples" / "feeds"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_status_tells_each_feeds_last_fetch_and_each_editions_counts(
    project: Path, feeds_url: str, smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_path = project / "config.toml"
    set_config(config_path, {
        'url = "samples/feeds/': f'url = "{feeds_url}/',
        "port = 1025": f"port = {smtp_server.port}",
    })
    with config_path.open("a") as f:
        f.write(f'\n[[feeds]]\nurl = "{feeds_url}/gone.xml"\nname = "Gone Gazette"\n')

    assert cli.main(["fetch", "--config", str(config_path)]) == 1  # one feed failed
    pipeline.send(load_config(config_path), NOW, ENV)  # fetches again: the same 404
    report = json.loads(_status(config_path, capsys, "--json"))

    by_name = {f["name"]: f for f in report["feeds"]}
    assert {n: f["status"] for n, f in by_name.items()} == {
        "Political IQ": "ok", "World Wire": "ok", "Capitol Ledger": "ok",
        "Gone Gazette": "failed"}
    gone = by_name["Gone Gazette"]
    assert "404" in gone["error"] and gone["failures"] == 2
    config = load_config(config_path)
    (fetch_job,) = [j for j in schedule.plan(config) if j.id == "fetch"]
    now = datetime.fromisoformat(report["now"])
    expected_next = schedule.next_run(fetch_job, now)
    assert expected_next is not None
    assert all(datetime.fromisoformat(f["next_try"]) == expected_next for f in report["feeds"])
    assert all(f["last_fetch"] for f in report["feeds"])
    (edition,) = report["editions"]
    assert edition["id"] == "daily-2023-11-22"
    assert {k: edition[k] for k in ("sent", "deferred", "failed", "unknown", "pending")} == {
        "sent": 3, "deferred": 0, "failed": 0, "unknown": 0, "pending": 0}
    assert report["scheduler"] is None and report["running_job"] is None
    assert [j["job"] for j in report["jobs"]] == ["fetch", "send-daily", "retry"]

    text = _status(config_path, capsys)
    assert "digest run: not running" in text
    assert "failing: 2 failures in a row; next try after" in text
    assert "404" in text
    line = next(t for t in text.splitlines() if "daily-2023-11-22" in t)
    assert "sent 3, deferred 0, failed 0, unknown 0" in line


def test_status_names_the_process_holding_the_lock(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = project / "config.toml"
    database = load_config(config_path).database_path
    with hold_lock(database, "digest send"):
        report = json.loads(_status(config_path, capsys, "--json"))
        text = _status(config_path, capsys)
    assert report["running_job"] == {"pid": os.getpid(), "doing": "digest send"}
    assert f"PID {os.getpid()}, digest send" in text
    assert json.loads(_status(config_path, capsys, "--json"))["running_job"] is None


def test_a_feed_backoff_from_the_store_delays_its_next_try() -> None:
    # The fetch stage may keep a per-feed backoff; status reads whatever FeedState offers.
    @dataclasses.dataclass(frozen=True)
    class WithBackoff(FeedState):
        retry_after: datetime | None = None

    later = datetime(2026, 11, 26, 15, tzinfo=UTC)
    state = WithBackoff("https://x.example/feed", later - timedelta(hours=2), "failed",
                        "HTTP 503", 3, retry_after=later)
    assert status._not_before(state) == later
    plain = FeedState("https://x.example/feed", later, "ok", "", 0)
    assert status._not_before(plain) is None
