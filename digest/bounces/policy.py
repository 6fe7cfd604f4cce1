"""Policy: whether what came back about one delivery suppresses the address (pure).

In: the finding's kind (hard, soft, complaint), the address's history (accepted deliveries
and bounce events, the new one included), `[bounces]` soft_limit and window_days, and now.
Out: the suppression's evidence, or None.

A hard bounce (the address or its domain does not exist) and a complaint suppress at once:
mailing either again is what mailbox providers penalise. Soft bounces (a full mailbox, a
policy block) suppress only after `soft_limit` editions in a row bounced within
`window_days`: "in a row" means no edition accepted without a bounce came between them, so
an address that bounced once a month ago and has received every edition since is not
counted out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.bounces.classify import Finding
from digest.config import BouncesConfig
from digest.store.bounces import Evidence, History


def decide(email: str, edition_id: str, finding: Finding, history: History,
           settings: BouncesConfig, now: datetime) -> Evidence | None:
    """The suppression this finding makes, or None.

    Args:
        email: the subscriber's address (the ledger's key).
        edition_id: the edition the bounce answers.
        finding: what the report says (its kind, status and raw line).
        history: the address's accepted deliveries and bounce events, this one included.
        settings: [bounces] soft_limit and window_days.
        now: when the message was processed.
    """
    if finding.kind in ("hard", "complaint"):
        return Evidence(email, finding.kind, edition_id, finding.status, finding.evidence, now)
    if finding.kind != "soft":
        return None
    count = soft_in_a_row(history, now, timedelta(days=settings.window_days))
    if count < settings.soft_limit:
        return None
    return Evidence(email, "soft", edition_id, finding.status,
                    f"{count} editions in a row soft-bounced within {settings.window_days:g} "
                    f"days; the last: {finding.evidence}", now)


def soft_in_a_row(history: History, now: datetime, window: timedelta) -> int:
    """How many editions soft-bounced since the last edition accepted without a bounce.

    Only bounces received within `window` of `now` count. An edition's time is when the
    server accepted it (the ledger), or when its bounce arrived if the ledger has no row.
    Accepted editions newer than the latest soft bounce do not reset the count: their
    bounces may still be on the way.
    """
    bounced = {e.edition_id for e in history.events}
    accepted = dict(history.sent)
    times = {e.edition_id: accepted.get(e.edition_id, e.received)
             for e in history.events if e.kind == "soft" and e.received >= now - window}
    if not times:
        return 0
    latest = max(times.values())
    good = [when for edition, when in history.sent if edition not in bounced and when < latest]
    since = max(good, default=None)
    return sum(1 for when in times.values() if since is None or when > since)
