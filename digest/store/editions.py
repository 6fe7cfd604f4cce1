"""The editions tables: each edition as rendered, and the stories it carried."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.model import Edition, Rendered, Story
from digest.store.contents import edition_from_json, edition_json
from digest.store.convert import Tables, dt, iso


@dataclass(frozen=True)
class EditionSummary:
    """An edition with its delivery counts, for `digest status`."""

    id: str
    created: datetime
    subject: str
    counts: dict[str, int]


class EditionStore(Tables):
    """Methods of `Store` about editions."""

    def save_edition(self, rendered: Rendered, created: datetime, stories: Sequence[Story],
                     content: Edition | None = None) -> None:
        """Keep an edition as rendered (and `content`, what was rendered), and mark its
        stories as sent in it."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO editions (id, created, subject, html, text, placeholders, content) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rendered.edition_id, iso(created), rendered.subject, rendered.html,
                 rendered.text, json.dumps(dict(rendered.placeholders)),
                 edition_json(content) if content is not None else ""),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO edition_stories VALUES (?, ?, ?)",
                [(rendered.edition_id, s.feed_url, s.id) for s in stories],
            )

    def edition(self, edition_id: str) -> Rendered | None:
        """A stored edition as it was rendered, or None."""
        row = self._db.execute("SELECT * FROM editions WHERE id = ?", (edition_id,)).fetchone()
        if row is None:
            return None
        return Rendered(
            edition_id=row["id"], subject=row["subject"], html=row["html"], text=row["text"],
            placeholders=json.loads(row["placeholders"]),
        )

    def edition_content(self, edition_id: str) -> Edition | None:
        """What a stored edition carried, as ranked and fitted; None for an edition stored
        by a digest that did not keep it (or an unknown id).

        Raises:
            StoreError: the stored contents are damaged.
        """
        row = self._db.execute("SELECT content FROM editions WHERE id = ?",
                               (edition_id,)).fetchone()
        if row is None or not row["content"]:
            return None
        return edition_from_json(row["content"], edition_id)

    def edition_created(self, edition_id: str) -> datetime | None:
        """When a stored edition was built as of, or None."""
        row = self._db.execute("SELECT created FROM editions WHERE id = ?",
                               (edition_id,)).fetchone()
        return dt(row["created"]) if row else None

    def edition_story_keys(self, edition_id: str) -> list[tuple[str, str]]:
        """The (feed URL, story id) of every story an edition carried."""
        rows = self._db.execute(
            "SELECT feed_url, story_id FROM edition_stories WHERE edition_id = ?", (edition_id,)
        )
        return [(r["feed_url"], r["story_id"]) for r in rows]

    def editions(self, limit: int = 10) -> list[EditionSummary]:
        """The latest editions, newest first, with their delivery counts."""
        rows = self._db.execute(
            "SELECT id, created, subject FROM editions ORDER BY created DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        summaries = []
        for r in rows:
            counts = dict.fromkeys(("pending", "sent", "deferred", "failed", "unknown"), 0)
            for c in self._db.execute(
                "SELECT status, count(*) AS n FROM deliveries WHERE edition_id = ? "
                "GROUP BY status", (r["id"],)
            ):
                counts[c["status"]] = c["n"]
            summaries.append(EditionSummary(r["id"], dt(r["created"]), r["subject"], counts))
        return summaries
