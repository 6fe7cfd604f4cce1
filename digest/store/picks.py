"""Editor picks: the stories an editor pinned or dropped for a coming edition.

`digest rank --pin STORY` and `--drop STORY` record them here, keyed by the edition they are
for; the pipeline reads them when it builds that edition and hands them to rank.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from digest.store.convert import Tables, iso

Pick = Literal["pin", "drop"]


class PickStore(Tables):
    """Methods of `Store` about the editor's pins and drops."""

    def pick(self, edition_id: str, story: str, action: Pick, now: datetime) -> None:
        """Pin or drop `story` (a link or id) in edition `edition_id`. Pinning or dropping a
        story again replaces what was said before (a pin moves to the end of the pins)."""
        with self._transaction():
            self._db.execute("DELETE FROM editor_picks WHERE edition_id = ? AND story = ?",
                             (edition_id, story))
            # The order pinned is kept in a number of our own: SQLite's rowid has no
            # PostgreSQL twin, and two picks can share a second.
            last = self._db.execute("SELECT MAX(seq) FROM editor_picks WHERE edition_id = ?",
                                    (edition_id,)).fetchone()[0]
            self._db.execute("INSERT INTO editor_picks VALUES (?, ?, ?, ?, ?)",
                             (edition_id, story, action, iso(now), (last or 0) + 1))

    def unpick(self, edition_id: str) -> int:
        """Forget every pin and drop of an edition; returns how many there were."""
        with self._transaction():
            return self._db.execute("DELETE FROM editor_picks WHERE edition_id = ?",
                                    (edition_id,)).rowcount

    def picks(self, edition_id: str) -> tuple[list[str], list[str]]:
        """The pinned stories in the order pinned, and the dropped ones, of an edition."""
        rows = self._db.execute(
            "SELECT story, action FROM editor_picks WHERE edition_id = ? ORDER BY seq",
            (edition_id,)).fetchall()
        return ([r["story"] for r in rows if r["action"] == "pin"],
                [r["story"] for r in rows if r["action"] == "drop"])
