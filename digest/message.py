"""Address: make one subscriber's email from a rendered edition.

In: a `Rendered` edition, a `Subscriber`, the newsletter's sender and links. Out: an
`email.message.EmailMessage` with every header (From, To for that subscriber alone, Subject,
Date, Message-ID, List-Id, List-Unsubscribe, List-Unsubscribe-Post, X-Digest-Edition) and a
multipart/alternative body: text/plain first, text/html last. Feed text reaches headers only
through `one_line`, so it can never add a header.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from digest.model import Rendered, Subscriber
from digest.sanitize import one_line
from digest.subscribers import make_token


@dataclass(frozen=True)
class Sender:
    """Who the newsletter comes from and where its links point."""

    newsletter: str
    from_header: str  # "Name <address>"
    base_url: str  # no trailing slash
    token_key: bytes
    reply_to: str = ""

    @property
    def address(self) -> str:
        return parseaddr(self.from_header)[1]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


class Personalizer:
    """A rendered text split once at its placeholders, filled per recipient by one join."""

    def __init__(self, text: str, placeholders: Mapping[str, str]) -> None:
        name_of = {mark: name for name, mark in placeholders.items()}
        pattern = re.compile("(" + "|".join(re.escape(m) for m in name_of) + ")")
        pieces = pattern.split(text)
        # Even indexes are literal text, odd ones are placeholder names.
        self._pieces = [p if i % 2 == 0 else name_of[p] for i, p in enumerate(pieces)]

    def fill(self, values: Mapping[str, str]) -> str:
        pieces = self._pieces[:]
        for i in range(1, len(pieces), 2):
            pieces[i] = values[pieces[i]]
        return "".join(pieces)


def recipient_values(sender: Sender, subscriber: Subscriber, edition_id: str) -> dict[str, str]:
    """The per-subscriber values the templates' placeholders stand for (plain text)."""
    token = make_token(sender.token_key, subscriber.list_name, subscriber.email)
    return {
        "name": subscriber.name,
        "email": subscriber.email,
        "unsubscribe_url": f"{sender.base_url}/unsubscribe?t={token}",
        "preferences_url": f"{sender.base_url}/preferences?t={token}",
        "browser_url": f"{sender.base_url}/archive/{quote(edition_id)}",
    }


def message_id(sender: Sender, edition_id: str, email: str) -> str:
    """The same Message-ID for the same edition and subscriber on every try."""
    digest = hashlib.sha256(f"{edition_id}\0{email}".encode()).hexdigest()[:32]
    return f"<{one_line(edition_id)}.{digest}@{sender.domain}>"


def build_message(
    rendered: Rendered,
    subscriber: Subscriber,
    sender: Sender,
    now: datetime,
    html_part: Personalizer | None = None,
    text_part: Personalizer | None = None,
) -> EmailMessage:
    """One subscriber's email.

    Args:
        rendered: the edition variant, placeholders unfilled.
        subscriber: the one recipient.
        sender: From, links and the token key.
        now: the Date header's value.
        html_part, text_part: the rendered parts already split (reused across recipients).
    Returns:
        The complete message.
    """
    html_part = html_part or Personalizer(rendered.html, rendered.placeholders)
    text_part = text_part or Personalizer(rendered.text, rendered.placeholders)
    values = recipient_values(sender, subscriber, rendered.edition_id)
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    token = make_token(sender.token_key, subscriber.list_name, subscriber.email)

    msg = EmailMessage()
    msg["From"] = sender.from_header
    msg["To"] = Address(display_name=one_line(subscriber.name), addr_spec=subscriber.email)
    msg["Subject"] = one_line(rendered.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(sender, rendered.edition_id, subscriber.email)
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    list_name = re.sub(r"[^a-z0-9-]+", "-", subscriber.list_name.lower()).strip("-") or "list"
    msg["List-Id"] = formataddr((one_line(sender.newsletter), f"{list_name}.{sender.domain}"))
    msg["List-Unsubscribe"] = (
        f"<{values['unsubscribe_url']}>, "
        f"<mailto:{sender.address}?subject={quote('unsubscribe ' + token)}>"
    )
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Digest-Edition"] = one_line(rendered.edition_id)
    msg.set_content(text_part.fill(values), subtype="plain", charset="utf-8")
    msg.add_alternative(html_part.fill(escaped), subtype="html", charset="utf-8")
    return msg
