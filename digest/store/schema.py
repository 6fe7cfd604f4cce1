"""The state database's schema, as an ordered list of migrations.

`PRAGMA user_version` records how many have run; opening a database runs the rest, each in
one transaction. Append new steps at the end; never edit a step that has shipped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digest.errors import StoreError

MIGRATIONS: list[str] = [
    # 1: stories, editions, the ledger, suppressions
    """
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
    """,
    # 2 (issue 8): what subscribers chose on the preferences page, which always wins over the
    # list files; an edition's per-variant renders, so a re-run sends each group the same text
    """
CREATE TABLE IF NOT EXISTS preferences (
    email TEXT PRIMARY KEY,
    topics TEXT NOT NULL,
    frequency TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edition_variants (
    edition_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text TEXT NOT NULL,
    placeholders TEXT NOT NULL,
    PRIMARY KEY (edition_id, variant)
);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database at `path` up to `SCHEMA_VERSION`.

    Raises:
        StoreError: the database was made by a newer digest.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer digest (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade digest"
        )
    for number in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
