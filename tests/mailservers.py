"""aiosmtpd servers that answer like real ones do: greylisting (451), unknown users (550),
connections dropped mid-session, 421 at the greeting, slow acceptance. For the delivery tests."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from digest.sink.server import free_port


@dataclass
class Behaviour:
    """What the server does; every counter is shared by all its connections."""

    greylist: dict[str, int] = field(default_factory=dict)  # address -> 451s before 250
    unknown_users: set[str] = field(default_factory=set)  # 550 at RCPT
    drop_at_mail: set[int] = field(default_factory=set)  # drop the connection at these MAILs
    drop_after_data: set[int] = field(default_factory=set)  # keep message n, then drop unanswered
    refuse_greetings: int = 0  # this many connections get "421" instead of "220"
    delay: float = 0.0  # seconds before answering the end of data
    login: tuple[str, str] | None = None  # require AUTH with this user and password
    starttls: ssl.SSLContext | None = None  # offer STARTTLS (and require it) with this
    implicit_tls: ssl.SSLContext | None = None  # TLS from the first byte (security = "ssl")
    pipelining: bool = False  # advertise PIPELINING (RFC 2920) in the EHLO answer
    data_without_rcpt: bool = False  # answer 354 to DATA even when every RCPT was refused


class BehavingHandler:
    """Records what arrived (parsed) and every RCPT it was asked, answering per `Behaviour`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.b = behaviour
        self.lock = threading.Lock()
        self.received: list[tuple[str, EmailMessage, bytes]] = []  # (rcpt, parsed, raw)
        self.rcpt_asked: Counter[str] = Counter()
        self.mails = 0
        self.datas = 0
        self.connections = 0
        self.logins: list[str] = []
        self.pipelined = 0  # MAILs that arrived with the next command already behind them
        self.empty_datas = 0  # DATA accepted without a recipient (data_without_rcpt)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        with self.lock:
            self.mails += 1
            n = self.mails
            # the client wrote RCPT (and DATA) before waiting for this answer
            self.pipelined += bool(server._reader._buffer)
        if n in self.b.drop_at_mail:
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        with self.lock:
            self.rcpt_asked[address] += 1
            if address in self.b.unknown_users:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if self.b.greylist.get(address, 0) > 0:
                self.b.greylist[address] -= 1
                return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.b.delay:
            await asyncio.sleep(self.b.delay)
        raw: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.datas += 1
            n = self.datas
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, parsed, raw))
        if n in self.b.drop_after_data:
            server.transport.abort()
        return "250 2.0.0 Ok: queued"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _, _ in self.received)


class PipeliningHandler(BehavingHandler):
    """Also advertises PIPELINING (aiosmtpd reads commands in order, pipelined or not)."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class _Server(SMTP):  # type: ignore[misc]
    handler_ref: BehavingHandler

    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        if handler.b.data_without_rcpt and not self.envelope.rcpt_tos:
            # a server that ignores RFC 2920 3.1: the client must send nothing but the dot
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            lines = []
            while (line := await self._reader.readline()) not in (b".\r\n", b""):
                lines.append(line)
            with handler.lock:
                handler.empty_datas += 1
                assert not lines, lines
            await self.push("554 5.5.1 Error: no valid recipients")
            return
        await super().smtp_DATA(arg)

    async def _handle_client(self) -> None:
        handler = self.event_handler
        with handler.lock:
            handler.connections += 1
            refuse = handler.b.refuse_greetings > 0
            if refuse:
                handler.b.refuse_greetings -= 1
        if refuse:
            await self.push("421 4.3.2 Too many connections, try again later")
            self.transport.close()
            return
        await super()._handle_client()


class _Controller(Controller):  # type: ignore[misc]
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


@contextmanager
def mail_server(behaviour: Behaviour) -> Iterator[tuple[BehavingHandler, int]]:
    """A behaving aiosmtpd server on a free loopback port: yields (handler, port)."""
    handler = (PipeliningHandler if behaviour.pipelining else BehavingHandler)(behaviour)
    port = free_port()
    kwargs: dict[str, Any] = {}
    if behaviour.login is not None:
        user, password = behaviour.login

        def check(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
            if ok:
                handler.logins.append(user)
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": check, "auth_require_tls": False, "auth_required": True}
    if behaviour.starttls is not None:
        kwargs |= {"tls_context": behaviour.starttls, "require_starttls": True}
    if behaviour.implicit_tls is not None:
        kwargs["ssl_context"] = behaviour.implicit_tls
    controller = _Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
