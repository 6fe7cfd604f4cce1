"""Suppressions: addresses never to be sent to again, with why and since when.

An address lands here when its subscriber unsubscribes, when delivery gets a permanent
failure (5xx), or by hand; it leaves only through `digest subscribers restore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.store.convert import Tables, dt, iso


@dataclass(frozen=True)
class Suppression:
    """One suppressed address, why, and since when."""

    email: str
    reason: str
    created: datetime


class SuppressionStore(Tables):
    """Methods of `Store` about suppressed addresses."""

    def suppress(self, email: str, reason: str, now: datetime) -> bool:
        """Never send to `email` again (until restored); the first reason is kept.

        Returns:
            True when the address was not suppressed before.
        """
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?)", (email, reason, iso(now))
        )
        return bool(cursor.rowcount)

    def suppressed(self) -> set[str]:
        """Every suppressed address."""
        return {r["email"] for r in self._db.execute("SELECT email FROM suppressions")}

    def suppression(self, email: str) -> Suppression | None:
        """Why and since when `email` is suppressed, or None when it is not."""
        row = self._db.execute("SELECT * FROM suppressions WHERE email = ?", (email,)).fetchone()
        return Suppression(row["email"], row["reason"], dt(row["created"])) if row else None

    def suppressions(self) -> list[Suppression]:
        """Every suppression, newest first."""
        rows = self._db.execute("SELECT * FROM suppressions ORDER BY created DESC, email")
        return [Suppression(r["email"], r["reason"], dt(r["created"])) for r in rows]

    def restore(self, email: str) -> bool:
        """Allow sending to `email` again; True when it was suppressed."""
        with self._transaction():
            # the evidence goes too: a later suppression must not inherit a complaint's
            self._db.execute("DELETE FROM suppression_evidence WHERE email = ?", (email,))
            return bool(self._db.execute("DELETE FROM suppressions WHERE email = ?",
                                         (email,)).rowcount)
