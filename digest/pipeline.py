"""Orchestrate: the one place that knows the order of the stages.

config → fetch → parse → store → rank → render → address → send → ledger. Every function
here takes what it needs as arguments (the config, the clock, the environment) and returns a
plain summary for the CLI to print.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.budget import Fitted, render_within_budget
from digest.config import Config, FetchConfig
from digest.delivery import Controls, Progress, dkim_signer, send_edition, send_test
from digest.errors import ConfigError, ParseError
from digest.fetch import fetch_feeds, next_attempt
from digest.lock import hold_lock
from digest.message import DkimSigner, PreparedMessage, Sender, build_message
from digest.model import (
    Edition,
    Feed,
    FetchResult,
    FetchStatus,
    Frequency,
    Rendered,
    Story,
    Subscriber,
    Validators,
)
from digest.parse import FeedParser
from digest.rank import rank
from digest.render import archive_name, archive_page
from digest.sink import running_sink
from digest.store import Store
from digest.subscribers import load_subscribers, normalize_address
from digest.variants import VariantRenders, weekly_due, with_preferences

log = logging.getLogger(__name__)

PREVIEW_KEY = b"digest-preview-key: links in previews are not valid tokens"


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


@dataclass(frozen=True)
class SendSummary:
    edition: str
    counts: Mapping[str, int] = field(default_factory=dict)
    stories: int = 0
    note: str = ""  # why nothing was sent, when nothing was
    weekly: SendSummary | None = None  # the weekly edition sent in the same run, if due
    progress: Progress | None = None  # this run's own counts, stop and error (issue 7)
    next_try: datetime | None = None  # when the first deferred delivery is due again

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def left(self) -> int:
        """Deliveries not confirmed: sent to by the next run."""
        return sum(self.count(s) for s in ("pending", "deferred", "unknown"))

    @property
    def ok(self) -> bool:
        stopped = self.progress is not None and (self.progress.stopped or self.progress.error)
        return (not (self.left or self.count("failed") or stopped)
                and (self.weekly is None or self.weekly.ok))


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
    by_target = {f.url: c for f, c in zip(due, (c for c in config.feeds
                                                  if c.url not in skipped), strict=True)}
    fetched = {}
    with FeedParser(now, parse_workers(config.fetch, len(due))) as parser:
        for result in fetch_feeds(due, validators, config.fetch, parser.submit):
            fetched[by_target[result.feed.url].url] = _ingest(
                result, by_target[result.feed.url], parser, store, now,
                config.fetch.backoff_seconds,
            )
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
        try:
            stories = parser.stories(result)
        except ParseError as e:
            log.warning("%s", e)
            result = dataclasses.replace(result, status="failed", error=str(e))
        except Exception as e:  # a bug of ours must cost this feed, not the run
            log.exception("feed %s: parsing failed", result.feed.url)
            result = dataclasses.replace(
                result, status="failed", error=f"internal error while parsing: {e!r}"
            )
        else:
            if result.feed.url != feed.url:  # fetched where the feed moved to
                stories = [dataclasses.replace(s, feed_url=feed.url) for s in stories]
            new = store.upsert_stories(stories, now)
    result = dataclasses.replace(result, feed=feed)
    if result.permanent_url and result.status != "failed":
        log.warning("feed %s (%s) moved permanently to %s; fetching it there from now on "
                    "(update its url in config.toml)", result.feed.name, result.feed.url,
                    result.permanent_url)
    failures = 0 if result.status != "failed" else store.failures(result.feed.url) + 1
    store.record_fetch(result, now,
                       next_attempt(failures, result.retry_after_seconds, now, backoff))
    return FeedReport(result.feed.url, result.feed.name, result.status, new, result.error)


def edition_id_for(config: Config, now: datetime, frequency: str = "daily") -> str:
    """The edition's identity from its schedule slot: one edition per day (or week)."""
    local = now.astimezone(ZoneInfo(config.schedule.timezone))
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"weekly-{year}-W{week:02d}"
    return f"daily-{local:%Y-%m-%d}"


def build_edition(
    config: Config, store: Store, now: datetime, edition_id: str,
    stories: Sequence[Story] | None = None,
) -> Edition:
    """Rank the unsent stories of the lookback window (or `stories`) into the next edition."""
    since = now - timedelta(hours=config.ranking.lookback_hours)
    feeds = {f.url: f for f in config.feeds}
    candidates = [
        dataclasses.replace(s, source=feeds[s.feed_url].name, section=feeds[s.feed_url].section,
                            weight=feeds[s.feed_url].weight, featured=feeds[s.feed_url].featured)
        for s in (store.unsent_stories(since, now) if stories is None else stories)
        if s.feed_url in feeds  # a feed removed from the config no longer contributes
    ]
    order = list(dict.fromkeys(f.section for f in config.feeds))
    # Stories handed in (a weekly edition's week) bring their own window.
    window = since if stories is None else min((s.published for s in candidates), default=now)
    return rank(candidates, config.ranking, now, edition_id, config.newsletter.name, order,
                config.sections, since=window)


def render(config: Config, edition: Edition) -> Rendered:
    """Render an edition with the configured templates, in the configured time zone, with its
    HTML part under the size where Gmail clips (see `render_fitted`)."""
    return render_fitted(config, edition).rendered


def render_fitted(config: Config, edition: Edition) -> Fitted:
    """Render an edition within the HTML size budget: summaries shortened, then the
    lowest-ranked stories dropped if need be. `Fitted.edition` is what was rendered."""
    return render_within_budget(
        edition, config.templates_path, ZoneInfo(config.schedule.timezone),
        nonce=secrets.token_hex(8),
        extra={"base_url": config.newsletter.base_url.rstrip("/")},
    )


def sender_for(config: Config, token_key: bytes) -> Sender:
    return Sender(
        newsletter=config.newsletter.name, from_header=config.newsletter.sender,
        base_url=config.newsletter.base_url.rstrip("/"), token_key=token_key,
        reply_to=config.newsletter.reply_to,
    )


def token_key(config: Config, environ: Mapping[str, str]) -> bytes:
    """The HMAC key for unsubscribe tokens, from the environment variable the config names.

    Raises:
        ConfigError: the variable is unset or too short to be a key.
    """
    name = config.newsletter.secret_env
    value = environ.get(name, "")
    if len(value) < 16:
        raise ConfigError(
            f"${name} is {'unset' if not value else 'shorter than 16 characters'}: it signs the "
            f"unsubscribe links; set it, e.g. export {name}=$(python3 -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value.encode()


def subscribers(
    config: Config, store: Store, frequency: Frequency | None = None
) -> Iterator[Subscriber]:
    """Every active subscriber: in a list, not suppressed, with their own saved preferences.

    Args:
        frequency: only the subscribers who get this frequency; None for all.
    """
    preferences = store.preferences()
    topics = config.topics
    for listed in load_subscribers(config.subscriber_lists, store.suppressed(), topics):
        subscriber = with_preferences(listed, preferences, topics)
        if frequency is None or subscriber.frequency == frequency:
            yield subscriber


def send(
    config: Config,
    now: datetime,
    environ: Mapping[str, str],
    *,
    edition_id: str | None = None,
    dry_run: bool = False,
    to: str | None = None,
    key: bytes | None = None,
    controls: Controls | None = None,
) -> SendSummary:
    """Fetch, rank, render and send one edition to every active subscriber.

    Re-running the same edition continues it: it sends to pending, unknown and due deferred
    rows of the ledger only. `to` sends the edition to one address as a test, recording
    nothing; `dry_run` builds every message but connects to no server. `controls` carries the
    wall clock, the stop event (SIGTERM, Ctrl-C) and the progress callback.

    Raises:
        ConfigError: the token key, the SMTP password or the DKIM key is missing or unusable.
        SendError: the SMTP server cannot be reached at all, or refuses the login.
    """
    controls = controls or Controls()
    key = key or token_key(config, environ)
    password = environ.get(config.smtp.password_env, "")
    if config.smtp.username and not password and not dry_run:
        raise ConfigError(f"[smtp] username is set but ${config.smtp.password_env} is empty; "
                          "export the SMTP password in that variable")
    smtp = config.smtp
    if smtp.tls_ca_file:
        smtp = dataclasses.replace(smtp, tls_ca_file=str(config.resolve(smtp.tls_ca_file)))
    sending = _Sending(dataclasses.replace(config, smtp=smtp), key, password,
                       dkim_signer(config), controls, dry_run)
    database = config.database_path
    # Two connections: the SMTP workers record answers through `ledger` while this thread
    # reads the lists and variants through `store`.
    with hold_lock(database), Store.open(database) as store, Store.open(database) as ledger:
        fetch(config, store, now)
        if edition_id and edition_id.startswith("weekly-"):
            return _send_edition(sending, store, ledger, now, edition_id, "weekly", to)
        daily = _send_edition(sending, store, ledger, now,
                              edition_id or edition_id_for(config, now), "daily", to)
        if edition_id or to or not weekly_due(now, ZoneInfo(config.schedule.timezone),
                                              config.subscribers.weekly_day):
            return daily
        if next(subscribers(config, store, "weekly"), None) is None:
            return daily  # no weekly readers: build no weekly edition
        if controls.stop.is_set():
            return daily
        weekly = _send_edition(sending, store, ledger, now,
                               edition_id_for(config, now, "weekly"), "weekly", None)
        return dataclasses.replace(daily, weekly=weekly)


@dataclass(frozen=True)
class _Sending:
    """What every edition of one `send` shares."""

    config: Config
    key: bytes
    password: str
    signer: DkimSigner | None
    controls: Controls
    dry_run: bool


def _send_edition(
    sending: _Sending, store: Store, ledger: Store, now: datetime, edition_id: str,
    frequency: Frequency, to: str | None,
) -> SendSummary:
    """Build (or reload) one edition and send each of its subscribers their variant."""
    config, key, dry_run = sending.config, sending.key, sending.dry_run
    rendered = store.edition(edition_id)
    edition = None
    if rendered is None:
        # A weekly ranks the last seven days' stories, whether or not a daily carried them.
        week = store.weekly_stories(now - timedelta(days=7), now) if frequency == "weekly" \
            else None
        edition = build_edition(config, store, now, edition_id, week)
        count = len(edition.clusters)
        if count < config.ranking.min_stories:
            note = (f"only {count} new stories (fewer than ranking.min_stories = "
                    f"{config.ranking.min_stories}); no edition sent")
            log.info("%s: %s", edition_id, note)
            return SendSummary(edition_id, stories=count, note=note)
        fitted = render_fitted(config, edition)
        rendered, edition = fitted.rendered, fitted.edition
        if not (dry_run or to):
            # Only what was rendered counts as sent: stories cut for size stay unsent.
            store.save_edition(rendered, now, edition.stories)
            write_archive(config, rendered, sender_for(config, key))
    sender = sender_for(config, key)
    clock = sending.controls.clock
    prepared: dict[int, tuple[Rendered, PreparedMessage]] = {}  # encoded once per variant

    def message_for(variant: Rendered) -> PreparedMessage:
        if id(variant) not in prepared:  # the Rendered is kept, so its id stays its own
            prepared[id(variant)] = (variant, PreparedMessage(variant, sender, clock(),
                                                              sending.signer))
        return prepared[id(variant)][1]

    if to:
        test = send_test(Subscriber(email=normalize_address(to)), message_for(rendered),
                         config.smtp, sending.password, sender.address, edition_id,
                         sending.controls)
        return SendSummary(edition_id, {"sent": test.sent, "deferred": test.deferred,
                                        "failed": test.failed, "unknown": test.unknown},
                           progress=test)
    variants = VariantRenders(
        rendered, edition, lambda e: render(config, e),
        lambda v: store.variant(edition_id, v),
        (lambda v, r: None) if dry_run else store.save_variant)

    def readers() -> Iterator[Subscriber]:
        # Subscribers whose topics have no news in this edition get nothing (no ledger row).
        return (s for s in subscribers(config, store, frequency)
                if variants.for_subscriber(s) is not None)

    def variant_message(subscriber: Subscriber) -> PreparedMessage:
        return message_for(variants.for_subscriber(subscriber) or rendered)

    if dry_run:
        built = sum(len(variant_message(s).wire(s)) > 0 for s in readers())
        return SendSummary(edition_id, {"skipped": built},
                           note=f"dry run: {built} messages built, none sent")
    progress = send_edition(ledger, edition_id, readers, variant_message, config.smtp,
                            sending.password, sender.address, sending.controls)
    return SendSummary(edition_id, ledger.delivery_counts(edition_id), progress=progress,
                       next_try=ledger.next_try(edition_id))


def write_archive(config: Config, rendered: Rendered, sender: Sender) -> Path:
    """Write the edition's "view in browser" page under the state folder."""
    archive = config.database_path.parent / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / f"{archive_name(rendered.edition_id)}.html"
    path.write_text(archive_page(rendered, sender.base_url), encoding="utf-8")
    return path


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path
    stories: int


def preview(
    config: Config,
    now: datetime,
    out: Path,
    environ: Mapping[str, str],
    to: str | None = None,
    edition_id: str | None = None,
) -> PreviewFiles:
    """Write preview.html, preview.txt and preview.eml without sending anything.

    With `edition_id` of a stored edition, that edition as it was sent; otherwise the next
    edition, built from the stories fetched now.
    """
    key = environ.get(config.newsletter.secret_env, "").encode() or PREVIEW_KEY
    database = config.database_path
    with hold_lock(database), Store.open(database) as store:
        rendered = store.edition(edition_id) if edition_id else None
        stories = len(store.edition_story_keys(edition_id)) if rendered and edition_id else 0
        edition: Edition | None = None
        if rendered is None:
            fetch(config, store, now)
            edition_id = edition_id or edition_id_for(config, now)
            fitted = render_fitted(config, build_edition(config, store, now, edition_id))
            rendered, edition = fitted.rendered, fitted.edition
            stories = len(edition.clusters)
        recipient = Subscriber(email="preview@example.com", name="Preview")
        if to:
            address = normalize_address(to)
            listed = next((s for s in subscribers(config, store)
                           if s.email.lower() == address.lower()), None)
            if listed is None:
                log.warning("preview: %s is not an active subscriber of any list; showing the "
                            "edition as a new subscriber with that address would get it",
                            address)
            recipient = listed or Subscriber(email=address)
            # The subscriber's own variant (their topics), as `send` would pick it.
            stored_id = rendered.edition_id
            variant = VariantRenders(rendered, edition, lambda e: render(config, e),
                                     lambda v: store.variant(stored_id, v),
                                     lambda v, r: None).for_subscriber(recipient)
            if variant is None:
                log.warning("preview: none of %s's topics (%s) has news in this edition; "
                            "send would skip them. Showing the whole edition",
                            address, ", ".join(recipient.topics))
            rendered = variant or rendered
    message = build_message(rendered, recipient, sender_for(config, key), now)
    out.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(out / "preview.html", out / "preview.txt", out / "preview.eml", stories)
    html_body = message.get_body(("html",))
    text_body = message.get_body(("plain",))
    assert isinstance(html_body, EmailMessage) and isinstance(text_body, EmailMessage)
    files.html.write_text(html_body.get_content(), encoding="utf-8")
    files.text.write_text(text_body.get_content(), encoding="utf-8")
    files.eml.write_bytes(bytes(message))
    return files


@dataclass(frozen=True)
class DemoResult:
    delivered: int
    subscribers: int
    maildir: Path
    preview: Path
    summary: SendSummary


DEMO_KEY = b"digest-demo-key: not a secret, demo links only"


def demo(config: Config, directory: Path, environ: Mapping[str, str]) -> DemoResult:
    """The whole pipeline on the config's feeds into an in-process sink, all under `directory`.

    The edition is built as of one hour after the newest story, so sample feeds from any day
    make a full edition.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    maildir = directory / "maildir"
    with running_sink(maildir) as (handler, port):
        demo_config = dataclasses.replace(
            config,
            state=dataclasses.replace(config.state, database=str(directory / "state.sqlite3")),
            smtp=dataclasses.replace(config.smtp, host="127.0.0.1", port=port, security="none",
                                     username=""),
        )
        fetched_at = datetime.now().astimezone()
        with Store.open(demo_config.database_path) as store:
            fetch(demo_config, store, fetched_at)
            newest = store.newest_published()
        now = (newest or fetched_at) + timedelta(hours=1)
        summary = send(demo_config, now, environ, key=DEMO_KEY)
        files = preview(demo_config, now, directory, environ, edition_id=summary.edition)
        with Store.open(demo_config.database_path) as store:
            listed = sum(1 for _ in subscribers(demo_config, store))
        return DemoResult(handler.count, listed, maildir, files.html, summary)
