"""Orchestrate shared sending: an edition created once, then sent by any number of workers on
any number of machines that share one PostgreSQL state database.

`create_sending` builds, renders (each variant once) and stores the edition, and adds one
ledger row per reader naming the render they get, under the edition's advisory lock, so two
machines starting the same slot make one edition. `work` claims rows in batches under a
lease, builds each message from the stored renders, and records every answer through the
delivery loop, as `digest send` does on one machine. Limits are shared: the rate limit is a
budget in the database; `[smtp] connections` is per worker.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from digest.config import Config, SmtpConfig
from digest.deliver.delivery import Clock, Progress, deliver
from digest.deliver.dispatch import Controls, dkim_signer
from digest.deliver.message import PreparedMessage
from digest.errors import ConfigError, StoreError
from digest.model import Delivery, Frequency, Rendered, Subscriber
from digest.pipeline import (
    SendSummary,
    build_edition,
    edition_id_for,
    envelope_from,
    fetch,
    render,
    render_fitted,
    sender_for,
    subscribers,
    token_key,
    write_archive,
)
from digest.pipeline.upkeep import Counts, Heartbeat, SharedRate, linked_stop
from digest.pipeline.variants import prepare_variants
from digest.render.variants import variant_key, weekly_due
from digest.store import Store
from digest.store.backend import identity

log = logging.getLogger(__name__)


def send_shared(config: Config, now: datetime, environ: Mapping[str, str],
                edition_id: str | None, controls: Controls) -> SendSummary:
    """`digest send` on a shared database: create the edition (once, whoever comes first),
    then send it as one more worker until nothing of it is left for any worker.

    Raises:
        ConfigError: the token key or the SMTP password is missing.
        StoreError: the database cannot be reached.
    """
    key = token_key(config, environ)
    location = config.database_path
    eid = edition_id or edition_id_for(config, now)
    with Store.open(location, f"digest send {identity()}") as store:
        fetch(config, store, now)
        frequency: Frequency = "weekly" if eid.startswith("weekly-") else "daily"
        note, stories = create_sending(config, store, key, now, eid, frequency, controls.clock)
        editions = [] if note else [eid]
        weekly = edition_id_for(config, now, "weekly")
        if (not edition_id and weekly_due(now, ZoneInfo(config.schedule.timezone),
                                          config.subscribers.weekly_day)
                and next(subscribers(config, store, "weekly"), None) is not None
                and not create_sending(config, store, key, now, weekly, "weekly",
                                       controls.clock)[0]):
            editions.append(weekly)
    if not editions:
        return SendSummary(eid, stories=stories, note=note)
    progress = work(config, environ, controls, editions=editions, key=key)
    with Store.open(location) as store:
        summaries = [SendSummary(e, store.delivery_counts(e), progress=progress,
                                 next_try=store.next_try(e)) for e in editions]
    if eid not in editions:
        return dataclasses.replace(summaries[0], note=note)
    return dataclasses.replace(summaries[0], weekly=summaries[1] if len(summaries) > 1 else None)


def create_sending(config: Config, store: Store, key: bytes, now: datetime, edition_id: str,
                   frequency: Frequency, clock: Clock | None = None) -> tuple[str, int]:
    """Build and store the edition if no process has, add a ledger row per reader, and open
    it to the workers.

    Args:
        now: the moment the edition is built as of (`--now`).
        clock: the wall clock, for the ledger's times (as the workers write them); `now`
            when not given.
    Returns:
        (why nothing is sent, or "", the number of stories).
    """
    with store.edition_lock(edition_id):
        rendered = store.edition(edition_id)
        content = store.edition_content(edition_id) if rendered is not None else None
        if rendered is None:
            week = (store.weekly_stories(now - timedelta(days=7), now)
                    if frequency == "weekly" else None)
            built = build_edition(config, store, now, edition_id, week)
            if len(built.clusters) < config.ranking.min_stories:
                note = (f"only {len(built.clusters)} new stories (fewer than "
                        f"ranking.min_stories = {config.ranking.min_stories}); no edition sent")
                log.info("%s: %s", edition_id, note)
                return note, len(built.clusters)
            fitted = render_fitted(config, built)
            rendered, content = fitted.rendered, fitted.edition
            store.save_edition(rendered, now, content.stories, content)
            write_archive(config, rendered, sender_for(config, key), content)
        # Every variant the readers need is stored now, by this process, once; the workers
        # only look the renders up.
        variants = prepare_variants(store, rendered, content,
                                    subscribers(config, store, frequency, quiet=True),
                                    lambda e: render(config, e), keep=True)
        listed: set[str] = set()

        def readers() -> Iterator[tuple[str, str, str, str]]:
            for s in subscribers(config, store, frequency, quiet=True):
                if variants.for_subscriber(s) is not None:  # else no story for them: no row
                    listed.add(s.email)
                    yield s.email, s.name, s.list_name, variant_key(s.topics)

        at = clock() if clock else now
        store.add_readers(edition_id, readers(), at)
        gone = store.due_addresses(edition_id, at) - listed
        if gone:  # left the lists (or were suppressed) since the edition began
            store.skip_deliveries(edition_id, sorted(gone), at)
        store.open_sending(edition_id, at)
    return "", len(content.clusters) if content else 0


def work(config: Config, environ: Mapping[str, str], controls: Controls, *,
         editions: Iterable[str] | None = None, once: bool = True,
         key: bytes | None = None) -> Progress:
    """Send pending deliveries of the editions being sent, as one worker among any number.

    Args:
        editions: only these editions; None for every one being sent.
        once: return when nothing is left for any worker (rows held by a dead worker are
            waited for until its lease runs out); False: keep waiting for new editions until
            `controls.stop` is set.
    Returns:
        This worker's counts.
    Raises:
        ConfigError: the token key or the SMTP password is missing, or DKIM cannot sign.
        StoreError: the database went away (a long-running worker retries instead).
    """
    key = key or token_key(config, environ)
    password = environ.get(config.smtp.password_env, "")
    if config.smtp.username and not password:
        raise ConfigError(f"[smtp] username is set but ${config.smtp.password_env} is empty; "
                          "export the SMTP password in that variable")
    smtp = config.smtp
    if smtp.tls_ca_file:
        smtp = dataclasses.replace(smtp, tls_ca_file=str(config.resolve(smtp.tls_ca_file)))
    job = _Job(config, smtp, key, password, controls, None if editions is None
               else set(editions))
    progress = Progress(total=0)
    wait = 1.0
    while not controls.stop.is_set():
        try:
            job.run(progress, once)
            return progress
        except StoreError as e:
            if once:
                raise
            log.warning("the state database failed (%s); trying again in %.0f s", e, wait)
            controls.stop.wait(wait)
            wait = min(wait * 2, 60.0)
    progress.stopped = True
    return progress


class _Job:
    """One worker's life: its connections, heartbeat, claims and sending."""

    def __init__(self, config: Config, smtp: SmtpConfig, key: bytes, password: str,
                 controls: Controls, editions: set[str] | None) -> None:
        self.config = config
        # Deferrals wait in the ledger (for whichever worker is up then), not in this
        # process; the rate limit is paced by `_SharedRate` on PostgreSQL.
        self.smtp = dataclasses.replace(smtp, retry_backoff_seconds=[], rate_per_second=0.0)
        self.waits = [float(w) for w in config.smtp.retry_backoff_seconds]
        self.key = key
        self.sender = sender_for(config, key)
        self.signer = dkim_signer(config)
        self.password = password
        self.controls = controls
        self.editions = editions
        self.id = identity()
        self.lease = timedelta(seconds=config.smtp.lease_seconds)
        self.counts = Counts()

    def run(self, progress: Progress, once: bool) -> None:
        location = self.config.database_path
        clock, stop = self.controls.clock, self.controls.stop
        started = clock()
        with Store.open(location, f"digest worker {self.id}") as store, \
                Store.open(location, f"digest worker {self.id} ledger") as ledger, \
                Heartbeat(location, self.id, self.lease, self.counts, clock, started):
            # Rows this worker held when its database connection broke: nothing of them is
            # in flight any more, so they are free again (for it or another) at once.
            store.release_claims(self.id)
            try:
                while not stop.is_set():
                    ids = [e for e in store.open_sendings()
                           if self.editions is None or e in self.editions]
                    claimed = sum(self._edition(store, ledger, e, progress) for e in ids)
                    for e in ids:
                        store.close_sending_if_done(e, len(self.waits), clock())
                    if claimed:
                        continue
                    if once and not any(store.unfinished(e, clock(), len(self.waits))
                                        for e in ids):
                        return
                    # Others hold the rest (or a dead worker does, until its lease ends), or
                    # there is nothing to send: look again soon, a query is cheap.
                    stop.wait(min(0.25, self.lease.total_seconds() / 4))
                progress.stopped = True
            finally:
                store.release_claims(self.id)

    def _edition(self, store: Store, ledger: Store, edition_id: str,
                 progress: Progress) -> int:
        base = store.edition(edition_id)
        if base is None:
            return 0
        with linked_stop(self.controls.stop) as stop:
            return self._send(store, ledger, edition_id, base, progress, stop)

    def _send(self, store: Store, ledger: Store, edition_id: str, base: Rendered,
              progress: Progress, stop: threading.Event) -> int:
        clock = self.controls.clock
        messages: dict[str, PreparedMessage] = {}
        suppressed = store.suppressed()
        attempts: dict[str, int] = {}
        claimed = 0

        def message(variant: str) -> PreparedMessage:
            if variant not in messages:
                rendered = (store.variant(edition_id, variant) if variant else None) or base
                messages[variant] = PreparedMessage(rendered, self.sender, clock(),
                                                    self.signer)
            return messages[variant]

        def jobs() -> Iterator[tuple[Subscriber, PreparedMessage]]:
            nonlocal claimed
            while not stop.is_set():
                now = clock()
                batch = store.claim(edition_id, self.id, self.config.smtp.claim_batch, now,
                                    now + self.lease, len(self.waits))
                if not batch:
                    return
                claimed += len(batch)
                self.counts.claimed += len(batch)
                progress.total += len(batch)
                gone = [r.email for r in batch if r.email in suppressed]
                if gone:
                    store.skip_deliveries(edition_id, gone, now)
                for r in batch:
                    if r.email not in suppressed:
                        attempts[r.email] = r.attempts
                        yield (Subscriber(r.email, r.name, list_name=r.list_name),
                               message(r.variant))

        rate = self.config.smtp.rate_per_second
        pace = SharedRate(store, rate, stop) if rate and store.backend == "postgresql" else None
        settings = self.smtp if pace else dataclasses.replace(self.smtp, rate_per_second=rate)
        deliver(jobs(), _ClaimedLedger(ledger, self.waits, attempts, self.counts), settings,
                self.password, envelope_from(self.config, self.key, edition_id, self.sender),
                edition_id, progress, clock=clock,
                stop=stop, report=self.controls.report, pace=pace)
        return claimed


class _ClaimedLedger:
    """The delivery loop's ledger for claimed rows: each answer releases its row's claim, and
    a deferral waits in the ledger (for whichever worker is up then), its wait growing with
    the row's tries as `retry_backoff_seconds` says."""

    def __init__(self, store: Store, waits: list[float], attempts: dict[str, int],
                 counts: Counts) -> None:
        self._store = store
        self._waits = waits
        self._attempts = attempts
        self._counts = counts

    def record_deliveries(self, rows: Iterable[tuple[Delivery, datetime | None]],
                          now: datetime) -> None:
        written = []
        for delivery, next_try in rows:
            # answered: forgotten here, so a worker's memory does not grow with the list
            tries = self._attempts.pop(delivery.email, 0)
            if delivery.status == "deferred" and self._waits:
                wait = self._waits[min(tries, len(self._waits) - 1)]
                next_try = now + timedelta(seconds=wait)
            written.append((delivery, next_try))
        self._store.record_claimed(written, now)
        self._counts.sent += sum(d.status == "sent" for d, _ in written)

    def suppress(self, email: str, reason: str, now: datetime) -> bool:
        return self._store.suppress(email, reason, now)
