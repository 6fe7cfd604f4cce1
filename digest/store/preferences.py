"""Preferences: the topics and frequency a subscriber chose on the preferences page.

What a subscriber decides is kept here, not in the operator's list files, and wins over them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from digest.model import Frequency
from digest.store.convert import Tables, iso

Preference = tuple[tuple[str, ...], Frequency]  # (topics, empty meaning all; frequency)


class PreferenceStore(Tables):
    """Methods of `Store` about subscribers' own choices."""

    def set_preference(self, email: str, topics: tuple[str, ...], frequency: Frequency,
                       now: datetime) -> None:
        """Save what `email` chose; it applies from the next edition."""
        self._db.execute(
            """INSERT INTO preferences VALUES (?, ?, ?, ?)
               ON CONFLICT (email) DO UPDATE SET topics = excluded.topics,
                 frequency = excluded.frequency, updated = excluded.updated""",
            (email, json.dumps(list(topics)), frequency, iso(now)),
        )

    def preference(self, email: str) -> Preference | None:
        """What `email` chose, or None when it never used the preferences page."""
        row = self._db.execute("SELECT * FROM preferences WHERE email = ?", (email,)).fetchone()
        if row is None:
            return None
        return tuple(json.loads(row["topics"])), _frequency(row["frequency"])

    def preferences(self) -> Mapping[str, Preference]:
        """Every saved choice by address (subscribers who chose are few; one read per send)."""
        rows = self._db.execute("SELECT email, topics, frequency FROM preferences")
        return {r["email"]: (tuple(json.loads(r["topics"])), _frequency(r["frequency"]))
                for r in rows}


def _frequency(text: str) -> Frequency:
    return "weekly" if text == "weekly" else "daily"
