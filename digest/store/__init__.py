"""Store: the state database (SQLite embedded, or PostgreSQL shared): feeds' validators,
stories, editions and the ledger.

In: stories, fetch results, editions, deliveries. Out: the same values read back. Every write
is committed before the method returns, so a process killed at any moment loses at most the
call in progress. Database rows never leave this package. One module per noun (feeds,
stories, editions, ledger, suppressions, preferences, variants, subscribers, signups,
workers); `schema.py` holds the migrations, the same on both backends; `backend.py` the
one connection API they all use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from digest.errors import StoreError
from digest.store.backend import Database, Location, connect, database_errors
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
from digest.store.workers import WorkerStore

__all__ = ["SCHEMA_VERSION", "EditionSummary", "FeedState", "Store"]


class Store(FeedStore, StoryStore, EditionStore, LedgerStore, SuppressionStore,
            PreferenceStore, VariantStore, BounceStore, SubscriberStore, SignupStore,
            PickStore, WorkerStore):
    """The state database. Open it with `Store.open(path)` as a context manager."""

    def __init__(self, connection: Database) -> None:
        self._db = connection

    @classmethod
    @contextmanager
    def open(cls, location: Location, application: str = "digest",
             read_only: bool = False) -> Iterator[Store]:
        """Open (creating and migrating as needed) the database at `location`: a SQLite
        file's path, or a PostgreSQL URL (`Config.database_path` is either).

        With `read_only`, the database itself refuses every write through this connection
        (SQLite's `PRAGMA query_only`, PostgreSQL's read-only transactions): for code that
        must not change state, whatever it calls.

        Args:
            application: how PostgreSQL lists this connection (pg_stat_activity).
        Raises:
            StoreError: the database cannot be created, opened, reached or migrated.
        """
        db = connect(location, application)
        try:
            migrate(db)
            if read_only:
                db.execute("PRAGMA query_only = ON" if db.kind == "sqlite"
                           else "SET default_transaction_read_only = on")
            yield cls(db)
        except database_errors() as e:
            raise StoreError(f"{db.where}: the state database failed: {e}; if the server "
                             "went away, run the command again once it is back") from e
        finally:
            db.close()

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._db.kind

    def _transaction(self) -> AbstractContextManager[None]:
        """One write transaction; rolled back if the block raises."""
        return self._db.transaction()
