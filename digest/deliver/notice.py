"""Notices on the wire: one confirmation or welcome email to one reader, right now.

In: a `Notice` from the audience stage, the sender, the SMTP settings and password, a clock.
Out: the message accepted by the SMTP server, or a `SendError` saying what it answered. No
ledger row: a notice is not an edition. The web app gets `notice_mailer(...)` from the
composition root, so it never knows SMTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from digest.audience.notices import Mail, Notice
from digest.config import SmtpConfig
from digest.deliver.message import Sender
from digest.deliver.send import close, connect, send_one
from digest.errors import SendError
from digest.ingest.sanitize import one_line


def notice_message(notice: Notice, sender: Sender, now: datetime) -> EmailMessage:
    """The notice as an email: From, To, Subject, Date, Message-ID, text and HTML parts."""
    msg = EmailMessage()
    msg["From"] = sender.from_header
    msg["To"] = notice.to
    msg["Subject"] = one_line(notice.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{notice.kind}.{secrets.token_hex(16)}@{sender.domain}>"
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    # RFC 3834: made by a program in answer to a request; autoresponders must not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Digest-Notice"] = notice.kind
    msg.set_content(notice.text, subtype="plain", charset="utf-8")
    msg.add_alternative(notice.html, subtype="html", charset="utf-8")
    return msg


def notice_mailer(settings: SmtpConfig, password: str, sender: Sender,
                  clock: Callable[[], datetime]) -> Mail:
    """A callable that sends one notice over a connection of its own.

    Raises (from the callable):
        SendError: the server could not be reached, or did not accept the message.
    """
    def mail(notice: Notice) -> None:
        data = notice_message(notice, sender, clock()).as_bytes(policy=SMTP)
        smtp = connect(settings, password)
        try:
            result, reply = send_one(smtp, sender.address, notice.to, data,
                                     smtp.has_extn("pipelining"))
        finally:
            close(smtp)
        if result != "sent":
            raise SendError(f"the SMTP server did not take the {notice.kind} email to "
                            f"{notice.to}: {reply}")
    return mail
