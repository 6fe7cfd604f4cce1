"""The stories table: each feed's items, upserted by (feed, id)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from digest.model import Story
from digest.store.convert import Tables, dt, image_json, iso, story_from_row, story_values


class StoryStore(Tables):
    """Methods of `Store` about stories."""

    def upsert_stories(self, stories: Iterable[Story], now: datetime) -> int:
        """Insert new stories and update edited ones; returns how many were new.

        An edited story keeps its first-seen time, so it does not become new again. One
        transaction and two batched statements for all of them (a feed's stories come
        together): a statement per story cost more than parsing them.
        """
        batch = list(stories)
        if not batch:
            return 0
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        with self._transaction():
            known: set[tuple[str, str]] = set()
            for feed_url in {s.feed_url for s in batch}:
                known.update((feed_url, r[0]) for r in self._db.execute(
                    "SELECT story_id FROM stories WHERE feed_url = ?", (feed_url,)))
            for s in batch:
                key = (s.feed_url, s.id)
                if key not in known:
                    known.add(key)  # the same story twice in one batch: the later one updates
                    inserts.append((s.feed_url, s.id, *story_values(s, now)))
                    continue
                updates.append((
                    s.url, s.title, s.summary_html, s.summary_text, s.dated, iso(s.published),
                    s.author, json.dumps(s.categories), image_json(s.image), s.source,
                    s.section, s.weight, int(s.featured), s.position, s.feed_url, s.id,
                ))
            self._db.executemany(
                "INSERT INTO stories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", inserts)
            self._db.executemany(
                # An undated story keeps the time it was first seen as its date.
                """UPDATE stories SET url=?, title=?, summary_html=?, summary_text=?,
                     published=CASE WHEN ? THEN ? ELSE published END, author=?,
                     categories=?, image=?, source=?, section=?, weight=?, featured=?,
                     position=?
                   WHERE feed_url=? AND story_id=?""",
                updates,
            )
        return len(inserts)

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
