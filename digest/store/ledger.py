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
from collections.abc import Iterable
from datetime import datetime

from digest.model import Delivery
from digest.store.convert import Tables, iso

# What a re-run of an edition sends to: rows never confirmed. `unknown` is among them: the
# message may have arrived, and sending it again (same Message-ID, so most clients show one)
# is the lesser harm than a subscriber who silently never gets the edition.
LEFT = ("pending", "deferred", "unknown")


class LedgerStore(Tables):
    """Methods of `Store` about deliveries."""

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
        self._db.execute(
            """INSERT INTO deliveries (edition_id, email, status, reply, message_id, attempts,
                                       updated, next_try, first_try)
               VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
               ON CONFLICT (edition_id, email) DO UPDATE SET status = excluded.status,
                 reply = excluded.reply, message_id = excluded.message_id,
                 attempts = attempts + 1, updated = excluded.updated,
                 next_try = excluded.next_try,
                 first_try = CASE first_try WHEN '' THEN excluded.first_try ELSE first_try END""",
            (delivery.edition_id, delivery.email, delivery.status, delivery.reply,
             delivery.message_id, iso(now), iso(next_try) if next_try else "", iso(now)),
        )

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
