"""Edition variants: each (topics, frequency) group's render of an edition, and the stories a
weekly edition may carry.

A variant's render is kept so that a re-run of an interrupted send gives every group the same
text it would have had the first time.
"""

from __future__ import annotations

import json
from datetime import datetime

from digest.model import Rendered, Story
from digest.store.convert import Tables, iso, story_from_row


class VariantStore(Tables):
    """Methods of `Store` about edition variants and weekly editions."""

    def save_variant(self, variant: str, rendered: Rendered) -> None:
        """Keep one variant's render of an edition (the first one saved wins)."""
        self._db.execute(
            "INSERT OR IGNORE INTO edition_variants VALUES (?, ?, ?, ?, ?, ?)",
            (rendered.edition_id, variant, rendered.subject, rendered.html, rendered.text,
             json.dumps(dict(rendered.placeholders))),
        )

    def variant(self, edition_id: str, variant: str) -> Rendered | None:
        """A stored variant's render, or None."""
        row = self._db.execute(
            "SELECT * FROM edition_variants WHERE edition_id = ? AND variant = ?",
            (edition_id, variant),
        ).fetchone()
        if row is None:
            return None
        return Rendered(edition_id=row["edition_id"], subject=row["subject"], html=row["html"],
                        text=row["text"], placeholders=json.loads(row["placeholders"]))

    def weekly_stories(self, since: datetime, until: datetime) -> list[Story]:
        """Stories published in [since, until] that no earlier weekly edition carried.

        Daily editions do not count: the weekly is the week's best, whatever went out daily.
        """
        rows = self._db.execute(
            """SELECT * FROM stories s
               WHERE published >= ? AND published <= ?
                 AND NOT EXISTS (SELECT 1 FROM edition_stories e
                                 WHERE e.feed_url = s.feed_url AND e.story_id = s.story_id
                                   AND e.edition_id LIKE 'weekly-%')
               ORDER BY published DESC, feed_url, story_id""",
            (iso(since), iso(until)),
        )
        return [story_from_row(r) for r in rows]
