"""Orchestrate shared sending, what workers keep up beside the ledger: the heartbeat that
says a worker lives and renews the lease of the rows it holds, the rate budget all workers
draw from, and a stop event per delivery loop.

In: the state database's location, a worker's identity, lease and counts. Out: heartbeats and
renewed leases (on a connection of its own), waits for this worker's turn under the rate.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.deliver.delivery import Clock
from digest.errors import StoreError
from digest.store import Store
from digest.store.backend import Location
from digest.store.workers import Worker

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """A worker's running totals, for its heartbeat."""

    claimed: int = 0
    sent: int = 0


@contextlib.contextmanager
def linked_stop(outer: threading.Event) -> Iterator[threading.Event]:
    """A stop event for one delivery loop, set when `outer` is (SIGTERM): the loop also sets
    it itself when the ledger fails, which must end that loop, not the worker."""
    inner, done = threading.Event(), threading.Event()

    def follow() -> None:
        while not done.is_set():
            if outer.wait(0.1):
                inner.set()
                return

    thread = threading.Thread(target=follow, name="stop-follower", daemon=True)
    thread.start()
    try:
        yield inner
    finally:
        done.set()
        thread.join()


class SharedRate:
    """Waits for this worker's turn under `rate` messages a second for all workers together:
    slots are reserved from the budget in the database, a twentieth of a second's worth at a
    time, and each message waits for its slot (on the database's clock)."""

    def __init__(self, store: Store, rate: float, stop: threading.Event) -> None:
        self._store = store
        self._interval = 1.0 / rate
        self._batch = max(1, int(rate / 20))
        self._stop = stop
        self._slots: deque[float] = deque()

    def __call__(self) -> None:
        # A slot this worker was too slow to use is gone: the others' slots have moved on,
        # and using it now would send in a burst above the limit.
        while self._slots and self._slots[0] < time.monotonic() - self._interval:
            self._slots.popleft()
        if not self._slots:
            first, db_now = self._store.take_send_slots(self._batch, self._interval)
            start = time.monotonic() + (first - db_now)
            self._slots.extend(start + i * self._interval for i in range(self._batch))
        wait = self._slots.popleft() - time.monotonic()
        if wait > 0:
            self._stop.wait(wait)


class Heartbeat:
    """A thread with its own connection that says the worker is alive and renews the lease
    of the rows it holds, three times a lease; it logs and keeps trying when it fails."""

    def __init__(self, location: Location, worker: str, lease: timedelta, counts: Counts,
                 clock: Clock, started: datetime) -> None:
        self._location = location
        self._worker = worker
        self._lease = lease
        self._counts = counts
        self._clock = clock
        self._started = started
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        worker, lease, counts = self._worker, self._lease, self._counts
        every = lease.total_seconds() / 3
        host = socket.gethostname()
        while True:
            try:
                with Store.open(self._location, f"digest heartbeat {worker}") as store:
                    while True:
                        now = self._clock()
                        store.renew_lease(worker, now + lease)
                        store.heartbeat(Worker(worker, host, os.getpid(), self._started, now,
                                               counts.claimed, counts.sent))
                        if self._done.wait(every):
                            store.forget_worker(worker)
                            return
            except StoreError as e:
                log.warning("heartbeat: %s; trying again in %.0f s", e, every)
                if self._done.wait(every):
                    return
