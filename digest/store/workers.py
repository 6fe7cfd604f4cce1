"""Many workers, one edition: claims on ledger rows under a lease, the editions being sent,
the live workers, and the rate limit they share.

In: an edition's readers (address, name, list, variant), a worker's identity and its lease.
Out: batches of rows claimed by exactly one worker, each answer recorded with its claim
released, the workers' heartbeats. A worker that dies stops renewing its lease; once it has
run out, the rows it held are claimable again. On PostgreSQL the claim skips rows another
worker has locked (`FOR UPDATE SKIP LOCKED`), so workers never queue behind each other; on
SQLite the write lock already lets one claim at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from digest.model import Delivery
from digest.store.convert import Tables, dt, iso

# Rows a worker may claim now: never tried, an unknown answer (the message may have arrived;
# sent again at most twice more), or a deferral whose next try has come and whose waits are
# not used up (`tries` below). Tries are counted per round (`round_tries`): each `digest send`
# starts a new one, as a re-run does on one machine; `attempts` counts them all.
# The first term says what the index of open rows holds (migration 10), in words SQLite's
# planner matches (PostgreSQL's would prove it from the rest): a claim reads only open rows.
_CLAIMABLE = """(status IN ('pending', 'unknown', 'deferred')
                 AND (status = 'pending' OR (status = 'unknown' AND round_tries < 3)
                 OR (status = 'deferred' AND next_try <= ? AND round_tries <= ?)))"""


@dataclass(frozen=True)
class Reader:
    """One ledger row as a worker needs it to build the message."""

    email: str
    name: str
    list_name: str
    variant: str  # the stored render's key; "" for the whole edition
    attempts: int  # tries in this round before this claim


@dataclass(frozen=True)
class Worker:
    """A worker process, as it last reported itself (for `digest status`)."""

    id: str
    host: str
    pid: int
    started: datetime
    heartbeat: datetime
    claimed: int
    sent: int


class WorkerStore(Tables):
    """Methods of `Store` about shared sending."""

    @contextmanager
    def edition_lock(self, edition_id: str) -> Iterator[None]:
        """Only one process at a time creates an edition (two machines that start the same
        slot agree on one): a PostgreSQL advisory lock; SQLite's callers hold the run lock."""
        if self._db.kind != "postgresql":
            yield
            return
        key = f"digest edition {edition_id}"
        self._db.execute("SELECT pg_advisory_lock(hashtext(?))", (key,))
        try:
            yield
        finally:
            self._db.execute("SELECT pg_advisory_unlock(hashtext(?))", (key,))

    def add_readers(self, edition_id: str, readers: Iterable[tuple[str, str, str, str]],
                    now: datetime) -> None:
        """Add a pending row per (email, name, list, variant) that has none for the edition."""
        rows = ((edition_id, e, n, li, v, iso(now)) for e, n, li, v in readers)
        while batch := list(itertools.islice(rows, 2000)):
            with self._transaction():
                self._db.executemany(
                    "INSERT OR IGNORE INTO deliveries (edition_id, email, name, list_name, "
                    "variant, status, updated) VALUES (?, ?, ?, ?, ?, 'pending', ?)", batch)

    def open_sending(self, edition_id: str, now: datetime) -> None:
        """Let workers send the edition (again, when it was closed)."""
        self._db.execute(
            "INSERT INTO sendings (edition_id, opened) VALUES (?, ?) ON CONFLICT (edition_id) "
            "DO UPDATE SET closed = '', opened = excluded.opened", (edition_id, iso(now)))
        self._db.execute(
            "UPDATE deliveries SET round_tries = 0 WHERE edition_id = ? AND status IN "
            "('deferred', 'unknown')", (edition_id,))

    def open_sendings(self) -> list[str]:
        """The editions workers send now, oldest first."""
        rows = self._db.execute(
            "SELECT edition_id FROM sendings WHERE closed = '' ORDER BY opened, edition_id")
        return [r["edition_id"] for r in rows]

    def close_sending_if_done(self, edition_id: str, tries: int, now: datetime) -> bool:
        """Close the edition when no row of it is left for a worker, now or later.

        Args:
            tries: how many deferrals a row may have and still be tried by a worker.
        Returns:
            True when it is (now) closed.
        """
        left = self._db.execute(
            "SELECT count(*) FROM deliveries WHERE edition_id = ? AND (status = 'pending' "
            "OR (status = 'unknown' AND round_tries < 3) OR (status = 'deferred' AND "
            "round_tries <= ?))", (edition_id, tries)).fetchone()[0]
        if left:
            return False
        self._db.execute("UPDATE sendings SET closed = ? WHERE edition_id = ?",
                         (iso(now), edition_id))
        return True

    def unfinished(self, edition_id: str, now: datetime, tries: int) -> int:
        """Rows claimable now or held under a lease (by a live or a dead worker)."""
        return int(self._db.execute(
            f"SELECT count(*) FROM deliveries WHERE edition_id = ? AND ({_CLAIMABLE} "
            "OR (claimed_by != '' AND status IN ('pending', 'unknown')))",
            (edition_id, iso(now), tries)).fetchone()[0])

    def claim(self, edition_id: str, worker: str, limit: int, now: datetime,
              lease_until: datetime, tries: int) -> list[Reader]:
        """Claim up to `limit` rows of the edition that nobody holds (or whose holder's lease
        ran out), until `lease_until`.

        Args:
            tries: deferred rows tried more often than this in this round are left to the
                next `digest send`.
        """
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._db.kind == "postgresql" else ""
        with self._transaction():
            rows = self._db.execute(
                f"""UPDATE deliveries SET claimed_by = ?, lease_until = ?
                    WHERE (edition_id, email) IN (
                      SELECT edition_id, email FROM deliveries
                      WHERE edition_id = ? AND {_CLAIMABLE}
                        AND (claimed_by = '' OR lease_until < ?)
                      ORDER BY email LIMIT ?{skip_locked})
                    RETURNING email, name, list_name, variant, round_tries""",
                (worker, iso(lease_until), edition_id, iso(now), tries, iso(now), limit),
            ).fetchall()
        return sorted((Reader(r["email"], r["name"], r["list_name"], r["variant"],
                              r["round_tries"]) for r in rows), key=lambda r: r.email)

    def record_claimed(self, rows: Iterable[tuple[Delivery, datetime | None]],
                       now: datetime) -> None:
        """Write answers to claimed rows and release their claims, in one transaction."""
        when = iso(now)
        values = [(d.status, d.reply, d.message_id, when, iso(t) if t else "", when,
                   d.edition_id, d.email) for d, t in rows]
        if not values:
            return
        with self._transaction():
            self._db.executemany(
                """UPDATE deliveries SET status = ?, reply = ?, message_id = ?,
                     attempts = attempts + 1, round_tries = round_tries + 1,
                     updated = ?, next_try = ?,
                     first_try = CASE first_try WHEN '' THEN ? ELSE first_try END,
                     claimed_by = '', lease_until = ''
                   WHERE edition_id = ? AND email = ?""", values)

    def renew_lease(self, worker: str, lease_until: datetime) -> int:
        """Keep the rows `worker` holds for longer; returns how many it holds."""
        return self._db.execute(
            "UPDATE deliveries SET lease_until = ? WHERE claimed_by = ? AND status IN "
            "('pending', 'deferred', 'unknown')", (iso(lease_until), worker)).rowcount

    def release_claims(self, worker: str) -> int:
        """Give back every row `worker` holds (it stops): others may take them at once."""
        return self._db.execute(
            "UPDATE deliveries SET claimed_by = '', lease_until = '' WHERE claimed_by = ?",
            (worker,)).rowcount

    def heartbeat(self, worker: Worker) -> None:
        """Say that `worker` is alive, with its counts."""
        self._db.execute(
            """INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat,
                 claimed = excluded.claimed, sent = excluded.sent""",
            (worker.id, worker.host, worker.pid, iso(worker.started), iso(worker.heartbeat),
             worker.claimed, worker.sent))

    def forget_worker(self, worker_id: str) -> None:
        self._db.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def workers(self, alive_since: datetime) -> list[Worker]:
        """The workers whose last heartbeat is at or after `alive_since`, by host and PID."""
        rows = self._db.execute(
            "SELECT * FROM workers WHERE heartbeat >= ? ORDER BY host, pid",
            (iso(alive_since),))
        return [Worker(r["id"], r["host"], r["pid"], dt(r["started"]), dt(r["heartbeat"]),
                       r["claimed"], r["sent"]) for r in rows]

    def take_send_slots(self, count: int, interval: float) -> tuple[float, float]:
        """Reserve the next `count` send slots, `interval` seconds apart, of the rate limit
        all workers share (PostgreSQL only: its clock is the one every machine reads).

        Returns:
            (when the first slot is, the database's time now), both in seconds since the epoch.
        """
        self._db.execute("INSERT OR IGNORE INTO send_budget VALUES ('smtp', 0)")
        row = self._db.execute(
            """UPDATE send_budget SET next_slot = GREATEST(next_slot,
                 EXTRACT(EPOCH FROM clock_timestamp())) + ?
               WHERE name = 'smtp'
               RETURNING next_slot - ?, EXTRACT(EPOCH FROM clock_timestamp())""",
            (count * interval, count * interval)).fetchone()
        return float(row[0]), float(row[1])
