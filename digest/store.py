"""Store: the state database (SQLite): feeds' validators, stories, editions and the ledger.

In: stories, fetch results, editions, deliveries. Out: the same values read back. Every write
is committed before the method returns, so a process killed at any moment loses at most the
call in progress. `sqlite3.Row` never leaves this module. The schema is versioned with
`PRAGMA user_version` and migrated on open.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.errors import LockHeld, StoreError
from digest.model import Delivery, FetchResult, Image, Rendered, Story, Validators

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    last_fetch TEXT,
    last_status TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stories (
    feed_url TEXT NOT NULL,
    story_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    summary_html TEXT NOT NULL,
    summary_text TEXT NOT NULL,
    published TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    author TEXT NOT NULL,
    categories TEXT NOT NULL,
    image TEXT,
    source TEXT NOT NULL,
    section TEXT NOT NULL,
    weight REAL NOT NULL,
    featured INTEGER NOT NULL,
    PRIMARY KEY (feed_url, story_id)
);
CREATE INDEX IF NOT EXISTS stories_published ON stories (published);
CREATE TABLE IF NOT EXISTS editions (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    placeholders TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edition_stories (
    edition_id TEXT NOT NULL REFERENCES editions (id),
    feed_url TEXT NOT NULL,
    story_id TEXT NOT NULL,
    PRIMARY KEY (edition_id, feed_url, story_id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    edition_id TEXT NOT NULL REFERENCES editions (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL,
    PRIMARY KEY (edition_id, email)
);
CREATE TABLE IF NOT EXISTS suppressions (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class FeedState:
    """What the database remembers of one feed."""

    url: str
    last_fetch: datetime | None
    last_status: str
    last_error: str
    failures: int


@dataclass(frozen=True)
class EditionSummary:
    """An edition with its delivery counts, for `digest status`."""

    id: str
    created: datetime
    subject: str
    counts: dict[str, int]


class Store:
    """The state database. Open it with `Store.open(path)` as a context manager."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[Store]:
        """Open (creating and migrating as needed) the database at `path`.

        Raises:
            StoreError: the file cannot be created, opened or migrated.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{path}: cannot open the state database: {e}") from e
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _migrate(db, path)
            yield cls(db)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: the state database failed: {e}") from e
        finally:
            db.close()

    # feeds -------------------------------------------------------------------------------

    def validators(self) -> dict[str, Validators]:
        """ETag and Last-Modified per feed URL, as last received."""
        rows = self._db.execute("SELECT url, etag, last_modified FROM feeds")
        return {r["url"]: Validators(r["etag"], r["last_modified"]) for r in rows}

    def record_fetch(self, result: FetchResult, now: datetime) -> None:
        """Remember how fetching a feed went, and its validators when it succeeded."""
        headers = {k.lower(): v for k, v in result.headers.items()}
        ok = result.status in ("ok", "not_modified")
        self._db.execute(
            """INSERT INTO feeds (url, etag, last_modified, last_fetch, last_status, last_error,
                                  failures)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                 etag = CASE WHEN ? THEN excluded.etag ELSE etag END,
                 last_modified = CASE WHEN ? THEN excluded.last_modified ELSE last_modified END,
                 last_fetch = excluded.last_fetch, last_status = excluded.last_status,
                 last_error = excluded.last_error,
                 failures = CASE WHEN ? THEN 0 ELSE failures + 1 END""",
            (
                result.feed.url, headers.get("etag", ""), headers.get("last-modified", ""),
                _iso(now), result.status, result.error or "", 0 if ok else 1,
                result.status == "ok", result.status == "ok", ok,
            ),
        )

    def feed_states(self) -> dict[str, FeedState]:
        rows = self._db.execute("SELECT * FROM feeds")
        return {
            r["url"]: FeedState(
                url=r["url"], last_fetch=_dt(r["last_fetch"]) if r["last_fetch"] else None,
                last_status=r["last_status"] or "", last_error=r["last_error"] or "",
                failures=r["failures"],
            )
            for r in rows
        }

    # stories -----------------------------------------------------------------------------

    def upsert_stories(self, stories: Iterable[Story], now: datetime) -> int:
        """Insert new stories and update edited ones; returns how many were new.

        An edited story keeps its first-seen time, so it does not become new again.
        """
        new = 0
        with self._transaction():
            for s in stories:
                cursor = self._db.execute(
                    """INSERT INTO stories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT (feed_url, story_id) DO NOTHING""",
                    (s.feed_url, s.id, *_story_values(s, now)),
                )
                if cursor.rowcount:
                    new += 1
                    continue
                self._db.execute(
                    """UPDATE stories SET url=?, title=?, summary_html=?, summary_text=?,
                         published=?, author=?, categories=?, image=?, source=?, section=?,
                         weight=?, featured=?
                       WHERE feed_url=? AND story_id=?""",
                    (
                        s.url, s.title, s.summary_html, s.summary_text, _iso(s.published),
                        s.author, json.dumps(s.categories), _image_json(s.image), s.source,
                        s.section, s.weight, int(s.featured), s.feed_url, s.id,
                    ),
                )
        return new

    def unsent_stories(self, since: datetime, until: datetime) -> list[Story]:
        """Stories published in [since, until] that no earlier edition carried."""
        rows = self._db.execute(
            """SELECT * FROM stories s
               WHERE published >= ? AND published <= ?
                 AND NOT EXISTS (SELECT 1 FROM edition_stories e
                                 WHERE e.feed_url = s.feed_url AND e.story_id = s.story_id)
               ORDER BY published DESC, feed_url, story_id""",
            (_iso(since), _iso(until)),
        )
        return [_story(r) for r in rows]

    def newest_published(self) -> datetime | None:
        """The publication time of the newest stored story."""
        row = self._db.execute("SELECT max(published) AS newest FROM stories").fetchone()
        return _dt(row["newest"]) if row["newest"] else None

    # editions ----------------------------------------------------------------------------

    def save_edition(self, rendered: Rendered, created: datetime, stories: Sequence[Story]) -> None:
        """Keep an edition as rendered, and mark its stories as sent in it."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO editions VALUES (?, ?, ?, ?, ?, ?)",
                (rendered.edition_id, _iso(created), rendered.subject, rendered.html,
                 rendered.text, json.dumps(dict(rendered.placeholders))),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO edition_stories VALUES (?, ?, ?)",
                [(rendered.edition_id, s.feed_url, s.id) for s in stories],
            )

    def edition(self, edition_id: str) -> Rendered | None:
        """A stored edition as it was rendered, or None."""
        row = self._db.execute("SELECT * FROM editions WHERE id = ?", (edition_id,)).fetchone()
        if row is None:
            return None
        return Rendered(
            edition_id=row["id"], subject=row["subject"], html=row["html"], text=row["text"],
            placeholders=json.loads(row["placeholders"]),
        )

    def edition_story_keys(self, edition_id: str) -> list[tuple[str, str]]:
        """The (feed URL, story id) of every story an edition carried."""
        rows = self._db.execute(
            "SELECT feed_url, story_id FROM edition_stories WHERE edition_id = ?", (edition_id,)
        )
        return [(r["feed_url"], r["story_id"]) for r in rows]

    def editions(self, limit: int = 10) -> list[EditionSummary]:
        """The latest editions, newest first, with their delivery counts."""
        rows = self._db.execute(
            "SELECT id, created, subject FROM editions ORDER BY created DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        summaries = []
        for r in rows:
            counts = dict.fromkeys(("pending", "sent", "deferred", "failed", "unknown"), 0)
            for c in self._db.execute(
                "SELECT status, count(*) AS n FROM deliveries WHERE edition_id = ? "
                "GROUP BY status", (r["id"],)
            ):
                counts[c["status"]] = c["n"]
            summaries.append(EditionSummary(r["id"], _dt(r["created"]), r["subject"], counts))
        return summaries

    # the ledger --------------------------------------------------------------------------

    def add_pending(self, edition_id: str, emails: Iterable[str], now: datetime) -> None:
        """Add a pending ledger row for each address that has none for this edition."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (edition_id, email, status, updated) "
                "VALUES (?, ?, 'pending', ?)",
                ((edition_id, e, _iso(now)) for e in emails),
            )

    def delivery_status(self, edition_id: str) -> dict[str, str]:
        """Each address's ledger status for an edition."""
        rows = self._db.execute(
            "SELECT email, status FROM deliveries WHERE edition_id = ?", (edition_id,)
        )
        return {r["email"]: r["status"] for r in rows}

    def record_delivery(self, delivery: Delivery, now: datetime) -> None:
        """Write one delivery's outcome; committed when this returns."""
        self._db.execute(
            """INSERT INTO deliveries (edition_id, email, status, reply, message_id, attempts,
                                       updated)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (edition_id, email) DO UPDATE SET status = excluded.status,
                 reply = excluded.reply, message_id = excluded.message_id,
                 attempts = attempts + 1, updated = excluded.updated""",
            (delivery.edition_id, delivery.email, delivery.status, delivery.reply,
             delivery.message_id, max(delivery.attempts, 1), _iso(now)),
        )

    def deliveries(self, edition_id: str) -> list[Delivery]:
        rows = self._db.execute(
            "SELECT * FROM deliveries WHERE edition_id = ? ORDER BY email", (edition_id,)
        )
        return [
            Delivery(r["edition_id"], r["email"], r["status"], r["reply"], r["message_id"],
                     r["attempts"])
            for r in rows
        ]

    # suppressions ------------------------------------------------------------------------

    def suppress(self, email: str, reason: str, now: datetime) -> None:
        """Never send to `email` again (until restored); the first reason is kept."""
        self._db.execute(
            "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?)", (email, reason, _iso(now))
        )

    def suppressed(self) -> set[str]:
        return {r["email"] for r in self._db.execute("SELECT email FROM suppressions")}

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


@contextmanager
def hold_lock(database: Path) -> Iterator[None]:
    """Hold the run lock beside the state database for as long as the block runs.

    An OS lock (flock) that the kernel releases when the process dies, so a crash never
    leaves a stale lock behind.

    Raises:
        LockHeld: another process holds it; the message names that process.
    """
    lock_path = database.with_name(database.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeld(
                f"another digest run (PID {holder}) holds {lock_path}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer digest (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade digest"
        )
    if version < SCHEMA_VERSION:
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _story_values(s: Story, now: datetime) -> tuple[Any, ...]:
    return (
        s.url, s.title, s.summary_html, s.summary_text, _iso(s.published), _iso(now), s.author,
        json.dumps(s.categories), _image_json(s.image), s.source, s.section, s.weight,
        int(s.featured),
    )


def _story(r: sqlite3.Row) -> Story:
    image = json.loads(r["image"]) if r["image"] else None
    return Story(
        feed_url=r["feed_url"], source=r["source"], section=r["section"], id=r["story_id"],
        url=r["url"], title=r["title"], summary_html=r["summary_html"],
        summary_text=r["summary_text"], published=_dt(r["published"]), author=r["author"],
        categories=tuple(json.loads(r["categories"])),
        image=Image(**image) if image else None, weight=r["weight"],
        featured=bool(r["featured"]),
    )


def _image_json(image: Image | None) -> str | None:
    return json.dumps(asdict(image)) if image else None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
