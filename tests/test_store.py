"""The store, once on each backend: a SQLite file and a real PostgreSQL server.

The same migrations make the same tables on both, and every store method gives back what was
put in, whichever backend holds it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import PostgresServer

from digest.errors import LockHeld, StoreError
from digest.model import DatabaseUrl, Delivery, Feed, FetchResult, Image, Rendered, Story
from digest.store import SCHEMA_VERSION, Store
from digest.store.backend import connect, translate
from digest.store.lock import hold_lock, lock_holder
from digest.store.schema import MIGRATIONS

T = datetime(2026, 11, 20, 12, tzinfo=UTC)
FEED = Feed(url="https://feeds.example.org/world.xml", name="World Wire", section="World",
            weight=1.3)


def story(n: int, **changes: object) -> Story:
    values: dict[str, object] = dict(
        feed_url=FEED.url, source="World Wire", section="World", id=f"s{n}",
        url=f"https://news.example.org/{n}", title=f"Story {n} — 100% «sure»",
        summary_html=f"<p>Story {n}?</p>", summary_text=f"Story {n}?",
        published=T - timedelta(hours=n), author="Desk", categories=("world", "eu"),
        image=Image("https://img.example.org/1.jpg", 600, 400, "alt"), weight=1.3,
        featured=n == 1)
    values.update(changes)
    return Story(**values)  # type: ignore[arg-type]


def test_feeds_and_stories_round_trip(state_location: Path | DatabaseUrl) -> None:
    with Store.open(state_location) as store:
        ok = FetchResult(feed=FEED, status="ok", headers={"ETag": '"e1"'})
        store.record_fetch(ok, T)
        failed = FetchResult(feed=FEED, status="failed", error="HTTP 503")
        store.record_fetch(failed, T + timedelta(minutes=5), T + timedelta(hours=1))
        store.record_fetch(failed, T + timedelta(minutes=10))
        state = store.feed_states()[FEED.url]
        assert (state.failures, state.last_error, state.last_fetch) == (
            2, "HTTP 503", T + timedelta(minutes=10))
        assert store.validators()[FEED.url].etag == '"e1"'  # a failure keeps the validators
        assert store.failures(FEED.url) == 2

        assert store.upsert_stories([story(1), story(2), story(2)], T) == 2
        assert store.upsert_stories([story(1, title="Edited")], T) == 0
        got = store.unsent_stories(T - timedelta(days=1), T)
        assert [s.id for s in got] == ["s1", "s2"]
        assert got[0] == story(1, title="Edited")  # floats, tuples, images, flags intact
        assert store.newest_published() == T - timedelta(hours=1)


def test_editions_ledger_and_suppressions_round_trip(
    state_location: Path | DatabaseUrl,
) -> None:
    rendered = Rendered("daily-2026-11-20", "Subject?", "<p>100%</p>", "text",
                        {"email": "@@E@@"})
    with Store.open(state_location) as store:
        store.upsert_stories([story(1), story(2)], T)
        store.save_edition(rendered, T, [story(1)])
        assert store.edition(rendered.edition_id) == rendered
        assert store.edition_story_keys(rendered.edition_id) == [(FEED.url, "s1")]
        assert [s.id for s in store.unsent_stories(T - timedelta(days=1), T)] == ["s2"]
        store.save_variant("World", rendered)
        store.save_variant("World", Rendered("x", "other", "", "", {}))  # the first one wins
        assert store.variant(rendered.edition_id, "World") == rendered
        assert [s.id for s in store.weekly_stories(T - timedelta(days=1), T)] == ["s1", "s2"]

        emails = ["a@example.com", "b@example.com", "c@example.com"]
        store.add_pending(rendered.edition_id, emails, T)
        store.add_pending(rendered.edition_id, emails, T)  # nothing twice
        store.record_deliveries([
            (Delivery(rendered.edition_id, "a@example.com", "sent", "250 ok", "<a>"), None),
            (Delivery(rendered.edition_id, "b@example.com", "deferred", "451 later", "<b>"),
             T + timedelta(minutes=5)),
        ], T)
        store.record_delivery(Delivery(rendered.edition_id, "b@example.com", "deferred",
                                       "451 again", "<b>"), T, T + timedelta(minutes=9))
        assert store.delivery_counts(rendered.edition_id) == {
            "sent": 1, "deferred": 1, "pending": 1}
        assert store.due_addresses(rendered.edition_id, T) == {"c@example.com"}
        assert store.due_addresses(rendered.edition_id, T + timedelta(hours=1)) == {
            "b@example.com", "c@example.com"}
        assert store.next_try(rendered.edition_id) == T + timedelta(minutes=9)
        rows = {d.email: d for d in store.deliveries(rendered.edition_id)}
        assert rows["b@example.com"].attempts == 2 and rows["b@example.com"].reply == "451 again"
        assert store.skip_deliveries(rendered.edition_id, ["c@example.com", "a@example.com"],
                                     T) == 1
        summary = store.editions()[0]
        assert (summary.id, summary.counts["skipped"]) == (rendered.edition_id, 1)

        assert store.suppress("x@example.com", "bounced", T)
        assert not store.suppress("x@example.com", "again", T)
        assert store.suppression("x@example.com").reason == "bounced"  # type: ignore[union-attr]
        assert store.suppressed() == {"x@example.com"}
        assert store.restore("x@example.com") and not store.suppressed()
        store.set_preference("p@example.com", ("World",), "weekly", T)
        store.set_preference("p@example.com", ("Tech",), "daily", T)
        assert store.preference("p@example.com") == (("Tech",), "daily")


def test_a_failed_transaction_leaves_nothing(state_location: Path | DatabaseUrl) -> None:
    with Store.open(state_location) as store:
        with pytest.raises(RuntimeError), store._transaction():
            store.add_pending("e1", [], T)
            store.suppress("y@example.com", "why", T)
            raise RuntimeError("stop")
        assert store.suppressed() == set()


def _columns_sqlite(path: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


def test_the_same_migrations_make_the_same_tables_on_both(
    tmp_path: Path, postgres_url: DatabaseUrl,
) -> None:
    with Store.open(tmp_path / "s.sqlite3"), Store.open(postgres_url):
        pass
    with Store.open(postgres_url):  # opening again runs nothing
        pass
    db = connect(postgres_url)
    try:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name != 'digest_schema' "
            "ORDER BY table_name, ordinal_position").fetchall()
        assert db.execute("SELECT version FROM digest_schema").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()
    on_postgres: dict[str, list[str]] = {}
    for table, column in rows:
        on_postgres.setdefault(table, []).append(column)
    assert on_postgres == _columns_sqlite(tmp_path / "s.sqlite3")


def test_a_database_from_a_newer_digest_is_refused(
    postgres_server: PostgresServer, postgres_url: DatabaseUrl,
) -> None:
    with Store.open(postgres_url):
        pass
    postgres_server.sql(postgres_url, f"UPDATE digest_schema SET version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer digest"), Store.open(postgres_url):
        pass


def test_an_unreachable_server_is_one_clear_error(postgres_server: PostgresServer) -> None:
    gone = DatabaseUrl(postgres_server.url("nosuchdb"), "DIGEST_TEST_DB_PASSWORD")
    with pytest.raises(StoreError, match=r"cannot connect .*\$DIGEST_TEST_DB_PASSWORD"), \
            Store.open(gone):
        pass


def test_the_run_locks_hold_across_connections_on_postgresql(
    postgres_url: DatabaseUrl,
) -> None:
    assert lock_holder(postgres_url, "scheduler") is None
    with hold_lock(postgres_url, "digest run", kind="scheduler"):
        holder = lock_holder(postgres_url, "scheduler")
        assert holder is not None and "digest run" in holder.doing
        with pytest.raises(LockHeld, match="another `digest run`"), \
                hold_lock(postgres_url, kind="scheduler"):
            pass
        with hold_lock(postgres_url, "digest fetch"):  # the other kind is free
            pass
    assert lock_holder(postgres_url, "scheduler") is None


def test_sqlite_spelling_is_translated_for_postgresql() -> None:
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE 'x-%' AND c = '?'") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE 'x-%%' AND c = '?'")
    assert translate("INSERT OR IGNORE INTO t VALUES (?, ?)") == (
        "INSERT INTO t VALUES (%s, %s) ON CONFLICT DO NOTHING")


def test_signups_subscribers_and_bounces_round_trip(state_location: Path | DatabaseUrl) -> None:
    from digest.model import Subscriber
    from digest.store.bounces import BounceEvent, Evidence
    from digest.store.signups import Signup

    email = "ada@example.com"
    with Store.open(state_location) as store:
        store.import_subscribers([Subscriber(email, "Ada")], T)
        signup = Signup("s1", email, "", ("World",), "daily", T, "127.0.0.1", "ua", "hosted",
                        "yes", "mail")
        assert store.admit_signup(signup, 20, timedelta(minutes=10)) == "mail"
        store.signup_mailed("s1", True, T)
        confirmed = store.confirm_signup("s1", T + timedelta(minutes=1), False)
        assert confirmed is not None
        row = store.subscriber_row(email)
        assert row is not None and (row.status, row.name, row.topics) == (
            "active", "Ada", ("World",))  # an empty name keeps the one on file
        assert store.signup_counts(T - timedelta(days=1), T + timedelta(hours=1),
                                   timedelta(hours=48)).confirmed == 1

        rendered = Rendered("daily-1", "s", "h", "t", {})
        store.save_edition(rendered, T, [])
        store.add_pending("daily-1", [email], T)
        event = BounceEvent("m1:ada", email, "daily-1", "hard", "5.1.1", "gone", T)
        proof = Evidence(email, "hard", "daily-1", "5.1.1", "gone", T)
        assert store.record_inbound("m1", "bounce", "", [event], [proof], T) == [email]
        assert store.record_inbound("m1", "bounce", "", [event], [proof], T) == []
        assert store.inbound_seen("m1") == "bounce"
        assert store.bounce_counts("daily-1").get("hard") == 1
        assert store.data_of(email)["subscription"]["email"] == email
        store.forget(email, T)
        assert store.is_forgotten(email) and store.subscriber_row(email) is None


def test_editor_picks_keep_the_order_pinned_on_both(state_location: Path | DatabaseUrl) -> None:
    with Store.open(state_location) as store:
        for story_id, action in (("b", "pin"), ("x", "drop"), ("a", "pin"), ("b", "pin")):
            store.pick("daily-2026-11-20", story_id, action, T)  # same second: order by seq
        assert store.picks("daily-2026-11-20") == (["a", "b"], ["x"])
        assert store.unpick("daily-2026-11-20") == 3
        assert store.picks("daily-2026-11-20") == ([], [])
