"""Subscribers in the database: readers who signed up on the web, and rows imported from CSV.

    pending ──► active        (the reader pressed Confirm; the consent is the signup's row)
    (no row) ─► active        (`digest subscribers import`: source csv)
    any ──────► (forgotten)   ("Delete me": every row about the address goes; a hash stays)

An address unsubscribes through a suppression, which wins over every status here. Addresses
whose owners had their data deleted are kept only as a SHA-256 hash, so that a list naming
them again sends them nothing until they sign up again themselves.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from digest.model import Frequency, Subscriber
from digest.store.convert import Tables, dt, iso
from digest.store.signups import Signup, signup_from_row

Status = Literal["pending", "active", "unsubscribed"]
Source = Literal["web", "csv"]
FORGOTTEN_PREFIX = "forgotten:"  # what a deleted reader's address becomes in the ledger


@dataclass(frozen=True)
class SubscriberRow:
    """One address in the database and its standing."""

    email: str
    name: str
    topics: tuple[str, ...]
    frequency: Frequency
    status: Status
    source: Source
    created: datetime
    updated: datetime
    signup_id: str  # the request whose confirmation made it active ('' for imports)

    def subscriber(self, list_name: str) -> Subscriber:
        return Subscriber(self.email, self.name, self.topics, self.frequency, list_name)


def address_hash(email: str) -> str:
    """The one-way form in which a deleted address is remembered."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


class Blocked(Container[str]):
    """Addresses never to send an edition to: suppressed, or deleted at their owner's wish."""

    def __init__(self, suppressed: set[str], forgotten: set[str]) -> None:
        # Case-folded: addresses that differ only in case are one reader.
        self._suppressed = {email.strip().casefold() for email in suppressed}
        self._forgotten = forgotten

    def __contains__(self, email: object) -> bool:
        if not isinstance(email, str):
            return False
        return email.strip().casefold() in self._suppressed or (
            bool(self._forgotten) and address_hash(email) in self._forgotten)


class SubscriberStore(Tables):
    """Methods of `Store` about the subscribers kept in the database."""

    def subscriber_row(self, email: str) -> SubscriberRow | None:
        row = self._db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return _row(row) if row else None

    def subscriber_rows(self, status: Status | None = None) -> Iterator[SubscriberRow]:
        """The database's subscribers (of one status), oldest first."""
        if status is None:
            rows = self._db.execute("SELECT * FROM subscribers ORDER BY created, email")
        else:
            rows = self._db.execute(
                "SELECT * FROM subscribers WHERE status = ? ORDER BY created, email", (status,))
        for row in rows.fetchall():
            yield _row(row)

    def import_subscribers(self, subscribers: Iterable[Subscriber], now: datetime) -> int:
        """Add the subscribers as active (source csv); addresses already here are left alone.

        Returns:
            How many were added.
        """
        added = 0
        with self._transaction():
            for s in subscribers:
                added += self._db.execute(
                    "INSERT OR IGNORE INTO subscribers (email, name, topics, frequency, status,"
                    " source, created, updated) VALUES (?, ?, ?, ?, 'active', 'csv', ?, ?)",
                    (s.email, s.name, json.dumps(list(s.topics)), s.frequency, iso(now),
                     iso(now))).rowcount
        return added

    def confirm_signup(self, signup_id: str, now: datetime,
                       lift_suppression: bool) -> Signup | None:
        """Make the request's address an active subscriber with the request's choices.

        Args:
            signup_id: the request the confirmation token names.
            lift_suppression: the address's suppression (if any) was the reader's own
                unsubscribe, which this confirmation undoes.
        Returns:
            The request, or None when it is unknown or was already confirmed (nothing done).
        """
        with self._transaction():
            done = self._db.execute(
                "UPDATE signups SET confirmed = ? WHERE id = ? AND confirmed = ''",
                (iso(now), signup_id)).rowcount
            row = self._db.execute("SELECT * FROM signups WHERE id = ?",
                                   (signup_id,)).fetchone()
            if not done or row is None:
                return None
            signup = signup_from_row(row)
            topics = json.dumps(list(signup.topics))
            self._db.execute(
                """INSERT INTO subscribers (email, name, topics, frequency, status, source,
                                           created, updated, signup_id)
                   VALUES (?, ?, ?, ?, 'active', 'web', ?, ?, ?)
                   ON CONFLICT (email) DO UPDATE SET status = 'active',
                     name = CASE excluded.name WHEN '' THEN subscribers.name
                            ELSE excluded.name END,
                     topics = excluded.topics, frequency = excluded.frequency,
                     updated = excluded.updated, signup_id = excluded.signup_id""",
                (signup.email, signup.name, topics, signup.frequency, iso(now), iso(now),
                 signup.id))
            # What the reader just chose wins over any list row, as the preferences page does.
            self._db.execute(
                """INSERT INTO preferences VALUES (?, ?, ?, ?)
                   ON CONFLICT (email) DO UPDATE SET topics = excluded.topics,
                     frequency = excluded.frequency, updated = excluded.updated""",
                (signup.email, topics, signup.frequency, iso(now)))
            self._db.execute("DELETE FROM forgotten WHERE hash = ?",
                             (address_hash(signup.email),))
            if lift_suppression:
                self._db.execute("DELETE FROM suppressions WHERE email = ?", (signup.email,))
        return signup

    def mark_unsubscribed(self, email: str, now: datetime) -> None:
        """A web reader left: their row says so (the suppression is what stops the sends)."""
        self._db.execute("UPDATE subscribers SET status = 'unsubscribed', updated = ? "
                         "WHERE email = ? AND status = 'active'", (iso(now), email))

    def blocked(self) -> Blocked:
        """Every address no edition may go to (one read per send)."""
        return Blocked({r[0] for r in self._db.execute("SELECT email FROM suppressions")},
                       {r[0] for r in self._db.execute("SELECT hash FROM forgotten")})

    def is_forgotten(self, email: str) -> bool:
        return self._db.execute("SELECT 1 FROM forgotten WHERE hash = ?",
                                (address_hash(email),)).fetchone() is not None

    def forget(self, email: str, now: datetime) -> None:
        """Delete everything about `email`: subscription, requests, choices, suppression; its
        deliveries keep their counts under a hash. The hash is kept so no list adds it back."""
        hashed = address_hash(email)
        with self._transaction():
            for table in ("subscribers", "signups", "preferences", "suppressions"):
                self._db.execute(f"DELETE FROM {table} WHERE email = ?", (email,))
            self._db.execute("UPDATE deliveries SET email = ?, reply = '' WHERE email = ?",
                             (FORGOTTEN_PREFIX + hashed, email))
            self._db.execute("INSERT OR IGNORE INTO forgotten VALUES (?, ?)", (hashed, iso(now)))

    def data_of(self, email: str) -> dict[str, Any]:
        """Everything the database holds about `email`, as plain JSON-ready values."""
        def rows(sql: str) -> list[dict[str, Any]]:
            return [dict(r) for r in self._db.execute(sql, (email,))]

        subscriber = rows("SELECT * FROM subscribers WHERE email = ?")
        for s in subscriber:
            s["topics"] = json.loads(s["topics"])
        signups = rows("SELECT * FROM signups WHERE email = ? ORDER BY created")
        for s in signups:
            s["topics"] = json.loads(s["topics"])
        preference = rows("SELECT * FROM preferences WHERE email = ?")
        for p in preference:
            p["topics"] = json.loads(p["topics"])
        suppression = rows("SELECT * FROM suppressions WHERE email = ?")
        return {
            "subscription": subscriber[0] if subscriber else None,
            "signups": signups,
            "preferences": preference[0] if preference else None,
            "suppression": suppression[0] if suppression else None,
            "deliveries": rows(
                "SELECT edition_id, status, reply, message_id, attempts, updated, first_try "
                "FROM deliveries WHERE email = ? ORDER BY updated"),
        }


def _row(r: sqlite3.Row) -> SubscriberRow:
    return SubscriberRow(
        email=r["email"], name=r["name"], topics=tuple(json.loads(r["topics"])),
        frequency="weekly" if r["frequency"] == "weekly" else "daily",
        status=cast(Status, r["status"]), source=cast(Source, r["source"]),
        created=dt(r["created"]), updated=dt(r["updated"]), signup_id=r["signup_id"],
    )
