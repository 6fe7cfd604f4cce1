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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from digest.audience.signup import WEB_LIST
from digest.audience.subscribers import LoadStats, load_subscribers, normalize_address
from digest.bounces.verp import envelope_sender, verp_key
from digest.config import Config
from digest.deliver.delivery import Progress
from digest.deliver.dispatch import Controls, dkim_signer, send_edition, send_test
from digest.deliver.message import DkimSigner, PreparedMessage, Sender
from digest.deliver.send import EnvelopeFrom
from digest.errors import ConfigError
from digest.model import DatabaseUrl, Frequency, Rendered, Subscriber
from digest.pipeline.editions import (
    build_edition,
    edition_id_for,
    render,
    render_fitted,
    write_archive,
)
from digest.pipeline.ingest import FeedReport, FetchSummary, fetch, parse_workers
from digest.pipeline.variants import prepare_variants
from digest.render.variants import weekly_due, with_preferences
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
    retried: tuple[SendSummary, ...] = ()  # earlier editions' deferrals retried first
    bad_rows: int = 0  # subscriber rows skipped (each warned once in the run)

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def left(self) -> int:
        """Deliveries not confirmed: sent to by the next run."""
        return sum(self.count(s) for s in LEFT)

    @property
    def ok(self) -> bool:
        stopped = self.progress is not None and (self.progress.stopped or self.progress.error)
        return (not (self.left or self.count("failed") or stopped or self.bad_rows)
                and (self.weekly is None or self.weekly.ok))


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
    config: Config, store: Store, frequency: Frequency | None = None, *,
    stats: LoadStats | None = None, quiet: bool = False,
) -> Iterator[Subscriber]:
    """Every active subscriber: in a list, not suppressed, with their own saved preferences.

    Args:
        frequency: only the subscribers who get this frequency; None for all.
        stats: counts the rows read and skipped, when given.
        quiet: bad rows only at debug level (a run warns about them on one read only).
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
    for listed in load_subscribers(config.subscriber_lists, blocked, topics, stats, quiet):
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
    rows of the ledger only. First, the deferred deliveries of earlier editions that are due
    again are retried (see `retry_deferred`). `to` sends the edition to one address as a
    test, recording nothing; `dry_run` builds every message but connects to no server.
    `controls` carries the wall clock, the stop event (SIGTERM, Ctrl-C) and the progress
    callback.

    Raises:
        ConfigError: the token key, the SMTP password or the DKIM key is missing or unusable.
        SendError: the SMTP server cannot be reached at all, or refuses the login.
    """
    if isinstance(config.database_path, DatabaseUrl) and not (dry_run or to):
        # Shared state: the edition is made once, then sent by this and any other worker.
        return send_shared(config, now, environ, edition_id, controls or Controls())
    sending = _sending(config, environ, key, controls, dry_run)
    config, controls = sending.config, sending.controls
    database = config.database_path
    # Two connections: the SMTP workers record answers through `ledger` while this thread
    # reads the lists and variants through `store`.
    with hold_lock(database), Store.open(database) as store, Store.open(database) as ledger:
        fetch(config, store, now)
        # The lists are read several times in a run: once here with their bad rows warned
        # and counted (for the summary), quietly after.
        rows = LoadStats()
        weekly_readers = 0 if to else sum(s.frequency == "weekly"
                                          for s in subscribers(config, store, stats=rows))
        target = edition_id or edition_id_for(config, now)
        retried = () if (dry_run or to) else _retry(sending, store, ledger, skip=target)
        if edition_id and edition_id.startswith("weekly-"):
            weekly_only = _send_edition(sending, store, ledger, now, edition_id, "weekly", to)
            return dataclasses.replace(weekly_only, retried=retried, bad_rows=rows.skipped)
        daily = dataclasses.replace(
            _send_edition(sending, store, ledger, now, target, "daily", to), retried=retried,
            bad_rows=rows.skipped)
        if edition_id or to or not weekly_due(now, ZoneInfo(config.schedule.timezone),
                                              config.subscribers.weekly_day):
            return daily
        if not weekly_readers:
            return daily  # no weekly readers: build no weekly edition
        if controls.stop.is_set():
            return daily
        weekly = _send_edition(sending, store, ledger, now,
                               edition_id_for(config, now, "weekly"), "weekly", None)
        return dataclasses.replace(daily, weekly=weekly)


def retry_deferred(
    config: Config,
    environ: Mapping[str, str],
    *,
    key: bytes | None = None,
    controls: Controls | None = None,
) -> tuple[SendSummary, ...]:
    """Retry the deferred deliveries of every edition that are due again, under the lock.

    A deferred delivery first tried more than `[smtp] give_up_after_hours` ago is failed
    with its last reply instead. Only rows already in the ledger are sent: an earlier
    edition is not sent to who joined since.

    Returns:
        One summary per edition retried.
    Raises:
        LockHeld: another run holds the lock.
        ConfigError, SendError: as for `send`.
    """
    sending = _sending(config, environ, key, controls, False)
    database = sending.config.database_path
    if isinstance(database, DatabaseUrl):
        # Shared state: the workers send. Reopening an edition gives its due deferrals a new
        # round of tries there; sending them here too could send one twice.
        with Store.open(database) as store:
            now = sending.controls.clock()
            limit = timedelta(hours=sending.config.smtp.give_up_after_hours)
            for given_up in store.give_up_deferred(now - limit, now):
                log.warning("%s: %s: still deferred %s after its first try: failed (%s)",
                            given_up.edition_id, given_up.email, limit, given_up.reply)
            for edition_id in store.editions_to_retry(now):
                store.open_sending(edition_id, now)
        return ()
    with hold_lock(database), Store.open(database) as store, Store.open(database) as ledger:
        return _retry(sending, store, ledger)


def _sending(config: Config, environ: Mapping[str, str], key: bytes | None,
             controls: Controls | None, dry_run: bool) -> _Sending:
    """What every edition of one run shares; checks the secrets first.

    Raises:
        ConfigError: the token key, the SMTP password or the DKIM key is missing or unusable.
    """
    key = key or token_key(config, environ)
    password = environ.get(config.smtp.password_env, "")
    if config.smtp.username and not password and not dry_run:
        raise ConfigError(f"[smtp] username is set but ${config.smtp.password_env} is empty; "
                          "export the SMTP password in that variable")
    smtp = config.smtp
    if smtp.tls_ca_file:
        smtp = dataclasses.replace(smtp, tls_ca_file=str(config.resolve(smtp.tls_ca_file)))
    return _Sending(dataclasses.replace(config, smtp=smtp), key, password,
                    dkim_signer(config), controls or Controls(), dry_run)


def _retry(sending: _Sending, store: Store, ledger: Store,
           skip: str = "") -> tuple[SendSummary, ...]:
    """Give up the deferrals past `give_up_after_hours`; retry those due in each edition."""
    clock = sending.controls.clock
    now = clock()
    limit = timedelta(hours=sending.config.smtp.give_up_after_hours)
    for given_up in ledger.give_up_deferred(now - limit, now):
        log.warning("%s: %s: still deferred %s after its first try: failed (%s)",
                    given_up.edition_id, given_up.email, limit, given_up.reply)
    summaries = []
    for edition_id in ledger.editions_to_retry(now):
        if edition_id == skip or sending.controls.stop.is_set():
            continue  # the edition this run continues anyway
        frequency: Frequency = "weekly" if edition_id.startswith("weekly-") else "daily"
        summaries.append(_send_edition(sending, store, ledger, clock(), edition_id, frequency,
                                       None, retrying=True))
    return tuple(summaries)


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
    frequency: Frequency, to: str | None, *, retrying: bool = False,
) -> SendSummary:
    """Build (or reload) one edition and send each of its readers their stored variant.

    `retrying`: only continue the rows the ledger has for a stored edition (never build it).
    """
    config, key, dry_run = sending.config, sending.key, sending.dry_run
    rendered = store.edition(edition_id)
    content = store.edition_content(edition_id) if rendered is not None else None
    if rendered is None:
        if retrying:
            return SendSummary(edition_id, note="no such edition stored")
        # A weekly ranks the last seven days' stories, whether or not a daily carried them.
        week = store.weekly_stories(now - timedelta(days=7), now) if frequency == "weekly" \
            else None
        built = build_edition(config, store, now, edition_id, week)
        count = len(built.clusters)
        if count < config.ranking.min_stories:
            note = (f"only {count} new stories (fewer than ranking.min_stories = "
                    f"{config.ranking.min_stories}); no edition sent")
            log.info("%s: %s", edition_id, note)
            return SendSummary(edition_id, stories=count, note=note)
        fitted = render_fitted(config, built)
        rendered, content = fitted.rendered, fitted.edition
        if not (dry_run or to):
            # Only what was rendered counts as sent: stories cut for size stay unsent. The
            # edition's contents are kept with it: every variant of it is built from them.
            store.save_edition(rendered, now, content.stories, content)
            write_archive(config, rendered, sender_for(config, key), content)
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
    # Every variant this edition's readers need is stored before the first message goes out;
    # the sending below only looks them up.
    variants = prepare_variants(store, rendered, content,
                                subscribers(config, store, frequency, quiet=True),
                                lambda e: render(config, e), keep=not dry_run)

    def readers() -> Iterator[Subscriber]:
        # Readers whose topics have no story in this edition get nothing (no ledger row).
        return (s for s in subscribers(config, store, frequency, quiet=True)
                if variants.for_subscriber(s) is not None)

    def variant_message(subscriber: Subscriber) -> PreparedMessage:
        variant = variants.for_subscriber(subscriber)
        assert variant is not None, "readers() yields only readers with a stored variant"
        return message_for(variant)

    if dry_run:  # who a real run would send to: readers with no row yet, and rows due
        rows = store.delivery_status(edition_id)
        due = store.due_addresses(edition_id, clock())
        built_count = sum(len(variant_message(s).wire(s)) > 0 for s in readers()
                          if s.email not in rows or s.email in due)
        note = (f"dry run: {built_count} messages built, none sent" if built_count else
                "dry run: every reader of this edition has had it")
        return SendSummary(edition_id, {"skipped": built_count}, note=note)
    progress = send_edition(ledger, edition_id, readers, variant_message, config.smtp,
                            sending.password, envelope_from(config, key, edition_id, sender),
                            sending.controls, add_new=not retrying)
    return SendSummary(edition_id, ledger.delivery_counts(edition_id), progress=progress,
                       next_try=ledger.next_try(edition_id))


# Last, because the rehearsals are built from the functions above.
from digest.pipeline.rehearse import DemoResult, PreviewFiles, demo, preview  # noqa: E402
from digest.pipeline.workers import send_shared, work  # noqa: E402

__all__ = [
    "DemoResult", "FeedReport", "FetchSummary", "PreviewFiles", "SendSummary", "Store",
    "build_edition", "demo", "edition_id_for", "fetch", "parse_workers", "preview", "render",
    "render_fitted", "retry_deferred", "send", "sender_for", "subscribers", "token_key",
    "work",
    "write_archive",
]
