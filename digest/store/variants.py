"""Edition variants: each topics group's render of an edition, and the stories a weekly
edition may carry.

A variant's render is kept with its edition, and the first one saved wins, so every run of
the edition, by any process, sends each group the same text. A variant whose topics have no
story in the edition is kept as empty: its readers are skipped on every run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from digest.model import Rendered, Story
from digest.store.convert import Tables, iso, story_from_row

# The value of `variants()` for a variant kept as empty (no story in its topics).
EMPTY = None


class VariantStore(Tables):
    """Methods of `Store` about edition variants and weekly editions."""

    def save_variant(self, variant: str, rendered: Rendered) -> None:
        """Keep one variant's render of an edition (the first one saved wins)."""
        self._db.execute(
            "INSERT OR IGNORE INTO edition_variants (edition_id, variant, subject, html, text, "
            "placeholders) VALUES (?, ?, ?, ?, ?, ?)",
            (rendered.edition_id, variant, rendered.subject, rendered.html, rendered.text,
             json.dumps(dict(rendered.placeholders))),
        )

    def save_empty_variant(self, edition_id: str, variant: str) -> None:
        """Keep that a variant has no story in the edition (unless a render was kept first)."""
        self._db.execute(
            "INSERT OR IGNORE INTO edition_variants (edition_id, variant, subject, html, text, "
            "placeholders, empty) VALUES (?, ?, '', '', '', '{}', 1)",
            (edition_id, variant),
        )

    def variant(self, edition_id: str, variant: str) -> Rendered | None:
        """A stored variant's render; None when there is none, or it was kept as empty."""
        return self.variants(edition_id).get(variant)

    def variants(self, edition_id: str) -> Mapping[str, Rendered | None]:
        """Every stored variant of an edition by its key: its render, or `EMPTY`."""
        rows = self._db.execute(
            "SELECT * FROM edition_variants WHERE edition_id = ?", (edition_id,))
        return {
            r["variant"]: EMPTY if r["empty"] else Rendered(
                edition_id=r["edition_id"], subject=r["subject"], html=r["html"],
                text=r["text"], placeholders=json.loads(r["placeholders"]))
            for r in rows
        }

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
