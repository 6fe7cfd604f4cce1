"""The state database is versioned (PRAGMA user_version) and migrated when opened.

A database as the first digest made it (the step-1 SQL as shipped, kept in
tests/data/schema-1.sql) with rows in every table is opened with today's `Store`: the rows
must all be there, readable through the store, and the version current.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO

from digest.errors import StoreError
from digest.model import Delivery, Feed, FetchResult
from digest.store import SCHEMA_VERSION, Store
from digest.store.schema import MIGRATIONS, backup_path, migrate

SCHEMA_1 = (REPO / "tests" / "data" / "schema-1.sql").read_text()
FEED = "https://feeds.example.org/world.xml"
T = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _version_1_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO feeds VALUES (?, ?, ?, ?, ?, ?, ?)",
               (FEED, '"etag-1"', "Fri, 20 Nov 2026 11:00:00 GMT", T.isoformat(), "failed",
                "HTTP 503 from feeds.example.org; will retry", 2))
    for n, sent in ((1, True), (2, False)):
        db.execute(
            "INSERT INTO stories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (FEED, f"story-{n}", f"https://news.example.org/{n}", f"Story {n}",
             f"<p>Story {n}</p>", f"Story {n}", (T - timedelta(hours=n)).isoformat(),
             T.isoformat(), "Desk", '["world"]', None, "World Wire", "World", 1.0, 0))
        if sent:
            db.execute("INSERT INTO edition_stories VALUES (?, ?, ?)",
                       ("daily-2026-11-20", FEED, f"story-{n}"))
    db.execute("INSERT INTO editions VALUES (?, ?, ?, ?, ?, ?)",
               ("daily-2026-11-20", T.isoformat(), "The Daily, November 20", "<html>x</html>",
                "x", '{"email": "@@EMAIL@@"}'))
    for email, status, reply in (("ada@example.com", "sent", "250 ok"),
                                 ("bob@example.com", "deferred", "451 try later"),
                                 ("eve@example.com", "failed", "550 no such user"),
                                 ("ian@example.com", "unknown", "connection lost")):
        db.execute("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                   ("daily-2026-11-20", email, status, reply, f"<{email}.msg>", 1, T.isoformat()))
    db.execute("INSERT INTO suppressions VALUES (?, ?, ?)",
               ("eve@example.com", "bounced: 550 no such user", T.isoformat()))
    db.commit()
    db.close()


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_step_1_is_never_edited() -> None:
    assert MIGRATIONS[0] == SCHEMA_1, "append a migration step instead of editing step 1"


def test_a_version_1_database_opens_with_every_row_and_the_current_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "digest.sqlite3"
    path.parent.mkdir()
    _version_1_database(path)

    with Store.open(path) as store:
        state = store.feed_states()[FEED]
        assert (state.last_status, state.failures, state.last_fetch) == ("failed", 2, T)
        assert "HTTP 503" in state.last_error
        assert store.validators()[FEED].etag == '"etag-1"'
        unsent = store.unsent_stories(T - timedelta(days=1), T)
        assert [(s.id, s.title, s.categories) for s in unsent] == [
            ("story-2", "Story 2", ("world",))]
        rendered = store.edition("daily-2026-11-20")
        assert rendered is not None and rendered.subject == "The Daily, November 20"
        assert dict(rendered.placeholders) == {"email": "@@EMAIL@@"}
        assert store.delivery_status("daily-2026-11-20") == {
            "ada@example.com": "sent", "bob@example.com": "deferred",
            "eve@example.com": "failed", "ian@example.com": "unknown"}
        (summary,) = store.editions()
        assert {k: summary.counts[k] for k in ("sent", "deferred", "failed", "unknown")} == {
            "sent": 1, "deferred": 1, "failed": 1, "unknown": 1}
        assert store.suppressed() == {"eve@example.com"}
        # ...and it takes new writes as any current database does
        store.record_fetch(FetchResult(Feed(FEED, "World Wire", "World"), "not_modified"), T)
        store.record_delivery(Delivery("daily-2026-11-20", "bob@example.com", "sent",
                                       "250 ok", "<bob.msg>", 1), T)
    assert _version(path) == SCHEMA_VERSION
    with Store.open(path) as store:
        assert store.feed_states()[FEED].last_status == "not_modified"
        assert store.delivery_status("daily-2026-11-20")["bob@example.com"] == "sent"
    if SCHEMA_VERSION > 1:  # an upgrade kept the old file beside the new one
        assert _version(backup_path(path, 1)) == 1


def test_a_database_from_a_newer_digest_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    _version_1_database(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer digest"), Store.open(path):
        pass
    assert _version(path) == SCHEMA_VERSION + 1


def test_an_upgrade_keeps_a_copy_and_two_processes_migrating_at_once_do_each_step_once(
    tmp_path: Path,
) -> None:
    # A made-up step 2 that fails if run twice (a column added twice is an error).
    steps = [MIGRATIONS[0], "ALTER TABLE feeds ADD COLUMN note TEXT NOT NULL DEFAULT ''"]
    path = tmp_path / "digest.sqlite3"
    _version_1_database(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process, mid-migration
    errors: list[BaseException] = []

    def second() -> None:
        db = sqlite3.connect(path, timeout=20, isolation_level=None)
        try:
            migrate(db, path, steps)
        except BaseException as e:
            errors.append(e)
        finally:
            db.close()

    worker = threading.Thread(target=second)
    worker.start()
    time.sleep(0.5)  # the second has read version 1 and waits for the write lock
    holder.execute(steps[1])
    holder.execute("PRAGMA user_version = 2")
    holder.execute("COMMIT")
    worker.join(20)
    holder.close()

    assert errors == []
    assert _version(path) == 2
    assert _version(backup_path(path, 1)) == 1
    copy = sqlite3.connect(backup_path(path, 1))
    assert copy.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 4
    copy.close()
