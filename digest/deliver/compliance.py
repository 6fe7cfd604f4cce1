"""What mailbox providers and the law expect of a bulk sender, checked before a send.

In: the `[newsletter]` settings. Out: one line per problem, for the operator: `digest send`
logs them as warnings, and with `--strict` refuses to send (exit 2). Pure: no network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from digest.config import NewsletterConfig


def send_problems(newsletter: NewsletterConfig) -> list[str]:
    """The reasons this newsletter's mail may be refused or unlawful, each with what to do.

    Args:
        newsletter: the validated `[newsletter]` table.
    Returns:
        One message a problem; empty when there is none.
    """
    problems = []
    base = urlsplit(newsletter.base_url)
    if base.scheme != "https":
        problems.append(
            f"[newsletter] base_url {newsletter.base_url!r} is not https: Gmail and Yahoo "
            "honour one-click unsubscribe (RFC 8058, List-Unsubscribe-Post) only at an https "
            "URL, and bulk mail without it is rejected or filed as spam; serve `digest serve` "
            "behind https and set base_url to that address")
    if not newsletter.postal_address.strip():
        problems.append(
            "[newsletter] postal_address is empty: CAN-SPAM requires a valid postal address "
            "in every commercial message; set it to your street address or PO box (it is "
            "shown in the footer)")
    return problems
