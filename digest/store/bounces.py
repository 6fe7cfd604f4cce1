"""Bounces: the inbound messages processed, what each said about which delivery, and the
evidence behind each suppression a bounce or complaint made.

    inbound_messages       one row per message processed (its bytes' SHA-256): never twice
    bounce_events          one row per (message, delivery, kind): what the soft-bounce count
                           and the per-edition rates are made of
    suppression_evidence   why an address was suppressed by what came back: kind (hard, soft,
                           complaint), edition, status, the raw line

A message's rows, and the suppressions it makes, are written in one transaction: a process
killed mid-way has done all of it or none of it, so the message is simply processed again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.store.convert import Tables, dt, iso


@dataclass(frozen=True)
class BounceEvent:
    """One finding tied to one delivery."""

    key: str  # the message and the delivery: the same bounce processed twice has one row
    email: str
    edition_id: str
    kind: str  # hard, soft, complaint
    status: str
    diagnostic: str
    received: datetime


@dataclass(frozen=True)
class Evidence:
    """Why what came back suppressed an address."""

    email: str
    kind: str  # hard, soft, complaint
    edition_id: str
    status: str
    evidence: str
    created: datetime


@dataclass(frozen=True)
class History:
    """An address's ledger and bounces, for the soft-bounce count."""

    sent: list[tuple[str, datetime]]  # (edition, when the server accepted it)
    events: list[BounceEvent]  # every bounce event of the address, oldest first


class BounceStore(Tables):
    """Methods of `Store` about what comes back."""

    def edition_ids(self) -> list[str]:
        """Every edition with a ledger row."""
        rows = self._db.execute("SELECT DISTINCT edition_id FROM deliveries")
        return [r["edition_id"] for r in rows]

    def delivery_addresses(self, edition_id: str) -> list[str]:
        """Every address with a ledger row for the edition."""
        rows = self._db.execute("SELECT email FROM deliveries WHERE edition_id = ?",
                                (edition_id,))
        return [r["email"] for r in rows]

    def latest_delivery(self, email: str, edition_id: str = "") -> str | None:
        """The edition of the address's latest ledger row (or `edition_id`, if it has one)."""
        if edition_id:
            row = self._db.execute("SELECT edition_id FROM deliveries WHERE edition_id = ? "
                                   "AND email = ?", (edition_id, email)).fetchone()
            if row:
                return str(row["edition_id"])
        row = self._db.execute("SELECT edition_id FROM deliveries WHERE email = ? "
                               "ORDER BY updated DESC, edition_id DESC", (email,)).fetchone()
        return str(row["edition_id"]) if row else None

    def inbound_seen(self, digest: str) -> str | None:
        """The outcome of a message already processed, or None."""
        row = self._db.execute("SELECT outcome FROM inbound_messages WHERE digest = ?",
                               (digest,)).fetchone()
        return str(row["outcome"]) if row else None

    def history(self, email: str) -> History:
        """The address's accepted deliveries and its bounce events."""
        sent = [(r["edition_id"], dt(r["updated"])) for r in self._db.execute(
            "SELECT edition_id, updated FROM deliveries WHERE email = ? AND status = 'sent'",
            (email,))]
        events = [_event(r) for r in self._db.execute(
            "SELECT * FROM bounce_events WHERE email = ? ORDER BY received, event_key",
            (email,))]
        return History(sent, events)

    def record_inbound(self, digest: str, outcome: str, detail: str,
                       events: Sequence[BounceEvent],
                       suppress: Sequence[Evidence], now: datetime) -> list[str]:
        """Keep one processed message, its events and its suppressions, in one transaction.

        A suppression keeps the address's first reason; its evidence is replaced only by a
        complaint's (the one kind a restore needs --force for).

        Returns:
            The addresses newly suppressed.
        """
        newly: list[str] = []
        with self._transaction():
            self._db.execute(
                "INSERT INTO inbound_messages (digest, outcome, detail, processed) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                (digest, outcome, detail[:1000], iso(now)))
            for e in events:
                self._db.execute(
                    "INSERT INTO bounce_events (event_key, email, edition_id, kind, status, "
                    "diagnostic, received) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (event_key) DO NOTHING",
                    (e.key, e.email, e.edition_id, e.kind, e.status, e.diagnostic[:1000],
                     iso(e.received)))
            for s in suppress:
                reason = f"{s.edition_id}: {s.kind} {s.status} {s.evidence}".replace("  ", " ")
                cursor = self._db.execute(
                    "INSERT INTO suppressions (email, reason, created) VALUES (?, ?, ?) "
                    "ON CONFLICT (email) DO NOTHING", (s.email, reason[:500], iso(s.created)))
                if cursor.rowcount:
                    newly.append(s.email)
                self._db.execute(
                    "INSERT INTO suppression_evidence (email, kind, edition_id, status, "
                    "evidence, created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO "
                    "UPDATE SET kind = excluded.kind, edition_id = excluded.edition_id, "
                    "status = excluded.status, evidence = excluded.evidence, "
                    "created = excluded.created WHERE excluded.kind = 'complaint' "
                    "AND suppression_evidence.kind <> 'complaint'",
                    (s.email, s.kind, s.edition_id, s.status, s.evidence[:1000],
                     iso(s.created)))
        return newly

    def evidence(self, email: str) -> Evidence | None:
        """What came back and suppressed the address, if anything did."""
        row = self._db.execute("SELECT * FROM suppression_evidence WHERE email = ?",
                               (email,)).fetchone()
        if row is None:
            return None
        return Evidence(row["email"], row["kind"], row["edition_id"], row["status"],
                        row["evidence"], dt(row["created"]))

    def inbound_counts(self) -> dict[str, int]:
        """Messages processed, per outcome."""
        rows = self._db.execute(
            "SELECT outcome, count(*) AS n FROM inbound_messages GROUP BY outcome")
        return {r["outcome"]: r["n"] for r in rows}

    def bounce_counts(self, edition_id: str) -> dict[str, int]:
        """Addresses of the edition with each kind of event (hard, soft, complaint)."""
        rows = self._db.execute(
            "SELECT kind, count(DISTINCT email) AS n FROM bounce_events "
            "WHERE edition_id = ? GROUP BY kind", (edition_id,))
        return {r["kind"]: r["n"] for r in rows}


def _event(r: sqlite3.Row) -> BounceEvent:
    return BounceEvent(r["event_key"], r["email"], r["edition_id"], r["kind"], r["status"],
                       r["diagnostic"], dt(r["received"]))
