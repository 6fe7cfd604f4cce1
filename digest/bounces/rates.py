"""Rates: an edition's bounce and complaint rates next to the lines senders are held to.

In: the edition's ledger counts and its bounce-event counts. Out: the rates and the lines
they pass. Gmail's bulk-sender rules (2024) ask for a spam-complaint rate under 0.3% and aim
at 0.1%; for hard bounces, 2% is a common warning line of mailbox providers and relays.

Hard bounces are the 5xx answers during our own SMTP session (the ledger's `failed`) plus
the hard bounces that came back later, over every message handed to a server; complaints
are over the messages accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (what is counted, the line's name, the rate it must stay under)
LINES: tuple[tuple[str, str, float], ...] = (
    ("hard", "hard bounces 2%", 0.02),
    ("complaint", "complaints 0.1% (Gmail's target)", 0.001),
    ("complaint", "complaints 0.3% (Gmail's limit)", 0.003),
)


def edition_rates(ledger: Mapping[str, int], bounces: Mapping[str, int]) -> dict[str, Any]:
    """The figures `digest status` shows for one edition.

    Args:
        ledger: the edition's ledger rows per status (sent, failed, ...).
        bounces: addresses with each kind of bounce event (hard, soft, complaint).
    Returns:
        delivered, hard, soft, complaint, hard_rate, complaint_rate and the warnings: each
        line passed, with its rate and limit.
    """
    delivered = ledger.get("sent", 0)
    attempted = delivered + ledger.get("failed", 0)
    hard = ledger.get("failed", 0) + bounces.get("hard", 0)
    complaint = bounces.get("complaint", 0)
    rates = {"hard": hard / attempted if attempted else 0.0,
             "complaint": complaint / delivered if delivered else 0.0}
    warnings = [{"line": name, "rate": rates[kind], "limit": limit}
                for kind, name, limit in LINES if rates[kind] > limit]
    return {"delivered": delivered, "hard": hard, "soft": bounces.get("soft", 0),
            "complaint": complaint, "hard_rate": rates["hard"],
            "complaint_rate": rates["complaint"], "warnings": warnings}


def rates_line(figures: Mapping[str, Any]) -> str:
    """One line for people: `hard bounces 0.4% (2), complaints 0.0% (0)` and any warning."""
    line = (f"hard bounces {figures['hard_rate']:.1%} ({figures['hard']}), "
            f"soft {figures['soft']}, "
            f"complaints {figures['complaint_rate']:.1%} ({figures['complaint']})")
    for warning in figures["warnings"]:
        line += f"; WARNING: above the {warning['line']} line"
    return line
