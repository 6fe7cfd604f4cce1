"""Process: one inbound message, classified, tied to its delivery, and acted upon.

In: the raw bytes, the state database, the VERP key and `[bounces]`. Out: an `Outcome`, and
in the database (one transaction) the message marked processed, its bounce events, and the
suppressions the policy asks for with their evidence.

The delivery is found from a VERP token first (the envelope recipient, then the report's
Original-Mail-From or the returned original's Return-Path), and only when the message
carries no token of ours at all from the recipient the report names, if the ledger has ever
sent to it. A token that fails its signature is forged: nothing is done and the message is
kept. Processing the same bytes again, or the same bounce under another copy (the same
Message-ID and delivery), changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from digest.audience.subscribers import normalize_address
from digest.bounces.classify import Finding, Report, classify
from digest.bounces.policy import decide
from digest.bounces.verp import Resolver, token_of
from digest.config import BouncesConfig
from digest.errors import SubscriberError
from digest.store import Store
from digest.store.bounces import BounceEvent, Evidence

OutcomeName = Literal["hard", "soft", "complaint", "ignored", "autoreply", "unrecognised",
                      "unknown", "forged", "duplicate"]
# What a person should look at: kept in the Maildir's `unrecognised` folder.
KEEP: tuple[OutcomeName, ...] = ("unrecognised", "unknown", "forged")
_RANK = {"complaint": 0, "hard": 1, "soft": 2, "ignored": 3}


@dataclass(frozen=True)
class Outcome:
    """What one message was, and what it did."""

    outcome: OutcomeName
    detail: str
    suppressed: tuple[str, ...] = ()
    deliveries: tuple[tuple[str, str], ...] = ()  # (edition, address) it answered

    @property
    def keep(self) -> bool:
        return self.outcome in KEEP


class Processor:
    """Processes messages against one database connection (one thread at a time).

    A new processor sees editions sent since the last one was made: make one per scan.
    """

    def __init__(self, store: Store, key: bytes, settings: BouncesConfig,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._resolver = Resolver(key, store)

    def process(self, raw: bytes) -> Outcome:
        """Classify one message and record what it says.

        Raises:
            StoreError: the database could not be written; the message was not processed
                and must be kept for the next try.
        """
        digest = hashlib.sha256(raw).hexdigest()
        seen = self._store.inbound_seen(digest)
        if seen is not None:
            return Outcome("duplicate", f"processed before ({seen})")
        now = self._clock()
        if len(raw) > self._settings.max_message_bytes:
            outcome = Outcome("unrecognised", f"{len(raw):,} bytes, more than [bounces] "
                              f"max_message_bytes ({self._settings.max_message_bytes:,})")
            self._store.record_inbound(digest, outcome.outcome, outcome.detail, [], [], now)
            return outcome
        report = classify(raw)
        if report.form in ("unrecognised", "autoreply"):
            outcome = Outcome(report.form, report.detail)
        else:
            bound, verdict = self._deliveries(report)
            if bound:
                return self._act(digest, report, bound, now)
            outcome = Outcome(verdict, _unbound(verdict, report))
        self._store.record_inbound(digest, outcome.outcome, outcome.detail, [], [], now)
        return outcome

    def _deliveries(self, report: Report
                    ) -> tuple[list[tuple[str, str, Finding]], OutcomeName]:
        """(edition, address, finding) for each delivery the report is about."""
        tokens = [t for a in report.addresses
                  if self._settings.address and (t := token_of(self._settings.address, a))]
        verdicts: list[OutcomeName] = []
        for token in tokens:
            resolved = self._resolver.resolve(token)
            if isinstance(resolved, tuple):
                worst = min(report.findings, key=lambda f: _RANK[f.kind], default=None)
                if worst is None:
                    return [], "ignored"
                return [(resolved[0], resolved[1], worst)], "ignored"
            verdicts.append(resolved)
        if verdicts:  # a token, but none of ours that names a known delivery
            return [], "unknown" if "unknown" in verdicts else "forged"
        bound = []
        for finding in report.findings:
            try:
                email = normalize_address(finding.recipient)
            except SubscriberError:
                continue
            edition = self._store.latest_delivery(email, report.edition)
            if edition is not None:
                bound.append((edition, email, finding))
        return bound, "unknown"

    def _act(self, digest: str, report: Report, bound: list[tuple[str, str, Finding]],
             now: datetime) -> Outcome:
        events: list[BounceEvent] = []
        suppress: list[Evidence] = []
        for edition, email, finding in bound:
            if finding.kind == "ignored":
                continue
            key = hashlib.sha256("\0".join(
                (report.message_id or digest, edition, email, finding.kind)).encode()
            ).hexdigest()[:40]
            event = BounceEvent(key, email, edition, finding.kind, finding.status,
                                finding.evidence, now)
            events.append(event)
            history = self._store.history(email)
            if all(e.key != key for e in history.events):
                history = replace(history, events=[*history.events, event])
            decision = decide(email, edition, finding, history, self._settings, now)
            if decision is not None:
                suppress.append(decision)
        worst = min((f.kind for _, _, f in bound), key=lambda k: _RANK[k])
        newly = self._store.record_inbound(digest, worst, _detail(report, bound), events,
                                           suppress, now)
        return Outcome(worst, _detail(report, bound), tuple(newly),
                       tuple((e, a) for e, a, _ in bound))


def _detail(report: Report, bound: list[tuple[str, str, Finding]]) -> str:
    return "; ".join(f"{report.form} {f.kind} {email} ({edition}): "
                     f"{f.status + ' ' if f.status else ''}{f.evidence}"
                     for edition, email, f in bound)[:1000]


def _unbound(verdict: OutcomeName, report: Report) -> str:
    if verdict == "forged":
        return f"{report.form}: a VERP token that we did not sign; nothing done"
    if verdict == "ignored":
        return f"{report.form}: nothing failed"
    named = ", ".join(sorted({f.recipient for f in report.findings if f.recipient})) or "none"
    return f"{report.form} for a delivery not in the ledger (recipients named: {named})"
