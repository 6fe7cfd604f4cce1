"""Fetching does not reach where the operator did not point it: a feed's redirect to another
host that is loopback, private, link-local or metadata is refused (and never stored as the
feed's new home); the operator's own URLs and same-host redirects are followed. Host names
are judged through a resolver passed in, so every request still goes to 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scripted import Answer, feeds_config, rss, scripted_server

from digest import pipeline
from digest.config import FetchConfig, load_config
from digest.ingest.fetch import fetch_feeds
from digest.ingest.redirects import RedirectRule
from digest.model import Feed
from digest.store import Store

NOW = datetime(2026, 4, 25, 12, 0, tzinfo=UTC)
NOT_PUBLIC = {
    "loopback.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"],
    "ten.test": ["10.1.2.3"], "172.test": ["172.20.0.1"], "192.test": ["192.168.1.1"],
    "six-loopback.test": ["::1"], "unique-local.test": ["fd00::1"],
    "mapped.test": ["::ffff:127.0.0.1"], "mixed.test": ["93.184.216.34", "10.0.0.1"],
    "cgnat.test": ["100.64.0.1"], "zero.test": ["0.0.0.0"],
}
PUBLIC = {"public.test": ["93.184.216.34"], "public6.test": ["2606:2800:220:1::1"]}


async def resolver(host: str) -> Sequence[str]:
    if host in NOT_PUBLIC:
        return NOT_PUBLIC[host]
    if host in PUBLIC:
        return PUBLIC[host]
    raise OSError(f"{host}: no such host in this test")


TARGETS = [f"http://{h}:1/x" for h in NOT_PUBLIC] + [
    "http://127.0.0.2/x", "http://[::1]:80/x", "http://10.0.0.5/x", "http://169.254.169.254/"]


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirects_off_host_to_addresses_that_are_not_public_are_refused(status: int) -> None:
    with scripted_server() as server:
        feeds = [Feed(url=server.url("/good"), name="Good", section="S")]
        for n, target in enumerate(TARGETS):
            server.answers[f"/bad/{n}"] = Answer(status, (("Location", target),))
            feeds.append(Feed(url=server.url(f"/bad/{n}"), name=target, section="S"))
        server.answers["/good"] = Answer(body=rss("good"))
        results = fetch_feeds(feeds, {}, FetchConfig(timeout_seconds=3), resolve=resolver)
    assert results[0].status == "ok"
    for result in results[1:]:
        assert result.status == "failed", result.feed.name
        assert result.error and "not a public address" in result.error, result.error
        assert not result.permanent_url
    assert not any(h.startswith("/x") for h in server.hits)  # nothing was followed


def test_same_host_redirects_and_the_operators_own_private_urls_are_followed() -> None:
    with scripted_server() as server:
        server.answers["/old"] = Answer(301, (("Location", "/new"),))
        server.answers["/new"] = Answer(body=rss("new"))
        feed = Feed(url=server.url("/old"), name="Moved", section="S")
        [result] = fetch_feeds([feed], {}, FetchConfig(timeout_seconds=3), resolve=resolver)
    assert result.status == "ok" and result.permanent_url == server.url("/new")


def test_allow_private_redirects_lifts_the_rule() -> None:
    with scripted_server() as server:
        port = server.base.rpartition(":")[2]
        server.answers["/away"] = Answer(302, (("Location", f"http://loopback.test:{port}/"),))
        feed = Feed(url=server.url("/away"), name="Away", section="S")
        settings = FetchConfig(timeout_seconds=3, allow_private_redirects=True)
        [result] = fetch_feeds([feed], {}, settings, resolve=resolver)
    # Followed: the name does not resolve for the HTTP client, but no rule stopped it.
    assert result.error is None or "not a public address" not in result.error


def test_public_targets_pass_and_unresolvable_ones_are_named() -> None:
    rule = RedirectRule(resolver, allow_private=False)
    for host in PUBLIC:
        assert asyncio.run(rule.refusal("http://feeds.example/", f"https://{host}/f")) is None
    refused = asyncio.run(rule.refusal("http://feeds.example/", "http://nowhere.test/f"))
    assert refused and "does not resolve" in refused


def test_a_refused_301_is_never_stored_as_the_feeds_new_home(tmp_path: Path) -> None:
    """Through the whole pipeline with the system's resolver: localhost is loopback."""
    with scripted_server() as server:
        port = server.base.rpartition(":")[2]
        server.answers["/moved"] = Answer(301, (("Location", f"http://localhost:{port}/in"),))
        server.answers["/in"] = Answer(body=rss("inside"))
        config = load_config(feeds_config(tmp_path, {"Moved": server.url("/moved")}))
        with Store.open(config.database_path) as store:
            for _ in range(2):
                summary = pipeline.fetch(config, store, NOW)
                assert summary.failed == 1
            state = store.feed_states()[server.url("/moved")]
    assert state.moved_to == ""
    assert "/in" not in server.hits
    assert dataclasses.asdict(summary.feeds[0])["error"].startswith(
        f"redirected to http://localhost:{port}/in, which is ")
