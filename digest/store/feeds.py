"""The feeds table: validators, how each feed's last fetch went, and its fetch state.

A feed is keyed by its URL in config.toml. Its state: where a 301/308 moved it (fetched from
there from then on), why it is disabled (a 410), how many fetches in a row failed, and when
it may be tried next (backoff, Retry-After).
"""

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
    failures: int  # consecutive failed fetches
    moved_to: str = ""  # the URL 301/308 answers moved the feed to; "" if it never moved
    disabled: str = ""  # why the feed is no longer fetched (410 Gone); "" if it is fetched
    next_try: datetime | None = None  # not fetched before this moment (backoff, Retry-After)


class FeedStore(Tables):
    """Methods of `Store` about feeds."""

    def validators(self) -> dict[str, Validators]:
        """ETag and Last-Modified per feed URL, as last received."""
        rows = self._db.execute("SELECT url, etag, last_modified FROM feeds")
        return {r["url"]: Validators(r["etag"], r["last_modified"]) for r in rows}

    def record_fetch(
        self, result: FetchResult, now: datetime, next_try: datetime | None = None
    ) -> None:
        """Remember how fetching a feed went.

        Args:
            result: the fetch, keyed by `result.feed.url` (the URL in config.toml).
            now: when it was fetched.
            next_try: the earliest next fetch (backoff, Retry-After); None for "any time".
        """
        headers = {k.lower(): v for k, v in result.headers.items()}
        ok = result.status in ("ok", "not_modified")
        gone = result.status == "failed" and result.http_status == 410
        self._db.execute(
            """INSERT INTO feeds (url, etag, last_modified, last_fetch, last_status, last_error,
                                  failures, moved_to, disabled, next_try)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                 etag = CASE WHEN ? THEN excluded.etag ELSE feeds.etag END,
                 last_modified = CASE WHEN ? THEN excluded.last_modified
                                 ELSE feeds.last_modified END,
                 last_fetch = excluded.last_fetch, last_status = excluded.last_status,
                 last_error = excluded.last_error,
                 failures = CASE WHEN ? THEN 0 ELSE feeds.failures + 1 END,
                 moved_to = CASE WHEN excluded.moved_to != '' THEN excluded.moved_to
                                 ELSE feeds.moved_to END,
                 disabled = excluded.disabled, next_try = excluded.next_try""",
            (
                result.feed.url, headers.get("etag", ""), headers.get("last-modified", ""),
                iso(now), result.status, result.error or "", 0 if ok else 1,
                result.permanent_url if ok else "", (result.error or "") if gone else "",
                iso(next_try) if next_try else None,
                result.status == "ok", result.status == "ok", ok,
            ),
        )

    def failures(self, url: str) -> int:
        """How many fetches of a feed failed in a row (0 for a feed never fetched)."""
        row = self._db.execute("SELECT failures FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row["failures"]) if row else 0

    def feed_states(self) -> dict[str, FeedState]:
        """Every feed's state, by its URL in config.toml."""
        rows = self._db.execute("SELECT * FROM feeds")
        return {
            r["url"]: FeedState(
                url=r["url"], last_fetch=dt(r["last_fetch"]) if r["last_fetch"] else None,
                last_status=r["last_status"] or "", last_error=r["last_error"] or "",
                failures=r["failures"], moved_to=r["moved_to"], disabled=r["disabled"],
                next_try=dt(r["next_try"]) if r["next_try"] else None,
            )
            for r in rows
        }
