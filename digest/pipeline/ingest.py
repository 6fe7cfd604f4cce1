"""Orchestrate ingestion: fetch every due feed, parse what changed, store the stories.

Part of the pipeline package (the one composition root): it knows the order fetch → parse →
store, each feed's backoff and moves, and returns a plain `FetchSummary` for the CLI.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from datetime import datetime

from digest.config import Config, FetchConfig
from digest.errors import ParseError
from digest.ingest.fetch import describe_exception, fetch_feeds, next_attempt
from digest.ingest.workers import FeedParser
from digest.model import (
    Feed,
    FetchResult,
    FetchStatus,
    Validators,
)
from digest.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedReport:
    url: str
    name: str
    status: FetchStatus
    new: int = 0
    error: str | None = None


@dataclass(frozen=True)
class FetchSummary:
    feeds: tuple[FeedReport, ...]

    @property
    def new_stories(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.feeds if f.status == "failed")

    @property
    def skipped(self) -> int:
        return sum(1 for f in self.feeds if f.status == "skipped")


def fetch(config: Config, store: Store, now: datetime) -> FetchSummary:
    """Fetch every feed that is due, parse what changed and store the stories.

    A feed disabled by a 410, or backing off after failures (or a Retry-After), is not
    fetched and is reported as "skipped" with the reason. A feed that a 301/308 moved is
    fetched at its new URL, but keeps its identity (its URL in config.toml).
    """
    states = store.feed_states()
    known = store.validators()
    skipped: dict[str, FeedReport] = {}
    due: list[Feed] = []
    validators: dict[str, Validators] = {}
    for feed in config.feeds:
        state = states.get(feed.url)
        if state and state.disabled:
            skipped[feed.url] = FeedReport(feed.url, feed.name, "skipped", 0,
                                           f"disabled: {state.disabled}")
        elif state and state.next_try and state.next_try > now:
            skipped[feed.url] = FeedReport(
                feed.url, feed.name, "skipped", 0,
                f"waiting after {_failures(state.failures)} in a row; next try after "
                f"{state.next_try.isoformat(timespec='seconds')}",
            )
        else:
            target = state.moved_to if state and state.moved_to else feed.url
            due.append(dataclasses.replace(feed, url=target))
            if feed.url in known:
                validators[target] = known[feed.url]
    # Each result goes with its configured feed by position, not by URL: a server can move
    # one feed (301) onto the URL of another, and then two feeds are fetched at one URL.
    configured = [c for c in config.feeds if c.url not in skipped]
    fetched = {}
    with FeedParser(now, parse_workers(config.fetch, len(due)),
                    config.fetch.parse_seconds) as parser:
        results = fetch_feeds(due, validators, config.fetch, parser.submit)
        for feed, result in zip(configured, results, strict=True):
            fetched[feed.url] = _ingest(result, feed, parser, store, now,
                                        config.fetch.backoff_seconds)
    reports = tuple(skipped.get(f.url) or fetched[f.url] for f in config.feeds)
    summary = FetchSummary(reports)
    log.info("fetched %d feeds: %d new stories, %d failed, %d skipped", len(reports),
             summary.new_stories, summary.failed, summary.skipped)
    return summary


def _failures(n: int) -> str:
    return f"{n} failure" if n == 1 else f"{n} failures"


def parse_workers(settings: FetchConfig, feeds: int) -> int:
    """How many processes parse: more than one only when there are feeds enough to share."""
    workers = settings.parse_workers or min(os.cpu_count() or 1, 4)
    return workers if feeds >= 4 * workers else 1


def _ingest(
    result: FetchResult, feed: Feed, parser: FeedParser, store: Store, now: datetime,
    backoff: float,
) -> FeedReport:
    """Parse and store one fetched feed, and record how its fetch went.

    `result` is as fetched (its feed's url may be where the feed moved); `feed` is the feed
    as configured, whose url is its identity in the store.
    """
    new = 0
    if result.status == "ok":
        # The feed's edge: whatever parsing or storing its stories raises costs this feed,
        # never the run; the reason is one line, the traceback only for --debug.
        try:
            stories = parser.stories(result)
            if result.feed.url != feed.url:  # fetched where the feed moved to
                stories = [dataclasses.replace(s, feed_url=feed.url) for s in stories]
            new = store.upsert_stories(stories, now)
        except ParseError as e:
            log.warning("%s", e)
            result = dataclasses.replace(result, status="failed", error=str(e))
        except Exception as e:
            log.warning("feed %s: %s", feed.url, describe_exception(e))
            log.debug("feed %s: parsing or storing raised", feed.url, exc_info=True)
            result = dataclasses.replace(result, status="failed", error=describe_exception(e))
    result = dataclasses.replace(result, feed=feed)
    if result.permanent_url and result.status != "failed":
        log.warning("feed %s (%s) moved permanently to %s; fetching it there from now on "
                    "(update its url in config.toml)", result.feed.name, result.feed.url,
                    result.permanent_url)
    failures = 0 if result.status != "failed" else store.failures(result.feed.url) + 1
    store.record_fetch(result, now,
                       next_attempt(failures, result.retry_after_seconds, now, backoff))
    return FeedReport(result.feed.url, result.feed.name, result.status, new, result.error)
