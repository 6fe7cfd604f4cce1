"""Signups: every request made with the signup form, kept as the abuse limits' memory and as
the consent record of the subscription it led to.

A request is admitted (and its outcome decided against the limits) in one write transaction,
so two posts arriving together cannot both slip under the per-address or per-client limit.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from digest.model import Frequency
from digest.store.convert import Tables, dt, iso

# mail: a confirmation is to be sent; mailed / mail_failed: what the SMTP server said.
# The others sent nothing: honeypot filled, hosted form posted too fast or with a forged
# stamp, over the per-client or per-address limit, or an address we must not mail.
Outcome = Literal["mail", "mailed", "mail_failed", "honeypot", "too_fast", "forged_form",
                  "ip_limit", "resend_window", "blocked"]


# Unconfirmed requests are kept this long (the week `digest status` reports, and a margin).
KEEP_UNCONFIRMED = timedelta(days=30)


@dataclass(frozen=True)
class Signup:
    """One post of the signup form, and what came of it."""

    id: str  # random, named in the confirmation token
    email: str  # the normalized address
    name: str
    topics: tuple[str, ...]
    frequency: Frequency
    created: datetime
    client: str  # the client's IP address as the server saw it
    user_agent: str
    page: str  # where the form was: the hosted page, or a snippet on another site
    consent: str  # the consent line the reader saw
    outcome: Outcome
    mailed: datetime | None = None
    confirmed: datetime | None = None
    network: str = ""  # what the per-client limit counts by (an IPv6 client's /64); '': client
    mailbox: str = ""  # what the per-address limit counts by (spellings of one inbox); '': email


@dataclass(frozen=True)
class SignupCounts:
    """What `digest status` reports of a period."""

    signups: int  # requests recorded
    mailed: int  # confirmation emails the server accepted
    confirmed: int
    expired: int  # confirmation links that ran out unused in the period


class SignupStore(Tables):
    """Methods of `Store` about signup requests."""

    def admit_signup(self, signup: Signup, per_client_per_hour: int,
                     resend: timedelta, link_life: timedelta | None = None) -> Outcome:
        """Record a request; an outcome of `mail` is kept only within the limits.

        Args:
            signup: the request, with `outcome` already decided by the form checks.
            per_client_per_hour: requests from one client in the past hour that are mailed
                for at most; every request counts, whatever its outcome.
            resend: no second confirmation to an address within this long.
            link_life: how long a confirmation link works; given, what nobody confirmed is
                forgotten on the way (see `forget_unconfirmed`).
        Returns:
            The outcome recorded: `signup.outcome`, or `ip_limit` / `resend_window`.
        """
        outcome = signup.outcome
        with self._transaction():
            if link_life is not None:
                self.forget_unconfirmed(signup.created, link_life)
            if outcome == "mail":
                recent = self._db.execute(
                    "SELECT count(*) FROM signups WHERE network = ? AND created > ?",
                    (signup.network or signup.client,
                     iso(signup.created - timedelta(hours=1)))).fetchone()[0]
                mailed = self._db.execute(
                    "SELECT count(*) FROM signups WHERE mailbox = ? AND created > ? AND outcome "
                    "IN ('mail', 'mailed')",
                    (signup.mailbox or signup.email, iso(signup.created - resend))).fetchone()[0]
                if recent >= per_client_per_hour:
                    outcome = "ip_limit"
                elif mailed:
                    outcome = "resend_window"
            self._db.execute(
                """INSERT INTO signups (id, email, name, topics, frequency, created, client,
                                      user_agent, page, consent, outcome, network, mailbox)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (signup.id, signup.email, signup.name, json.dumps(list(signup.topics)),
                 signup.frequency, iso(signup.created), signup.client, signup.user_agent,
                 signup.page, signup.consent, outcome, signup.network or signup.client,
                 signup.mailbox or signup.email))
            if outcome == "mail":
                # A new address waits for its confirmation; an existing row keeps its status,
                # so a stranger's post can never change a reader's subscription.
                self._db.execute(
                    "INSERT OR IGNORE INTO subscribers (email, name, topics, frequency, status,"
                    " source, created, updated) VALUES (?, ?, ?, ?, 'pending', 'web', ?, ?)",
                    (signup.email, signup.name, json.dumps(list(signup.topics)),
                     signup.frequency, iso(signup.created), iso(signup.created)))
        return outcome

    def forget_unconfirmed(self, now: datetime, link_life: timedelta,
                           keep: timedelta = KEEP_UNCONFIRMED) -> None:
        """Forget the addresses nobody confirmed: a pending address once its last link has
        expired, an unconfirmed request after `keep` (the limits and `digest status` need
        the recent ones). Confirmed requests stay: they are the consent records."""
        self._db.execute(
            """DELETE FROM subscribers WHERE status = 'pending' AND NOT EXISTS (
                 SELECT 1 FROM signups WHERE signups.email = subscribers.email
                 AND signups.created > ?)""", (iso(now - link_life),))
        self._db.execute("DELETE FROM signups WHERE confirmed = '' AND created < ?",
                         (iso(now - keep),))

    def signup_mailed(self, signup_id: str, ok: bool, now: datetime) -> None:
        """Record whether the SMTP server took the confirmation email."""
        self._db.execute(
            "UPDATE signups SET outcome = ?, mailed = ? WHERE id = ?",
            ("mailed" if ok else "mail_failed", iso(now) if ok else "", signup_id))

    def signup(self, signup_id: str) -> Signup | None:
        """The request a confirmation token names, or None (unknown, or deleted since)."""
        row = self._db.execute("SELECT * FROM signups WHERE id = ?", (signup_id,)).fetchone()
        return signup_from_row(row) if row else None

    def signups_of(self, email: str) -> list[Signup]:
        """Every request recorded for an address, oldest first."""
        rows = self._db.execute("SELECT * FROM signups WHERE email = ? ORDER BY created, id",
                                (email,))
        return [signup_from_row(r) for r in rows]

    def signup_counts(self, since: datetime, now: datetime, link_life: timedelta) -> SignupCounts:
        """Requests, confirmation emails, confirmations and expired links between `since`
        and `now`."""
        def count(where: str, *args: str) -> int:
            return int(self._db.execute(f"SELECT count(*) FROM signups WHERE {where}",
                                        args).fetchone()[0])

        start, end = iso(since), iso(now)
        return SignupCounts(
            signups=count("created > ? AND created <= ?", start, end),
            mailed=count("mailed != '' AND mailed > ? AND mailed <= ?", start, end),
            confirmed=count("confirmed != '' AND confirmed > ? AND confirmed <= ?", start, end),
            expired=count("mailed != '' AND confirmed = '' AND created > ? AND created <= ?",
                          iso(since - link_life), iso(now - link_life)),
        )


def signup_from_row(r: sqlite3.Row) -> Signup:
    return Signup(
        id=r["id"], email=r["email"], name=r["name"], topics=tuple(json.loads(r["topics"])),
        frequency="weekly" if r["frequency"] == "weekly" else "daily", created=dt(r["created"]),
        client=r["client"], user_agent=r["user_agent"], page=r["page"], consent=r["consent"],
        outcome=cast(Outcome, r["outcome"]),
        mailed=dt(r["mailed"]) if r["mailed"] else None,
        confirmed=dt(r["confirmed"]) if r["confirmed"] else None, network=r["network"],
        mailbox=r["mailbox"],
    )
