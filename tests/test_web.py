"""`digest serve` run for real (uvicorn on a free port) and driven over HTTP with httpx."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import SmtpServer, set_config
from webserver import running_web

from digest import pipeline
from digest.audience.subscribers import make_token
from digest.config import Config, load_config
from digest.sink.server import free_port
from digest.store import Store

KEY = b"a-test-secret-of-enough-length"
ENV = {"DIGEST_SECRET": KEY.decode()}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Served:
    base: str
    config: Config
    client: httpx.Client

    def state(self) -> tuple[list[tuple[str, str]], dict[str, object]]:
        with Store.open(self.config.database_path) as store:
            return ([(s.email, s.reason) for s in store.suppressions()],
                    dict(store.preferences()))


@pytest.fixture
def served(project: Path) -> Iterator[Served]:
    port = free_port()
    set_config(project / "config.toml",
               {'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"'})
    config = load_config(project / "config.toml")
    with running_web(config, KEY, port) as base, httpx.Client(base_url=base) as client:
        yield Served(base, config, client)


def _token(email: str = "ada@example.com", list_name: str = "subscribers") -> str:
    return make_token(KEY, list_name, email)


def _is_page_for_people(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert "<html" in response.text


def test_get_shows_the_newsletter_and_the_address_and_changes_nothing(served: Served) -> None:
    r = served.client.get("/unsubscribe", params={"t": _token()})
    assert r.status_code == 200
    _is_page_for_people(r)
    assert "Political IQ Daily" in r.text and "ada@example.com" in r.text
    assert r.text.count("<button") == 1 and 'method="post"' in r.text
    assert "set-cookie" not in r.headers and r.headers["referrer-policy"] == "no-referrer"
    assert served.state() == ([], {})


def test_one_click_post_suppresses_and_repeating_it_is_harmless(served: Served) -> None:
    for _ in range(2):
        r = served.client.post("/unsubscribe", params={"t": _token()},
                               content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert r.status_code == 200 and "location" not in r.headers
        assert "set-cookie" not in r.headers
        _is_page_for_people(r)
        assert "unsubscribed" in r.text and "ada@example.com" in r.text
    suppressions, _ = served.state()
    assert len(suppressions) == 1 and suppressions[0][0] == "ada@example.com"
    assert "unsubscribed" in suppressions[0][1]


def test_one_click_as_multipart_form_data_works_too(served: Served) -> None:
    # RFC 8058 lets the mail provider send the body as multipart/form-data.
    r = served.client.post("/unsubscribe", params={"t": _token("alan@example.net")},
                           files={"List-Unsubscribe": (None, "One-Click")})
    assert r.status_code == 200
    assert [e for e, _ in served.state()[0]] == ["alan@example.net"]


def _tampered() -> list[str]:
    token = _token()
    version, payload, signature = token.split(".")
    retargeted = _token("grace@example.org").split(".")[1]
    return [
        "", "nonsense", token[:-1], token[: len(token) // 2], token + "x",
        f"{version}.{retargeted}.{signature}",  # another address under ada's signature
        f"{version}.{_token(list_name='vip').split('.')[1]}.{signature}",  # another list
        make_token(b"not-our-key-but-long-enough", "subscribers", "ada@example.com"),
        f"v9.{payload}.{signature}",
    ]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_truncated_or_retargeted_tokens_are_refused_and_change_nothing(
    served: Served, method: str
) -> None:
    for token in _tampered():
        for path in ("/unsubscribe", "/preferences"):
            r = served.client.request(method, path, params={"t": token},
                                      content=b"List-Unsubscribe=One-Click&topics=World",
                                      headers=ONE_CLICK)
            assert r.status_code == 400, (path, token)
            _is_page_for_people(r)
            assert "not valid" in r.text and "nothing was changed" in r.text
    assert served.state() == ([], {})


def test_preferences_round_trip_and_apply_to_the_next_edition(served: Served) -> None:
    t = _token("grace@example.org")
    r = served.client.get("/preferences", params={"t": t})
    assert r.status_code == 200
    _is_page_for_people(r)
    # The list row says World;Politics, daily: that is what the form shows first.
    assert 'value="World" checked' in r.text and 'value="Politics" checked' in r.text
    assert 'value="Featured">' in r.text and 'value="daily" checked' in r.text

    r = served.client.post("/preferences", params={"t": t},
                           content=b"topics=world&frequency=weekly", headers=ONE_CLICK)
    assert r.status_code == 200 and "Saved" in r.text
    r = served.client.get("/preferences", params={"t": t})
    assert 'value="World" checked' in r.text and 'value="Politics">' in r.text
    assert 'value="weekly" checked' in r.text
    with Store.open(served.config.database_path) as store:
        assert store.preference("grace@example.org") == (("World",), "weekly")
        grace = next(s for s in pipeline.subscribers(served.config, store)
                     if s.email == "grace@example.org")
        daily = [s.email for s in pipeline.subscribers(served.config, store, "daily")]
    assert grace.topics == ("World",) and grace.frequency == "weekly"
    assert "grace@example.org" not in daily


@pytest.mark.parametrize("body, content_type, status", [
    (b"topics=Sports&frequency=daily", "application/x-www-form-urlencoded", 400),
    (b"topics=World&frequency=hourly", "application/x-www-form-urlencoded", 400),
    (b'{"topics": ["World"]}', "application/json", 415),
    (b"topics=" + b"W" * 70_000, "application/x-www-form-urlencoded", 413),
])
def test_bad_preference_forms_save_nothing(
    served: Served, body: bytes, content_type: str, status: int
) -> None:
    r = served.client.post("/preferences", params={"t": _token()}, content=body,
                           headers={"content-type": content_type})
    assert r.status_code == status
    _is_page_for_people(r)
    assert served.state() == ([], {})


def test_archive_lists_sent_editions_and_serves_each(
    served: Served, feed_server: tuple[str, Path], smtp_server: SmtpServer, project: Path
) -> None:
    r = served.client.get("/archive/")
    assert r.status_code == 200 and "No edition has been sent yet" in r.text
    base, root = feed_server
    for feed in (project / "samples" / "feeds").iterdir():
        shutil.copy(feed, root / feed.name)
    set_config(project / "config.toml", {'url = "samples/feeds/': f'url = "{base}/',
                                         "port = 1025": f"port = {smtp_server.port}"})
    config = load_config(project / "config.toml")
    pipeline.send(config, NOW, ENV)

    r = served.client.get("/archive/")
    assert r.status_code == 200 and 'href="daily-2023-11-22"' in r.text
    r = served.client.get("/archive/daily-2023-11-22")
    assert r.status_code == 200
    assert "Wilders" in r.text and "@@digest-" not in r.text
    # The "view in browser" link of a sent message is this page.
    message = smtp_server.arrived[0].message
    html = message.get_body(("html",)).get_content()
    assert f"{served.base}/archive/daily-2023-11-22" in html
    for path in ("/archive/daily-2023-11-21", "/archive/..%2F..%2Fconfig.toml",
                 "/archive/%2e%2e", "/archive/a%00b", "/archive/../config.toml"):
        r = served.client.get(path)
        assert r.status_code == 404, path
        _is_page_for_people(r)
        assert "Not found" in r.text


def test_healthz_and_error_pages_are_for_people(served: Served) -> None:
    r = served.client.get("/healthz")
    assert r.status_code == 200 and r.text.strip() == "ok"
    for method, path, status in [("GET", "/nowhere", 404), ("DELETE", "/unsubscribe", 405),
                                 ("PUT", "/preferences", 405)]:
        r = served.client.request(method, path)
        assert r.status_code == status
        _is_page_for_people(r)


def test_a_broken_state_database_is_a_500_page_without_a_trace(served: Served) -> None:
    database = served.config.database_path
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    database.write_bytes(b"this is not a database" * 100)
    for path in ("/healthz", "/archive/"):
        r = served.client.get(path)
        assert r.status_code == 500
        _is_page_for_people(r)
        assert "sqlite" not in r.text.lower() and str(database) not in r.text
