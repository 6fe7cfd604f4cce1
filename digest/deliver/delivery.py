"""Deliver: drive the send stage and keep the ledger in step with every server answer.

In: a stream of (subscriber, prepared message) pairs (one prepared message per rendered
variant, so variants plug in by choosing the message per subscriber), the SMTP settings, the
ledger, a clock and a stop event. Out: the ledger rows moved, and a `Progress` of this run.

Each answer is recorded in a worker's thread before the worker that got it takes its next
job, so "sent" is in the database before the next message goes out on that connection; the
answers that arrive while a commit is under way are written together by the next one (group
commit), and no answer waits for another thread to wake up. 4xx answers come back
after the waits of `retry_backoff_seconds`, then stay `deferred` for the next run; 5xx
answers are `failed` and the address is suppressed. When `stop` is set (SIGTERM, Ctrl-C) no
new message starts, the ones in flight finish and are recorded.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from digest.config import SmtpConfig
from digest.deliver.send import Attempt, EnvelopeFrom, Job, Outgoing, Pool
from digest.errors import SendError
from digest.model import Delivery, DeliveryStatus, Subscriber

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# A message that keeps losing its connection before the data went out is given up for this
# run after this many tries (it stays due for the next run).
MAX_DROPS = 3


class Ledger(Protocol):
    """What the loop needs of the store (`digest.store.Store` is one)."""

    def record_deliveries(self, rows: Iterable[tuple[Delivery, datetime | None]],
                          now: datetime) -> None: ...

    def suppress(self, email: str, reason: str, now: datetime) -> bool: ...


@dataclass
class Progress:
    """This run's counts so far, for the progress bar and the log lines."""

    total: int  # messages due when the run began
    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    deferred: int = 0  # temporary failures still waiting at the end (or so far, mid-run)
    failed: int = 0
    unknown: int = 0
    retrying: int = 0
    stopped: bool = False  # SIGTERM / Ctrl-C: in-flight finished, the rest left
    error: str = ""  # why the run ended early, when the server went away

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.unknown + self.deferred

    @property
    def rate(self) -> float:
        """Messages answered per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


def deliver(
    jobs: Iterable[tuple[Subscriber, Outgoing]],
    ledger: Ledger,
    settings: SmtpConfig,
    password: str,
    envelope_from: EnvelopeFrom,
    edition_id: str,
    progress: Progress,
    *,
    clock: Clock,
    stop: threading.Event,
    report: Callable[[Progress], None] = lambda p: None,
    pace: Callable[[], None] | None = None,
) -> Progress:
    """Send every job, recording each answer in the ledger before that connection goes on.

    Args:
        jobs: (subscriber, message) pairs, streamed: never all built at once.
        ledger: where each answer is committed (the state database).
        settings: [smtp]: connections, waits, limits, timeouts.
        password: the SMTP password (from the environment).
        envelope_from: the MAIL FROM address, or the function of the subscriber's address
            that makes it (VERP).
        edition_id: the ledger's edition.
        progress: counts to update (its `total` is what was due).
        clock: the wall clock, for the ledger's times.
        stop: set to stop gracefully.
        report: called after every answer.
        pace: called before each message starts, to wait for its turn under a rate limit
            shared with other processes; None paces to `rate_per_second` in this process.
    Returns:
        `progress`, updated.
    Raises:
        SendError: no connection to the server could be opened at all, or it refused the
            login; nothing was sent.
    """
    loop = _Loop(ledger, settings, edition_id, progress, clock, stop, report)
    if pace is not None:
        loop.pace = pace
    # A thread whose answer has arrived waits for the GIL up to the switch interval (5 ms)
    # while another runs Python code; that wait sits between two messages on a connection.
    # Shorter turns while sending (restored after) keep the connections busy.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    pool = Pool(settings, password, envelope_from, stop, loop.answered)
    try:
        loop.run(iter(jobs), pool)
    finally:
        loop.drain(pool)
        pool.close()
        sys.setswitchinterval(interval)
    if loop.failure is not None:
        raise loop.failure
    if pool.fatal is not None:
        raise pool.fatal
    if pool.errors and not pool.alive:
        progress.error = str(pool.errors[-1])
        if not pool.connected.is_set():
            raise SendError(progress.error)
    return progress


class _Loop:
    """Feeds the pool from the stream and the retry queue; records answers (in the workers'
    threads, one at a time: the ledger's connection is shared)."""

    def __init__(self, ledger: Ledger, settings: SmtpConfig, edition_id: str,
                 progress: Progress, clock: Clock, stop: threading.Event,
                 report: Callable[[Progress], None]) -> None:
        self._ledger = ledger
        self._settings = settings
        self._edition = edition_id
        self._progress = progress
        self._clock = clock
        self._stop = stop
        self._report = report
        # Two locks: `_ledger_lock` serialises the writing of answers (the ledger's
        # connection, the counts); `_changed` guards what the feeding thread reads (in
        # flight, retries), so a slow commit never holds up the feeding of the others.
        self._ledger_lock = threading.Lock()
        # the group commit's queue: answers waiting to be written, numbered in arrival order
        self._queue_lock = threading.Lock()
        self._answers: list[Attempt] = []
        self._queued = 0  # answers ever queued
        self._written = 0  # answers ever committed (or given up on: see `failure`)
        self.failure: BaseException | None = None  # the ledger could not be written
        self._changed = threading.Condition()
        self._in_flight = 0
        self._retries: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._drops: dict[str, int] = {}
        self._next_slot = 0.0
        self.pace: Callable[[], None] = self._pace

    def run(self, stream: Iterator[tuple[Subscriber, Outgoing]], pool: Pool) -> None:
        exhausted = False
        # Jobs queued or being sent, at most: a few per connection waiting in the queue, so a
        # worker that has just been answered takes its next job at once instead of waiting
        # for this thread to be scheduled (that wait halved throughput on a busy machine).
        room = self._settings.connections * 3
        while not self._stop.is_set() and pool.alive and pool.fatal is None:
            with self._changed:
                job = self._due_retry() if self._in_flight < room else None
            if job is None and not exhausted and self._in_flight < room:
                pair = next(stream, None)  # reads and checks the lists: outside the lock
                if pair is None:
                    exhausted = True
                else:
                    job = Job(*pair)
            if job is not None:
                self.pace()
                with self._changed:
                    self._in_flight += 1
                pool.submit(job)
                continue
            with self._changed:
                if exhausted and not self._retries and not self._in_flight:
                    return
                first = self._retries[0][0] - time.monotonic() if self._retries else 0.5
                self._changed.wait(min(max(first, 0.001), 0.5))
        if self._stop.is_set():
            self._progress.stopped = True

    def drain(self, pool: Pool) -> None:
        """Take back what no worker started; wait for the answers in flight (bounded)."""
        taken = pool.cancel()
        bound = time.monotonic() + self._settings.timeout_seconds * 3
        with self._changed:
            self._in_flight -= len(taken)
            while self._in_flight > 0 and time.monotonic() < bound:
                self._changed.wait(0.2)
            # Retries still waiting are already `deferred` in the ledger with their next try.
            self._progress.deferred += sum(1 for _, _, job in self._retries if job.tries)
            self._progress.retrying = 0

    def answered(self, attempt: Attempt) -> bool:
        """Record one answer; returns once it is committed (called in the worker's thread,
        before its next message), False when the ledger failed: the worker must stop.

        Group commit: the answer joins a queue, and whichever worker holds the ledger lock
        writes everything queued in one transaction. A worker that gets the lock and finds its
        answer already committed by another goes straight on. So the answers that arrive
        while a commit is under way share the next one, and no answer waits for a thread of
        its own to be scheduled.

        When the ledger cannot be written, every worker is told to stop and the run stops
        (`deliver` raises the error): nothing more is sent without its answer being kept.
        """
        try:
            with self._queue_lock:
                self._answers.append(attempt)
                self._queued += 1
                mine = self._queued
            with self._ledger_lock:
                if self._written < mine and self.failure is None:
                    with self._queue_lock:
                        batch, self._answers = self._answers, []
                        upto = self._queued
                    try:
                        self._record_all(batch)
                    except BaseException as e:
                        self.failure = e
                        self._stop.set()
                    self._written = upto
                return self.failure is None
        finally:
            with self._changed:
                self._in_flight -= 1
                # Wake the feeding thread only when the queue runs low (it then refills it
                # in one go), not once per message.
                if self._in_flight <= self._settings.connections:
                    self._changed.notify_all()

    def _record_all(self, batch: list[Attempt]) -> None:
        """Decide each answer's row, then write the rows in one transaction."""
        writes: list[tuple[Delivery, datetime | None]] = []
        suppress: list[tuple[str, str]] = []
        for attempt in batch:
            self._record(attempt, writes, suppress)
        now = self._clock()
        self._ledger.record_deliveries(writes, now)
        for email, reason in suppress:  # after the row: a re-run never retries `failed`
            self._ledger.suppress(email, reason, now)
        for _ in batch:
            self._report(self._progress)

    def _due_retry(self) -> Job | None:
        if self._retries and self._retries[0][0] <= time.monotonic():
            return heapq.heappop(self._retries)[2]
        return None

    def _pace(self) -> None:
        """Hold to `rate_per_second`, across all connections."""
        rate = self._settings.rate_per_second
        if not rate:
            return
        now = time.monotonic()
        if self._next_slot > now:
            self._stop.wait(self._next_slot - now)
        self._next_slot = max(now, self._next_slot) + 1.0 / rate

    def _record(self, attempt: Attempt, writes: list[tuple[Delivery, datetime | None]],
                suppress: list[tuple[str, str]]) -> None:
        """Count one answer, queue its retry if any, and add its ledger row to `writes`."""
        job, result, reply = attempt.job, attempt.result, attempt.reply
        write = self._row(job, writes)
        email = job.subscriber.email
        stopping = self._stop.is_set()
        if result == "again":
            drops = self._drops[email] = self._drops.get(email, 0) + 1
            if drops < MAX_DROPS and not stopping:
                self._later(job, 0.0)  # nothing was handed over: straight to the next worker
                return
            write("deferred", reply, self._clock())  # due again at the next run
            self._progress.deferred += 1
            return
        now = self._clock()
        if result == "deferred":
            waits = self._settings.retry_backoff_seconds
            tries = job.tries + 1
            if tries <= len(waits) and not stopping:
                wait = float(waits[tries - 1])
                write("deferred", reply, now + timedelta(seconds=wait))
                self._later(replace(job, tries=tries), wait)
                log.info("%s: %s; trying again in %gs", email, reply, wait)
            else:
                wait = float(waits[-1]) if waits and not stopping else 0.0
                write("deferred", reply, now + timedelta(seconds=wait))
                self._progress.deferred += 1
                # Due again after `wait`: for the next run, or for any worker of the edition.
                log.warning("%s: %s; left deferred, due again in %gs", email, reply, wait)
        else:
            write(result, reply, None)
            if result == "failed":
                suppress.append((email, f"{self._edition}: {reply}"))
                log.warning("%s: %s (failed; address suppressed)", email, reply)
            elif result == "unknown":
                log.warning("%s: %s (may have arrived; sent again by the next run)", email,
                            reply)
            counted = {"sent": "sent", "failed": "failed", "unknown": "unknown"}[result]
            setattr(self._progress, counted, getattr(self._progress, counted) + 1)
        self._progress.retrying = len(self._retries)

    def _later(self, job: Job, wait: float) -> None:
        with self._changed:
            heapq.heappush(self._retries, (time.monotonic() + wait, next(self._order), job))
            self._changed.notify_all()

    def _row(self, job: Job, writes: list[tuple[Delivery, datetime | None]]
             ) -> Callable[[DeliveryStatus, str, datetime | None], None]:
        def write(status: DeliveryStatus, reply: str, next_try: datetime | None) -> None:
            email = job.subscriber.email
            writes.append((Delivery(self._edition, email, status, reply,
                                    job.message.message_id(email)), next_try))
        return write
