"""The ledger: one row per (edition, subscriber), moved only by the SMTP server's answer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from digest.model import Delivery
from digest.store.convert import Tables, iso


class LedgerStore(Tables):
    """Methods of `Store` about deliveries."""

    def add_pending(self, edition_id: str, emails: Iterable[str], now: datetime) -> None:
        """Add a pending ledger row for each address that has none for this edition."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (edition_id, email, status, updated) "
                "VALUES (?, ?, 'pending', ?)",
                ((edition_id, e, iso(now)) for e in emails),
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
             delivery.message_id, max(delivery.attempts, 1), iso(now)),
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
