"""Send: hand each subscriber's message to the SMTP server and report every answer.

In: a stream of (subscriber, message) pairs, the SMTP settings and password. Out: one
`Delivery` per message, passed to `record` the moment the server answers, so the ledger moves
only on the server's word. The local sink is just another SMTP server to this module.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Iterable
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from digest.config import SmtpConfig
from digest.errors import SendError
from digest.model import Delivery, DeliveryStatus, Subscriber

log = logging.getLogger(__name__)

Record = Callable[[Delivery], None]


def connect(settings: SmtpConfig, password: str) -> smtplib.SMTP:
    """An SMTP session, TLS and AUTH done as configured.

    Raises:
        SendError: the server cannot be reached, refuses TLS or refuses the login.
    """
    where = f"{settings.host}:{settings.port}"
    try:
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, password)
        return smtp
    except smtplib.SMTPAuthenticationError as e:
        raise SendError(f"SMTP server {where} refused the login for {settings.username!r}: "
                        f"{_reply(e.smtp_code, e.smtp_error)}; check [smtp] username and "
                        f"${settings.password_env}") from e
    except smtplib.SMTPResponseException as e:
        raise SendError(f"SMTP server {where} refused the session: "
                        f"{_reply(e.smtp_code, e.smtp_error)}") from e
    except (OSError, smtplib.SMTPException) as e:
        raise SendError(f"cannot reach the SMTP server {where}: {e}; check [smtp] host and port "
                        "(for a local preview run `digest sink`)") from e


def deliver(
    messages: Iterable[tuple[Subscriber, EmailMessage]],
    settings: SmtpConfig,
    password: str,
    edition_id: str,
    record: Record,
) -> None:
    """Send every message over one reused connection, reporting each outcome to `record`.

    A 5xx answer is `failed`, a 4xx answer `deferred`; a connection lost while a message was
    on the wire leaves that message `unknown` (it may have arrived) and the next message gets
    a new connection.

    Raises:
        SendError: the server cannot be reached at all (nothing more can be sent).
    """
    smtp: smtplib.SMTP | None = None
    sender_address = ""
    try:
        for subscriber, message in messages:
            if smtp is None:
                smtp = connect(settings, password)
            sender_address = sender_address or _envelope_sender(message)
            delivery = _send_one(smtp, message, sender_address, subscriber, edition_id)
            record(delivery)
            if delivery.status == "unknown" or delivery.reply.startswith("421"):
                _close(smtp)
                smtp = None
    finally:
        if smtp is not None:
            _close(smtp)


def _send_one(
    smtp: smtplib.SMTP, message: EmailMessage, sender: str, subscriber: Subscriber,
    edition_id: str,
) -> Delivery:
    message_id = str(message["Message-ID"])
    email = subscriber.email
    options = ["SMTPUTF8"] if not email.isascii() and smtp.has_extn("smtputf8") else []
    try:
        code, text = smtp.mail(sender, options)
        if code == 250:
            code, text = smtp.rcpt(email)
        if code in (250, 251):
            code, text = smtp.data(message.as_bytes(policy=policy.SMTP))
        if code == 250:
            return Delivery(edition_id, email, "sent", _reply(code, text), message_id, 1)
        if code != 421:
            smtp.rset()
        return _refused(edition_id, email, code, text, message_id)
    except smtplib.SMTPDataError as e:  # DATA itself refused (no 354)
        smtp.rset()
        return _refused(edition_id, email, e.smtp_code, e.smtp_error, message_id)
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        log.warning("connection lost while sending to %s: %s", email, e)
        return Delivery(edition_id, email, "unknown", f"connection lost: {e}", message_id, 1)


def _refused(edition_id: str, email: str, code: int, text: bytes | str,
             message_id: str) -> Delivery:
    status: DeliveryStatus = "deferred" if 400 <= code < 500 else "failed"
    reply = _reply(code, text)
    log.warning("%s: %s (%s)", email, reply, status)
    return Delivery(edition_id, email, status, reply, message_id, 1)


def _envelope_sender(message: EmailMessage) -> str:
    return parseaddr(str(message["From"]))[1]


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
