"""Only POST changes state: every method sent to every route of `digest serve`'s app (the
routes are read from the app itself, so a route added later is covered too), against the
real server and the real SQLite file, whose whole content is compared before and after."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import SmtpServer, set_config
from starlette.routing import Route
from webserver import running_web

from digest import pipeline
from digest.audience.subscribers import make_token
from digest.config import Config, load_config
from digest.pipeline.serve import web_app
from digest.sink.server import free_port

KEY = b"a-test-secret-of-enough-length"
ENV = {"DIGEST_SECRET": KEY.decode()}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "TRACE", "POST")
FORM = "List-Unsubscribe=One-Click&topics=World&frequency=weekly"


def dump(database: Path) -> list[str]:
    """Everything in the database, as SQL text (a fresh connection: what was committed)."""
    db = sqlite3.connect(database)
    try:
        return list(db.iterdump())
    finally:
        db.close()


@pytest.fixture
def sent(project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer) -> Config:
    """The sample project after one real send, so the archive has an edition."""
    base, root = feed_server
    for feed in (project / "samples" / "feeds").iterdir():
        shutil.copy(feed, root / feed.name)
    set_config(project / "config.toml", {'url = "samples/feeds/': f'url = "{base}/',
                                         "port = 1025": f"port = {smtp_server.port}"})
    config = load_config(project / "config.toml")
    pipeline.send(config, NOW, ENV)
    return config


@pytest.fixture
def base(sent: Config) -> Iterator[str]:
    with running_web(sent, KEY, free_port()) as url:
        yield url


def paths(config: Config) -> list[str]:
    """Every route of the app, with its parameters filled in and a valid token."""
    app = web_app(config, {}, lambda: NOW, KEY)
    token = make_token(KEY, "subscribers", "ada@example.com")
    found = []
    for route in app.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{edition}", "daily-2023-11-22")
        assert "{" not in path, f"a route parameter this test does not fill: {route.path}"
        found.append(f"{path}?t={token}")
    return sorted(set(found))


def test_no_method_but_post_changes_the_database_on_any_route(sent: Config, base: str) -> None:
    database = sent.database_path
    changed_by_post = []
    with httpx.Client(base_url=base) as client:
        for path in paths(sent):
            for method in METHODS:
                before = dump(database)
                r = client.request(method, path, content=FORM,
                                   headers={"content-type": "application/x-www-form-urlencoded"})
                assert r.status_code < 500, (method, path, r.status_code)
                if method != "POST":
                    assert dump(database) == before, f"{method} {path} changed the database"
                elif dump(database) != before:
                    changed_by_post.append(path.partition("?")[0])
    # The test can see a change: the forms that act do change the database by POST.
    assert {"/preferences", "/unsubscribe", "/delete"} <= set(changed_by_post), changed_by_post


def test_head_on_the_unsubscribe_link_unsubscribes_nobody(sent: Config, base: str) -> None:
    token = make_token(KEY, "subscribers", "ada@example.com")
    before = dump(sent.database_path)
    for method in ("HEAD", "GET", "OPTIONS"):
        httpx.request(method, f"{base}/unsubscribe?t={token}")
    assert dump(sent.database_path) == before


def test_a_forged_host_header_never_picks_where_a_redirect_points(base: str) -> None:
    for path in ("/archive", "/healthz/", "/unsubscribe/", "/preferences/"):
        r = httpx.get(f"{base}{path}", headers={"Host": "evil.example"})
        assert "evil.example" not in r.headers.get("location", ""), path
        assert "evil.example" not in r.text
    r = httpx.get(f"{base}/archive", follow_redirects=True)
    assert r.status_code == 200 and str(r.url) == f"{base}/archive/"
