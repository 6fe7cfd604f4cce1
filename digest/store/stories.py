"""The stories table: each feed's items, upserted by (feed, id)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from digest.model import Story
from digest.store.convert import Tables, dt, image_json, iso, story_from_row, story_values


class StoryStore(Tables):
    """Methods of `Store` about stories."""

    def upsert_stories(self, stories: Iterable[Story], now: datetime) -> int:
        """Insert new stories and update edited ones; returns how many were new.

        An edited story keeps its first-seen time, so it does not become new again.
        """
        new = 0
        with self._transaction():
            for s in stories:
                cursor = self._db.execute(
                    """INSERT INTO stories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT (feed_url, story_id) DO NOTHING""",
                    (s.feed_url, s.id, *story_values(s, now)),
                )
                if cursor.rowcount:
                    new += 1
                    continue
                self._db.execute(
                    # An undated story keeps the time it was first seen as its date.
                    """UPDATE stories SET url=?, title=?, summary_html=?, summary_text=?,
                         published=CASE WHEN ? THEN ? ELSE published END, author=?,
                         categories=?, image=?, source=?, section=?, weight=?, featured=?
                       WHERE feed_url=? AND story_id=?""",
                    (
                        s.url, s.title, s.summary_html, s.summary_text, s.dated,
                        iso(s.published),
                        s.author, json.dumps(s.categories), image_json(s.image), s.source,
                        s.section, s.weight, int(s.featured), s.feed_url, s.id,
                    ),
                )
        return new

    def unsent_stories(self, since: datetime, until: datetime) -> list[Story]:
        """Stories published in [since, until] that no earlier daily edition carried.

        A weekly edition (the week's best, for weekly readers) takes nothing from the dailies.
        """
        rows = self._db.execute(
            """SELECT * FROM stories s
               WHERE published >= ? AND published <= ?
                 AND NOT EXISTS (SELECT 1 FROM edition_stories e
                                 WHERE e.feed_url = s.feed_url AND e.story_id = s.story_id
                                   AND e.edition_id NOT LIKE 'weekly-%')
               ORDER BY published DESC, feed_url, story_id""",
            (iso(since), iso(until)),
        )
        return [story_from_row(r) for r in rows]

    def newest_published(self) -> datetime | None:
        """The publication time of the newest stored story."""
        row = self._db.execute("SELECT max(published) AS newest FROM stories").fetchone()
        return dt(row["newest"]) if row["newest"] else None
