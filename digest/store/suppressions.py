"""Suppressions: addresses never to be sent to again, with why and since when."""

from __future__ import annotations

from datetime import datetime

from digest.store.convert import Tables, iso


class SuppressionStore(Tables):
    """Methods of `Store` about suppressed addresses."""

    def suppress(self, email: str, reason: str, now: datetime) -> None:
        """Never send to `email` again (until restored); the first reason is kept."""
        self._db.execute(
            "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?)", (email, reason, iso(now))
        )

    def suppressed(self) -> set[str]:
        return {r["email"] for r in self._db.execute("SELECT email FROM suppressions")}
