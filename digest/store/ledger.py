"""The ledger: one row per (edition, subscriber), moved only by the SMTP server's answer.

    pending ──► sent      (250: the reply and the Message-ID kept)
            ├─► deferred  (4xx: attempts, the last reply, next_try) ──► sent | failed | ...
            ├─► failed    (5xx: permanent; the address is suppressed too)
            ├─► unknown   (the connection dropped after the data went out, before the answer)
            └─► skipped   (the address left the lists or was suppressed before its turn)

Every write is one committed statement, so a process killed at any moment loses nothing
that the server had confirmed.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from digest.model import Delivery
from digest.store.convert import Tables, iso

# What a re-run of an edition sends to: rows never confirmed. `unknown` is among them: the
# message may have arrived, and sending it again (same Message-ID, so most clients show one)
# is the lesser harm than a subscriber who silently never gets the edition.
LEFT = ("pending", "deferred", "unknown")

_RECORD = """INSERT INTO deliveries (edition_id, email, status, reply, message_id, attempts,
                                    updated, next_try, first_try)
             VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
             ON CONFLICT (edition_id, email) DO UPDATE SET status = excluded.status,
               reply = excluded.reply, message_id = excluded.message_id,
               attempts = deliveries.attempts + 1, updated = excluded.updated,
               next_try = excluded.next_try,
               first_try = CASE deliveries.first_try WHEN '' THEN excluded.first_try
                           ELSE deliveries.first_try END"""


class LedgerStore(Tables):
    """Methods of `Store` about deliveries."""

    @contextmanager
    def checkpoints_aside(self, every: float = 0.25) -> Iterator[None]:
        """While the block runs, WAL checkpoints run on a thread and connection of their own.

        A send commits one row per answer. SQLite's automatic checkpoint runs inside the
        commit that crosses 1,000 WAL pages, with its fsyncs: that commit, and every
        connection waiting to record its answer behind it, stalls for the disk. Here the
        commits only append to the WAL (as durable against a killed process as before: the
        kernel has the bytes when the commit returns) and a passive checkpoint every `every`
        seconds copies them back, so the WAL is reused instead of growing.
        """
        if self._db.kind != "sqlite":  # PostgreSQL checkpoints on its own, off our commits
            yield
            return
        path = self._db.execute("PRAGMA database_list").fetchone()[2]
        if not path:  # an in-memory database has no WAL
            yield
            return
        done = threading.Event()

        def checkpoint() -> None:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                while not done.wait(every):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # then the WAL only grows until the automatic checkpoint is back
            finally:
                db.close()

        self._db.execute("PRAGMA wal_autocheckpoint = 0")
        thread = threading.Thread(target=checkpoint, name="ledger-checkpoint", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            self._db.execute("PRAGMA wal_autocheckpoint = 1000")

    def add_pending(self, edition_id: str, emails: Iterable[str], now: datetime) -> None:
        """Add a pending ledger row for each address that has none for this edition.

        In batches, each read from `emails` before its transaction begins: the stream may
        write through another connection (a variant rendered on first use), which must not
        wait for this one's write lock.
        """
        batch: list[tuple[str, str, str]] = []
        for email in itertools.chain(emails, [None]):
            if email is not None:
                batch.append((edition_id, email, iso(now)))
            if len(batch) >= 2000 or (email is None and batch):
                with self._transaction():
                    self._db.executemany(
                        "INSERT OR IGNORE INTO deliveries (edition_id, email, status, updated) "
                        "VALUES (?, ?, 'pending', ?)", batch,
                    )
                batch = []

    def delivery_status(self, edition_id: str) -> dict[str, str]:
        """Each address's ledger status for an edition."""
        rows = self._db.execute(
            "SELECT email, status FROM deliveries WHERE edition_id = ?", (edition_id,)
        )
        return {r["email"]: r["status"] for r in rows}

    def due_addresses(self, edition_id: str, now: datetime) -> set[str]:
        """The addresses a run of this edition sends to now: pending, unknown, and deferred
        whose next try has come."""
        rows = self._db.execute(
            "SELECT email FROM deliveries WHERE edition_id = ? AND (status IN "
            "('pending', 'unknown') OR (status = 'deferred' AND next_try <= ?))",
            (edition_id, iso(now)),
        )
        return {r["email"] for r in rows}

    def record_delivery(self, delivery: Delivery, now: datetime,
                        next_try: datetime | None = None) -> None:
        """Write one delivery's outcome; committed when this returns.

        Args:
            delivery: the outcome; its `attempts` is ignored (the row counts its own tries).
            now: when the server answered.
            next_try: for a deferred delivery, when it is due again.
        """
        self.record_deliveries([(delivery, next_try)], now)

    def record_deliveries(self, rows: Iterable[tuple[Delivery, datetime | None]],
                          now: datetime) -> None:
        """Write several outcomes in one transaction; all committed when this returns.

        Args:
            rows: each outcome (its `attempts` ignored) and, for a deferred one, when it is
                due again.
            now: when the server answered.
        """
        when = iso(now)
        values = [(d.edition_id, d.email, d.status, d.reply, d.message_id, when,
                   iso(next_try) if next_try else "", when) for d, next_try in rows]
        if len(values) == 1:  # one statement commits on its own: no BEGIN/COMMIT round
            self._db.execute(_RECORD, values[0])
        elif values:
            with self._transaction():
                self._db.executemany(_RECORD, values)

    def skip_deliveries(self, edition_id: str, emails: Iterable[str], now: datetime) -> int:
        """Close the rows of addresses no longer on any list (or suppressed): never sent to.

        Returns:
            How many rows were closed.
        """
        with self._transaction():
            cursor = self._db.executemany(
                "UPDATE deliveries SET status = 'skipped', updated = ?, "
                "reply = 'not on a list any more, or suppressed' "
                "WHERE edition_id = ? AND email = ? AND status IN ('pending', 'deferred', "
                "'unknown')",
                ((iso(now), edition_id, e) for e in emails),
            )
            return cursor.rowcount

    def editions_to_retry(self, now: datetime) -> list[str]:
        """The editions with a deferred delivery due again by `now`, oldest first."""
        rows = self._db.execute(
            "SELECT DISTINCT edition_id FROM deliveries WHERE status = 'deferred' AND "
            "next_try <= ? ORDER BY edition_id", (iso(now),))
        return [r["edition_id"] for r in rows]

    def give_up_deferred(self, tried_before: datetime, now: datetime) -> list[Delivery]:
        """Fail the deferred deliveries first tried before `tried_before`, with their last
        reply; the address is not suppressed (a server that kept saying "later" may take
        the next edition).

        Returns:
            The deliveries given up on.
        """
        first = "CASE first_try WHEN '' THEN updated ELSE first_try END"
        with self._transaction():
            rows = self._db.execute(
                f"SELECT * FROM deliveries WHERE status = 'deferred' AND {first} < ? "
                "ORDER BY edition_id, email", (iso(tried_before),)).fetchall()
            self._db.executemany(
                "UPDATE deliveries SET status = 'failed', updated = ?, next_try = '' "
                "WHERE edition_id = ? AND email = ? AND status = 'deferred'",
                [(iso(now), r["edition_id"], r["email"]) for r in rows])
        return [Delivery(r["edition_id"], r["email"], "failed", r["reply"], r["message_id"],
                         r["attempts"]) for r in rows]

    def delivery_counts(self, edition_id: str) -> dict[str, int]:
        """How many rows of the edition are in each status."""
        rows = self._db.execute(
            "SELECT status, count(*) AS n FROM deliveries WHERE edition_id = ? GROUP BY status",
            (edition_id,),
        )
        return {r["status"]: r["n"] for r in rows}

    def next_try(self, edition_id: str) -> datetime | None:
        """When the earliest deferred delivery of the edition is due, if any."""
        row = self._db.execute(
            "SELECT min(next_try) AS t FROM deliveries WHERE edition_id = ? AND "
            "status = 'deferred'", (edition_id,),
        ).fetchone()
        return datetime.fromisoformat(row["t"]) if row and row["t"] else None

    def deliveries(self, edition_id: str) -> list[Delivery]:
        """Every ledger row of an edition, by address."""
        rows = self._db.execute(
            "SELECT * FROM deliveries WHERE edition_id = ? ORDER BY email", (edition_id,)
        )
        return [
            Delivery(r["edition_id"], r["email"], r["status"], r["reply"], r["message_id"],
                     r["attempts"])
            for r in rows
        ]
