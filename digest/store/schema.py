"""The state database's schema, as an ordered list of migrations, the same on both backends.

On SQLite `PRAGMA user_version` records how many have run; on PostgreSQL the one row of
`digest_schema` does. Opening a database runs the rest, each in one transaction (on SQLite
after keeping a copy of the old file). Append new steps at the end; never edit a step that
has shipped. A step is portable SQL: `backend.translate_ddl` turns SQLite's REAL, INTEGER
PRIMARY KEY and BLOB into PostgreSQL's, and nothing else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from digest.errors import StoreError
from digest.store.backend import Database, SqliteDatabase, translate_ddl

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
    # 2: what subscribers chose on the preferences page, which always wins over the
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
    # 3: per-feed fetch state: where the feed moved to (301/308), why it is
    # disabled (410), when to try it next (backoff, Retry-After)
    """
ALTER TABLE feeds ADD COLUMN moved_to TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN disabled TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN next_try TEXT
    """,
    # 4: the ledger's retry state: when a deferred delivery is next due, when the
    # first try was; an index for the re-run's "what is left of this edition" queries
    """
ALTER TABLE deliveries ADD COLUMN next_try TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN first_try TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (edition_id, status);
    """,
    # 5: what comes back: each inbound bounce or complaint message once (by its bytes' hash),
    # each per-recipient finding once (by message and delivery), and the evidence of every
    # suppression a bounce or complaint made (what kind, which edition, the status line);
    # the ledger by address, which a bounce without a token and each soft bounce look up
    """
CREATE TABLE IF NOT EXISTS inbound_messages (
    digest TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    processed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bounce_events (
    event_key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    edition_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    diagnostic TEXT NOT NULL,
    received TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bounce_events_email ON bounce_events (email, received);
CREATE INDEX IF NOT EXISTS bounce_events_edition ON bounce_events (edition_id, kind);
CREATE INDEX IF NOT EXISTS deliveries_email ON deliveries (email);
CREATE TABLE IF NOT EXISTS suppression_evidence (
    email TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    edition_id TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created TEXT NOT NULL
);
    """,
    # 6: readers who signed up on the web (or were imported from a CSV list): one row an
    # address with its status; every signup request, kept for the abuse limits and as the
    # consent record; the hashes of addresses whose owners had everything deleted
    """
CREATE TABLE IF NOT EXISTS subscribers (
    email TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    topics TEXT NOT NULL DEFAULT '[]',
    frequency TEXT NOT NULL DEFAULT 'daily',
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    signup_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS subscribers_status ON subscribers (status);
CREATE TABLE IF NOT EXISTS signups (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    topics TEXT NOT NULL,
    frequency TEXT NOT NULL,
    created TEXT NOT NULL,
    client TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    page TEXT NOT NULL,
    consent TEXT NOT NULL,
    outcome TEXT NOT NULL,
    mailed TEXT NOT NULL DEFAULT '',
    confirmed TEXT NOT NULL DEFAULT '',
    network TEXT NOT NULL DEFAULT '',
    mailbox TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS signups_email ON signups (email, created);
CREATE INDEX IF NOT EXISTS signups_mailbox ON signups (mailbox, created);
CREATE INDEX IF NOT EXISTS signups_network ON signups (network, created);
CREATE INDEX IF NOT EXISTS signups_created ON signups (created);
CREATE TABLE IF NOT EXISTS forgotten (
    hash TEXT PRIMARY KEY,
    created TEXT NOT NULL
);
    """,
    # 7: an edition's contents (its stories as ranked), so a variant first needed by a later
    # run is built from the edition and not from that day's stories; a variant whose topics
    # have no story in the edition is kept as empty, so every run skips its readers
    """
ALTER TABLE editions ADD COLUMN content TEXT NOT NULL DEFAULT '';
ALTER TABLE edition_variants ADD COLUMN empty INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: a story's place in its feed (ranking reads it as the publisher's prominence); the
    # editor's pins and drops for an edition (`digest rank --pin/--drop`), pins in order
    """
ALTER TABLE stories ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS editor_picks (
    edition_id TEXT NOT NULL,
    story TEXT NOT NULL,
    action TEXT NOT NULL,
    created TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (edition_id, story)
);
    """,
    # 9: many workers sending one edition: what each ledger row needs to be sent by any
    # process (the subscriber's name, list and variant), who holds it and until when;
    # the editions being sent, the live workers, and the rate limit all of them share
    """
ALTER TABLE deliveries ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN list_name TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN variant TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN round_tries INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS deliveries_claimed ON deliveries (claimed_by);
CREATE TABLE IF NOT EXISTS sendings (
    edition_id TEXT PRIMARY KEY,
    opened TEXT NOT NULL,
    closed TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    heartbeat TEXT NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS send_budget (
    name TEXT PRIMARY KEY,
    next_slot REAL NOT NULL
);
    """,
    # 10: the deliveries still to send, in the order workers claim them: without it each
    # claim read past every row already sent (at 800,000 sent of a million, a second a claim)
    """
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (edition_id, email)
    WHERE status IN ('pending', 'unknown', 'deferred');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


# Any number, the same in every digest: the advisory lock that queues two processes
# migrating one PostgreSQL database at the same time.
_MIGRATION_LOCK = 7_412_001


def migrate(db: Database | sqlite3.Connection, path: Path | None = None,
            migrations: Sequence[str] = MIGRATIONS) -> None:
    """Bring the state database up to the last of `migrations` (normally `SCHEMA_VERSION`).

    Args:
        db: an open connection: the store's, or a bare sqlite3 one with its `path`.
    Raises:
        StoreError: the database was made by a newer digest, or it cannot be backed up.
    """
    if isinstance(db, sqlite3.Connection):
        _migrate_sqlite(db, path or Path(db.execute("PRAGMA database_list").fetchone()[2]),
                        migrations)
    elif isinstance(db, SqliteDatabase):
        _migrate_sqlite(db.raw, db.path, migrations)
    else:
        _migrate_postgres(db, migrations)


def _migrate_postgres(db: Database, migrations: Sequence[str]) -> None:
    """The same steps on PostgreSQL, each in a transaction under an advisory lock."""
    target = len(migrations)
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS digest_schema (version INTEGER NOT NULL)")
        if db.execute("SELECT version FROM digest_schema").fetchone() is None:
            db.execute("INSERT INTO digest_schema VALUES (0)")
    for number in range(target + 1):
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            version = int(db.execute("SELECT version FROM digest_schema").fetchone()[0])
            if version > target:
                raise StoreError(
                    f"{db.where}: made by a newer digest (schema {version}, this one knows "
                    f"{target}); upgrade digest on this machine")
            if version > number or number == target:
                continue  # done by another process while we waited, or nothing left
            for statement in migrations[number].split(";"):
                if statement.strip():
                    db.execute(translate_ddl(statement))
            db.execute("UPDATE digest_schema SET version = ?", (number + 1,))


def _migrate_sqlite(db: sqlite3.Connection, path: Path,
                    migrations: Sequence[str] = MIGRATIONS) -> None:
    """Bring the database at `path` up to the last of `migrations` (normally `SCHEMA_VERSION`).

    Before changing a database made by an older digest, a copy of it is kept beside it
    (`digest.sqlite3.schema-1.bak`), so an upgrade can be undone by putting the copy back and
    reinstalling the older digest. Each step runs in one transaction; a process that finds
    another one migrating waits for it, and then skips the steps already done.

    Raises:
        StoreError: the database was made by a newer digest, or it cannot be backed up.
    """
    target = len(migrations)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > target:
        raise StoreError(
            f"{path}: made by a newer digest (schema {version}, this one knows "
            f"{target}); upgrade digest"
        )
    if 0 < version < target:
        _back_up(db, path, version)
    for number in range(version, target):
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] > number:
                db.execute("COMMIT")  # another process ran this step while we waited
                continue
            for statement in migrations[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a schema-`version` database is kept before it is migrated."""
    return path.with_name(f"{path.name}.schema-{version}.bak")


def _back_up(db: sqlite3.Connection, path: Path, version: int) -> None:
    target = backup_path(path, version)
    if target.exists():
        return  # kept from an earlier attempt, or made by a process migrating at the same time
    try:
        db.execute("VACUUM INTO ?", (str(target),))
    except sqlite3.OperationalError as e:
        if target.exists():
            return
        raise StoreError(f"{path}: cannot keep a copy at {target} before upgrading the "
                         f"schema from version {version}: {e}; free some space and run "
                         "digest again") from e
