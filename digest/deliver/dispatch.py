"""Dispatch: send one edition, or one test message, through the delivery loop.

In: the ledger, the edition, a fresh stream of the active subscribers, the prepared message
of each subscriber's variant, the SMTP settings and the caller's controls (clock, stop,
progress callback). Out: the ledger's rows added, moved and closed, and this run's `Progress`.
The loop itself, and what an answer does to a row, is `digest/delivery.py`'s; this module
decides who is due (the rows first, then the stream read again to send) and closes the rows
of addresses that left the lists meanwhile. `dkim_signer` reads `[dkim]` for the messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from digest.config import Config, SmtpConfig
from digest.deliver.delivery import Clock, Ledger, Progress, deliver
from digest.deliver.message import DkimSigner
from digest.deliver.send import EnvelopeFrom, Outgoing
from digest.errors import ConfigError
from digest.model import Delivery, Subscriber

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Controls:
    """What the caller steers a send with: the clock, a stop event, a progress callback."""

    clock: Clock = field(default=lambda: datetime.now(UTC))
    stop: threading.Event = field(default_factory=threading.Event)
    report: Callable[[Progress], None] = field(default=lambda p: None)


class EditionLedger(Ledger, Protocol):
    """The ledger methods a whole edition's run needs (`digest.store.Store` has them)."""

    def add_pending(self, edition_id: str, emails: Iterable[str], now: datetime) -> None: ...

    def due_addresses(self, edition_id: str, now: datetime) -> set[str]: ...

    def skip_deliveries(self, edition_id: str, emails: Iterable[str], now: datetime) -> int: ...

    def checkpoints_aside(self) -> AbstractContextManager[None]: ...


def send_edition(
    ledger: EditionLedger,
    edition_id: str,
    subscribers: Callable[[], Iterable[Subscriber]],
    message_for: Callable[[Subscriber], Outgoing],
    settings: SmtpConfig,
    password: str,
    envelope_from: EnvelopeFrom,
    controls: Controls,
    *,
    add_new: bool = True,
) -> Progress:
    """Continue (or start) an edition: send to every active subscriber the ledger shows due.

    Args:
        ledger: the state database.
        edition_id: the edition.
        subscribers: a fresh stream of the active subscribers on each call (read twice: once
            to add the ledger rows, once to send).
        message_for: the prepared message of the subscriber's variant.
        settings, password, envelope_from: for the SMTP server.
        controls: clock, stop event, progress callback.
        add_new: give subscribers with no row for the edition one (False when only retrying
            what an earlier run left: an old edition is not sent to who joined since).
    Returns:
        This run's counts.
    Raises:
        SendError: the server could not be reached at all, or refused the login.
    """
    if add_new:
        ledger.add_pending(edition_id, (s.email for s in subscribers()), controls.clock())
    due = ledger.due_addresses(edition_id, controls.clock())
    progress = Progress(total=len(due))
    read_all = threading.Event()

    def jobs() -> Iterator[tuple[Subscriber, Outgoing]]:
        for subscriber in subscribers():
            if subscriber.email in due:
                due.discard(subscriber.email)
                yield subscriber, message_for(subscriber)
        read_all.set()

    with ledger.checkpoints_aside():  # no commit waits for a checkpoint's fsyncs
        deliver(jobs(), ledger, settings, password, envelope_from, edition_id, progress,
                clock=controls.clock, stop=controls.stop, report=controls.report)
    if read_all.is_set() and due:  # rows of addresses that left the lists since (or were
        # suppressed): written now that no worker shares the ledger's connection
        closed = ledger.skip_deliveries(edition_id, sorted(due), controls.clock())
        log.info("%d addresses are no longer subscribed: skipped", closed)
    return progress


class _Unrecorded:
    """The ledger of a test send (`digest send --to`): it records nothing."""

    def record_deliveries(self, rows: Iterable[tuple[Delivery, datetime | None]],
                          now: datetime) -> None:
        pass

    def suppress(self, email: str, reason: str, now: datetime) -> bool:
        return False


def send_test(
    subscriber: Subscriber, message: Outgoing, settings: SmtpConfig, password: str,
    envelope_from: EnvelopeFrom, edition_id: str, controls: Controls,
) -> Progress:
    """Send one message as a test, recording nothing (`digest send --to ADDR`).

    Raises:
        SendError: the server could not be reached, or refused the login.
    """
    quick = replace(settings, connections=1, retry_backoff_seconds=[])
    return deliver([(subscriber, message)], _Unrecorded(), quick, password, envelope_from,
                   edition_id, Progress(total=1), clock=controls.clock, stop=controls.stop)


def dkim_signer(config: Config) -> DkimSigner | None:
    """The DKIM signer `[dkim]` asks for, checked by signing once; None when it is off.

    Raises:
        ConfigError: the key file cannot be read or cannot sign.
    """
    if not config.dkim.key_file:
        return None
    path = config.resolve(config.dkim.key_file)
    try:
        signer = DkimSigner(config.dkim.selector, config.dkim.domain, path.read_bytes())
        signer.sign(b"From: a@b.example\r\nSubject: t\r\n\r\ncheck\r\n")
    except Exception as e:  # dkimpy raises its own errors and ValueError for a bad key
        raise ConfigError(f"{config.path}: dkim.key_file: {path} cannot sign ({e}); give a "
                          "PEM RSA private key") from e
    return signer
