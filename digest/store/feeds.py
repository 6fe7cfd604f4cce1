"""The feeds table: validators and how each feed's last fetch went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.model import FetchResult, Validators
from digest.store.convert import Tables, dt, iso


@dataclass(frozen=True)
class FeedState:
    """What the database remembers of one feed."""

    url: str
    last_fetch: datetime | None
    last_status: str
    last_error: str
    failures: int


class FeedStore(Tables):
    """Methods of `Store` about feeds."""

    def validators(self) -> dict[str, Validators]:
        """ETag and Last-Modified per feed URL, as last received."""
        rows = self._db.execute("SELECT url, etag, last_modified FROM feeds")
        return {r["url"]: Validators(r["etag"], r["last_modified"]) for r in rows}

    def record_fetch(self, result: FetchResult, now: datetime) -> None:
        """Remember how fetching a feed went, and its validators when it succeeded."""
        headers = {k.lower(): v for k, v in result.headers.items()}
        ok = result.status in ("ok", "not_modified")
        self._db.execute(
            """INSERT INTO feeds (url, etag, last_modified, last_fetch, last_status, last_error,
                                  failures)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                 etag = CASE WHEN ? THEN excluded.etag ELSE etag END,
                 last_modified = CASE WHEN ? THEN excluded.last_modified ELSE last_modified END,
                 last_fetch = excluded.last_fetch, last_status = excluded.last_status,
                 last_error = excluded.last_error,
                 failures = CASE WHEN ? THEN 0 ELSE failures + 1 END""",
            (
                result.feed.url, headers.get("etag", ""), headers.get("last-modified", ""),
                iso(now), result.status, result.error or "", 0 if ok else 1,
                result.status == "ok", result.status == "ok", ok,
            ),
        )

    def feed_states(self) -> dict[str, FeedState]:
        rows = self._db.execute("SELECT * FROM feeds")
        return {
            r["url"]: FeedState(
                url=r["url"], last_fetch=dt(r["last_fetch"]) if r["last_fetch"] else None,
                last_status=r["last_status"] or "", last_error=r["last_error"] or "",
                failures=r["failures"],
            )
            for r in rows
        }
