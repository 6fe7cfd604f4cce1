"""Serve: an SMTP server (aiosmtpd) that takes bounces and complaints as they arrive.

In: a host and port, the bounce address and the VERP key, the spool Maildir, and a function
that scans the spool. Out: each accepted message stored durably in the spool (fsynced) before
the 250, then processed by the spool's scan in a thread of its own.

It is no open relay: a recipient is accepted only in the form `bounces+TOKEN@domain` with a
token we signed; anything else is refused at RCPT with 550. The SIZE limit (advertised in the
EHLO answer) refuses a bigger message with 552, at MAIL when the client declares its size,
else at the end of the data, which aiosmtpd then discards as it reads. A message that cannot
be stored gets 451, so its sender tries again later. A message whose processing fails stays
in the spool and is tried again every `retry_seconds`, and at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from digest.bounces.mailbox import Spool
from digest.bounces.verp import read_token, token_of
from digest.errors import InputError

log = logging.getLogger(__name__)


class BounceHandler:
    """aiosmtpd handler: accepts only signed VERP recipients; stores before answering."""

    def __init__(self, bounce_address: str, key: bytes, spool: Spool,
                 stored: Callable[[], None]) -> None:
        self._address = bounce_address
        self._key = key
        self._spool = spool
        self._stored = stored
        self.accepted = 0
        self.refused = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        token = token_of(self._address, address)
        if token is None or read_token(self._key, token) is None:
            self.refused += 1
            log.info("refused RCPT %r from %s: not a signed bounce address", address,
                     session.peer)
            return f"550 5.1.1 <{_printable(address)}>: no such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        loop = asyncio.get_running_loop()
        try:
            for rcpt in envelope.rcpt_tos:
                # The envelope as a delivery agent writes it, so the scan finds the token
                # where it finds a Maildir's: in the topmost Delivered-To.
                head = (f"Return-Path: <{_printable(envelope.mail_from or '')}>\r\n"
                        f"Delivered-To: {_printable(rcpt)}\r\n").encode()
                await loop.run_in_executor(None, self._spool.add, head + content)
        except OSError as e:
            log.error("cannot store a message in %s: %s", self._spool.path, e)
            return "451 4.3.0 cannot store the message now; try again later"
        self.accepted += 1
        self._stored()
        return "250 2.0.0 Ok: stored"


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in "<>")[:300]


class _BounceSMTP(SMTP):
    # Real bounces quote the original's lines, and some MTAs write lines far over RFC 5321's
    # 1,000 octets: refusing them would lose the bounce. 64 KiB still bounds a line's memory.
    line_length_limit = 64 * 1024


class _BounceController(Controller):
    def factory(self) -> SMTP:
        return _BounceSMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def running_bounce_server(
    handler: BounceHandler, host: str, port: int, max_bytes: int,
) -> Iterator[Controller]:
    """The SMTP server in a background thread for the duration of the block.

    Raises:
        InputError: the port is taken or cannot be bound.
    """
    controller = _BounceController(handler, hostname=host, port=port, data_size_limit=max_bytes,
                            ident="digest bounces")
    try:
        controller.start()
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot listen on {host}:{port}: {e}; choose another --port") from e
    try:
        yield controller
    finally:
        controller.stop()


class SpoolWorker:
    """Scans the spool in a thread of its own: when woken, and every `retry_seconds`."""

    def __init__(self, scan: Callable[[threading.Event], None], stop: threading.Event,
                 retry_seconds: float = 30.0) -> None:
        self._scan = scan
        self._stop = stop
        self._wake = threading.Event()
        self._retry = retry_seconds
        self._thread = threading.Thread(target=self._run, name="bounce-spool", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._wake.set()  # what an earlier run left in the spool first
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._retry)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._scan(self._stop)
            except Exception:  # the spool keeps the messages; the next pass tries again
                log.exception("processing the bounce spool failed; trying again in %gs",
                              self._retry)
