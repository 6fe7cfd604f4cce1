"""Sink: a local SMTP server (aiosmtpd) that keeps every message it receives in a Maildir.

In: a host, a port and a Maildir folder. Out: every accepted message stored as one Maildir
file with LF line endings (readable by mutt or any mail client), and one line per message
reported to a callback.
Editors preview editions here; `digest demo` and the tests send to it like to any server.
"""

from __future__ import annotations

import mailbox
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from digest.errors import InputError


@dataclass(frozen=True)
class Received:
    """One line's worth of what the sink stored."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    size: int
    key: str  # the Maildir key

    def line(self) -> str:
        return (f"from {self.sender} to {', '.join(self.recipients)}: "
                f"{self.subject!r} ({self.size:,} bytes)")


class MaildirHandler:
    """An aiosmtpd handler that stores each message, adding the envelope as headers."""

    def __init__(self, maildir: Path, report: Callable[[Received], None] | None = None) -> None:
        self.maildir = mailbox.Maildir(maildir, create=True)
        self.report = report
        self._lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        envelope_header = (
            f"X-Sink-Envelope-From: {envelope.mail_from}\n"
            f"X-Sink-Envelope-To: {', '.join(envelope.rcpt_tos)}\n"
        ).encode()
        message = message_from_bytes(content, policy=policy.default)
        # SMTP carries CRLF; a Maildir holds the local line ending, LF, as Postfix and
        # Dovecot deliver it (mutt shows every CR as "^M").
        stored = envelope_header + content.replace(b"\r\n", b"\n")
        with self._lock:
            key = self.maildir.add(stored)
            self.count += 1
        if self.report is not None:
            self.report(Received(
                sender=str(envelope.mail_from), recipients=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")), size=len(content), key=key,
            ))
        return f"250 2.0.0 Ok: queued as {key}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_sink(
    maildir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    report: Callable[[Received], None] | None = None,
) -> Iterator[tuple[MaildirHandler, int]]:
    """Run the sink in a background thread for the duration of the block.

    Yields:
        The handler (for its count) and the port it listens on.
    Raises:
        InputError: the port is taken or cannot be bound.
    """
    handler = MaildirHandler(maildir, report)
    port = port or free_port(host)
    controller = Controller(handler, hostname=host, port=port, data_size_limit=50 * 1024 * 1024)
    try:
        controller.start()
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot listen on {host}:{port}: {e}; choose another --port") from e
    try:
        yield handler, port
    finally:
        controller.stop()
