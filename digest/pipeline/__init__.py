"""Orchestrate: the one place that knows the order of the stages (a package split by noun:
`ingest` for fetch → parse → store, `rehearse` for preview and demo, the editions and
sending here).

config → fetch → parse → store → rank → render → address → send → ledger. Every function
here takes what it needs as arguments (the config, the clock, the environment) and returns a
plain summary for the CLI to print.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.audience.signup import WEB_LIST
from digest.audience.subscribers import load_subscribers, normalize_address
from digest.bounces.verp import envelope_sender, verp_key
from digest.config import Config
from digest.deliver.delivery import Progress
from digest.deliver.dispatch import Controls, dkim_signer, send_edition, send_test
from digest.deliver.message import DkimSigner, PreparedMessage, Sender
from digest.deliver.send import EnvelopeFrom
from digest.errors import ConfigError
from digest.model import (
    DatabaseUrl,
    Edition,
    Frequency,
    Rendered,
    Story,
    Subscriber,
)
from digest.pipeline.ingest import FeedReport, FetchSummary, fetch, parse_workers
from digest.rank.score import rank
from digest.render.budget import Fitted, render_within_budget
from digest.render.edition import archive_name, archive_page
from digest.render.variants import VariantRenders, weekly_due, with_preferences
from digest.store import Store
from digest.store.ledger import LEFT
from digest.store.lock import hold_lock

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SendSummary:
    edition: str
    counts: Mapping[str, int] = field(default_factory=dict)
    stories: int = 0
    note: str = ""  # why nothing was sent, when nothing was
    weekly: SendSummary | None = None  # the weekly edition sent in the same run, if due
    progress: Progress | None = None  # this run's own counts, stop and error
    next_try: datetime | None = None  # when the first deferred delivery is due again

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def left(self) -> int:
        """Deliveries not confirmed: sent to by the next run."""
        return sum(self.count(s) for s in LEFT)

    @property
    def ok(self) -> bool:
        stopped = self.progress is not None and (self.progress.stopped or self.progress.error)
        return (not (self.left or self.count("failed") or stopped)
                and (self.weekly is None or self.weekly.ok))


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


def envelope_from(config: Config, key: bytes, edition_id: str, sender: Sender) -> EnvelopeFrom:
    """Each message's MAIL FROM: `bounces+TOKEN@...` per delivery with `[bounces] address`
    set, so every bounce names its delivery; else the From address, as it always was."""
    if not config.bounces.address:
        return sender.address
    return envelope_sender(verp_key(key), config.bounces.address, edition_id)


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
    # The database's active readers (confirmed on the web, or imported) first, then the
    # lists' rows; each address once. Pending (unconfirmed) readers never; suppressed and
    # deleted addresses never.
    blocked = store.blocked()
    stored: set[str] = set()
    for row in store.subscriber_rows("active"):
        stored.add(row.email)
        if row.email in blocked:
            continue
        subscriber = with_preferences(row.subscriber(WEB_LIST if row.source == "web"
                                                     else "imported"), preferences, topics)
        if frequency is None or subscriber.frequency == frequency:
            yield subscriber
    for listed in load_subscribers(config.subscriber_lists, blocked, topics):
        if listed.email in stored:
            continue
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
    if isinstance(config.database_path, DatabaseUrl) and not (dry_run or to):
        # Shared state: the edition is made once, then sent by this and any other worker.
        return send_shared(config, now, environ, edition_id, controls)
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
                         config.smtp, sending.password,
                         envelope_from(config, key, edition_id, sender), edition_id,
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
                            sending.password, envelope_from(config, key, edition_id, sender),
                            sending.controls)
    return SendSummary(edition_id, ledger.delivery_counts(edition_id), progress=progress,
                       next_try=ledger.next_try(edition_id))


def write_archive(config: Config, rendered: Rendered, sender: Sender) -> Path:
    """Write the edition's "view in browser" page under the state folder."""
    archive = config.state_folder / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / f"{archive_name(rendered.edition_id)}.html"
    path.write_text(archive_page(rendered, sender.base_url), encoding="utf-8")
    return path


# Last, because the rehearsals are built from the functions above.
from digest.pipeline.rehearse import DemoResult, PreviewFiles, demo, preview  # noqa: E402
from digest.pipeline.workers import send_shared, work  # noqa: E402

__all__ = [
    "DemoResult", "FeedReport", "FetchSummary", "PreviewFiles", "SendSummary", "Store",
    "build_edition", "demo", "edition_id_for", "fetch", "parse_workers", "preview", "render",
    "render_fitted", "send", "sender_for", "subscribers", "token_key", "work",
    "write_archive",
]
