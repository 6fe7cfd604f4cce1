"""Store: the state database (SQLite): feeds' validators, stories, editions and the ledger.

In: stories, fetch results, editions, deliveries. Out: the same values read back. Every write
is committed before the method returns, so a process killed at any moment loses at most the
call in progress. `sqlite3.Row` never leaves this package. One module per noun (feeds,
stories, editions, ledger, suppressions, preferences, variants, subscribers, signups);
`schema.py` holds the migrations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import StoreError
from digest.store.bounces import BounceStore
from digest.store.editions import EditionStore, EditionSummary
from digest.store.feeds import FeedState, FeedStore
from digest.store.ledger import LedgerStore
from digest.store.picks import PickStore
from digest.store.preferences import PreferenceStore
from digest.store.schema import SCHEMA_VERSION, migrate
from digest.store.signups import SignupStore
from digest.store.stories import StoryStore
from digest.store.subscribers import SubscriberStore
from digest.store.suppressions import SuppressionStore
from digest.store.variants import VariantStore

__all__ = ["SCHEMA_VERSION", "EditionSummary", "FeedState", "Store"]


class Store(FeedStore, StoryStore, EditionStore, LedgerStore, SuppressionStore,
            PreferenceStore, VariantStore, BounceStore, SubscriberStore, SignupStore,
            PickStore):
    """The state database. Open it with `Store.open(path)` as a context manager."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    @contextmanager
    def open(cls, path: Path, read_only: bool = False) -> Iterator[Store]:
        """Open (creating and migrating as needed) the database at `path`.

        With `read_only`, SQLite itself refuses every write through this connection
        (`PRAGMA query_only`): for code that must not change state, whatever it calls.

        Raises:
            StoreError: the file cannot be created, opened or migrated.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: delivery's SMTP workers record their answers through
            # this connection, one at a time under delivery's own lock.
            db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{path}: cannot open the state database: {e}") from e
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            migrate(db, path)
            if read_only:
                db.execute("PRAGMA query_only = ON")
            yield cls(db)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: the state database failed: {e}") from e
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; rolled back if the block raises."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
