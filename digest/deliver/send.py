"""Send: hand messages to the SMTP server over a pool of reused connections.

In: jobs (a subscriber and the prepared message that makes its bytes), the SMTP settings and
password. Out: one `Attempt` per job, the server's own answer, classified as the ledger needs
it. A connection is owned by one worker thread; the caller (`digest/delivery.py`) hands a
worker its next job only after recording the previous answer, which is what makes the ledger
move on the server's word. The local sink is just another SMTP server to this module.

smtplib in a few threads rather than aiosmtplib: measured, aiosmtplib spent about
twice smtplib's client CPU per message, and the sockets release the GIL while they wait.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from digest.config import SmtpConfig
from digest.errors import SendError
from digest.model import Subscriber

log = logging.getLogger(__name__)

# sent: the server answered 250 to the end of data. deferred / failed: a 4xx / 5xx answer.
# unknown: the connection dropped after the whole message went out, before the answer: it
# may have arrived. again: not handed over (dropped before the end of data went out, or 421),
# safe to send again on another connection.
Result = Literal["sent", "deferred", "failed", "unknown", "again"]

# The MAIL FROM: one address for every message, or one per subscriber's address (VERP, so
# that a bounce names the delivery it answers).
EnvelopeFrom = str | Callable[[str], str]


class Outgoing(Protocol):
    """What makes a subscriber's message: `message.PreparedMessage` is one."""

    def wire(self, subscriber: Subscriber) -> bytes: ...

    def message_id(self, email: str) -> str: ...


@dataclass(frozen=True)
class Job:
    subscriber: Subscriber
    message: Outgoing
    tries: int = 0  # temporary failures so far in this run


@dataclass(frozen=True)
class Attempt:
    """The server's answer to one job."""

    job: Job
    result: Result
    reply: str
    worker: int
    alive: bool = True  # False: the worker could not reconnect and has ended


def connect(settings: SmtpConfig, password: str) -> smtplib.SMTP:
    """An SMTP session, TLS and AUTH done as configured.

    Raises:
        SendError: the server cannot be reached, refuses TLS or refuses the login; `.fatal`
            is set when trying again cannot help (the login was refused).
    """
    where = f"{settings.host}:{settings.port}"
    try:
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds,
                                    context=_tls_context(settings))
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        if smtp.sock is not None:
            # Our writes are whole commands or whole messages: nothing to gain from Nagle's
            # algorithm holding back a message's last segment for the previous one's ACK.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=_tls_context(settings))
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, password)
        return smtp
    except smtplib.SMTPAuthenticationError as e:
        raise SendError(f"SMTP server {where} refused the login for {settings.username!r}: "
                        f"{reply_text(e.smtp_code, e.smtp_error)}; check [smtp] username and "
                        f"${settings.password_env}", fatal=True) from e
    except smtplib.SMTPResponseException as e:
        raise SendError(f"SMTP server {where} refused the session: "
                        f"{reply_text(e.smtp_code, e.smtp_error)}") from e
    except (OSError, smtplib.SMTPException) as e:
        raise SendError(f"cannot reach the SMTP server {where}: {e}; check [smtp] host and port "
                        "(for a local preview run `digest sink`)") from e


def _tls_context(settings: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.tls_ca_file:
        context.load_verify_locations(settings.tls_ca_file)
    return context


def send_one(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes,
             pipelining: bool = False) -> tuple[Result, str]:
    """One message over an open session: MAIL, RCPT, DATA, and the answer to the data.

    The commands are written here rather than by `smtplib.SMTP.mail/rcpt/data`: smtplib parses
    every address again per message and dot-stuffs with two regular expressions; and we must
    know whether the end of the data went out: a connection lost before that is `again` (the
    server cannot have accepted it), after it `unknown`. When the server advertises PIPELINING
    (RFC 2920), MAIL, RCPT and DATA go out in one write and their three answers are read after
    it: one round trip instead of three. Never across messages: the next MAIL waits for this
    message's answer, so at most one message per connection is ever in flight.

    Args:
        smtp: an open session (`connect`).
        sender: the MAIL FROM address.
        recipient: the one RCPT TO address.
        data: the message, CRLF line ends, not dot-stuffed.
        pipelining: the server advertised PIPELINING.
    Returns:
        The classified result and the server's reply on one line.
    """
    if not _plain_address(recipient):
        return "failed", f"550 not a usable address: {recipient!r}"
    utf8 = not data.isascii() and smtp.has_extn("smtputf8")
    if not recipient.isascii() and not utf8:
        return "failed", "553 the server does not offer SMTPUTF8, which this address needs"
    mail = f"MAIL FROM:<{sender}>{' SMTPUTF8' if utf8 else ''}\r\n".encode()
    rcpt = f"RCPT TO:<{recipient}>\r\n".encode()
    written = False
    try:
        if pipelining:
            code, text = _pipelined(smtp, mail + rcpt + b"DATA\r\n")
        else:
            code, text = _command(smtp, mail)
            if code == 250:
                code, text = _command(smtp, rcpt)
            if code in (250, 251):
                code, text = _command(smtp, b"DATA\r\n")
        if code == 354:
            payload = data.replace(b"\r\n.", b"\r\n..")
            if payload.startswith(b"."):
                payload = b"." + payload
            # one write for the data and its end: no second syscall, no lone small segment
            end = b".\r\n" if payload.endswith(b"\r\n") else b"\r\n.\r\n"
            _write(smtp, payload + end)
            written = True
            code, text = smtp.getreply()
        elif code != 421 and code > 0:
            # the answer stands even if RSET fails; the next message then finds the
            # connection gone and reconnects
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.rset()
        return _classify(code), reply_text(code, text)
    except (smtplib.SMTPException, OSError) as e:
        return ("unknown" if written else "again"), f"connection lost: {e}"


def _write(smtp: smtplib.SMTP, data: bytes) -> None:
    if smtp.sock is None:
        raise smtplib.SMTPServerDisconnected("the connection is closed")
    smtp.sock.sendall(data)


def _command(smtp: smtplib.SMTP, line: bytes) -> tuple[int, bytes]:
    _write(smtp, line)
    return smtp.getreply()


def _pipelined(smtp: smtplib.SMTP, lines: bytes) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA in one write; the answer that decides (the first refusal, else
    DATA's 354).

    A server may still answer 354 to DATA after refusing the recipient (RFC 2920 asks it not
    to); the data is then only the terminating dot, so nothing is delivered, and the
    recipient's refusal is the answer. A 421 ends the reading: the server is closing.
    """
    _write(smtp, lines)
    mail = smtp.getreply()
    if mail[0] == 421:
        return mail
    rcpt = smtp.getreply()
    if rcpt[0] == 421:
        return rcpt
    data = smtp.getreply()
    if data[0] == 421:
        return data  # closing: whatever RCPT said, it is tried again on another connection
    if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        _write(smtp, b".\r\n")  # an empty message, refused or dropped by the server
        smtp.getreply()
    refused = mail if mail[0] != 250 else rcpt if rcpt[0] not in (250, 251) else None
    if refused is None:
        return data
    return refused


def _plain_address(address: str) -> bool:
    """The address can go into a command line as it is (no line break, no angle bracket)."""
    return bool(address) and not any(c in address for c in "\r\n<> ")


def _classify(code: int) -> Result:
    if code == 250:
        return "sent"
    if code == 421:
        return "again"  # the server is closing this session; nothing was accepted
    return "deferred" if 400 <= code < 500 else "failed"


def reply_text(code: int, text: bytes | str) -> str:
    """A server reply on one line: `550 5.1.1 no such user`."""
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


def close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; just close when the server is gone."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class Pool:
    """`connections` worker threads, each owning one reused SMTP connection.

    `submit` queues a job for the next free worker; the worker sends it and hands the
    answer to `answered` *in its own thread*, before it takes another job: that callback is
    where the ledger is written, so the answer is committed before the next message goes
    out on that connection (and when it returns False, the answer could not be kept and the
    worker ends). A worker reconnects after a 421, a lost connection or
    `max_per_connection` messages; it waits between failed connects (the
    `retry_backoff_seconds`) and gives up after as many as that list is long, handing its job
    back (`alive=False`) and keeping the reason in `errors`.
    """

    def __init__(self, settings: SmtpConfig, password: str, sender: EnvelopeFrom,
                 stop: threading.Event, answered: Callable[[Attempt], bool]) -> None:
        self._settings = settings
        self._password = password
        self._sender = sender
        self._stop = stop
        self._answered = answered
        # Each job with its wire bytes, made by the thread that submits it, so a worker sends
        # its next message the moment its answer is recorded (or the error making them).
        self._jobs: queue.Queue[tuple[Job, bytes | Exception] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.errors: list[SendError] = []
        self.connected = threading.Event()  # at least one session was ever opened
        for n in range(settings.connections):
            thread = threading.Thread(target=self._work, args=(n,), name=f"smtp-{n}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    @property
    def alive(self) -> int:
        return len(self._threads) - len(self.errors)

    @property
    def fatal(self) -> SendError | None:
        """An error no retry can help (a refused login), if a worker met one."""
        return next((e for e in self.errors if e.fatal), None)

    def submit(self, job: Job) -> None:
        """Make the job's message (in the caller's thread) and queue it for the next free
        worker."""
        data: bytes | Exception
        try:
            data = job.message.wire(job.subscriber)
        except Exception as e:  # one message's bug must not end the run: its worker reports it
            data = e
        self._jobs.put((job, data))

    def cancel(self) -> list[Job]:
        """Take back the jobs no worker has started."""
        taken: list[Job] = []
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return taken
            if item is not None:
                taken.append(item[0])

    def close(self) -> None:
        """Let every worker finish its message, QUIT, and end (each wait bounded)."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=self._settings.timeout_seconds * 3)

    def _work(self, worker: int) -> None:
        smtp: smtplib.SMTP | None = None
        sent_here = 0
        pipelining = False
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, data = item
                if smtp is None:
                    smtp = self._session(worker)
                    if smtp is None:  # gave up: the job goes back for another worker
                        self._answered(Attempt(job, "again", str(self.errors[-1]), worker,
                                               alive=False))
                        return
                    sent_here = 0
                    pipelining = smtp.has_extn("pipelining")
                try:
                    if isinstance(data, Exception):
                        raise data
                    email = job.subscriber.email
                    sender = self._sender if isinstance(self._sender, str) \
                        else self._sender(email)  # the one place MAIL FROM is chosen
                    result, reply = send_one(smtp, sender, email, data, pipelining)
                except Exception as e:  # one message's bug must not hang the run
                    log.error("%s: cannot send", job.subscriber.email, exc_info=e)
                    result, reply = "again", f"cannot send: {type(e).__name__}: {e}"
                sent_here += 1
                limit = self._settings.max_per_connection
                if result in ("again", "unknown") or (limit and sent_here >= limit):
                    close(smtp)
                    smtp = None
                if not self._answered(Attempt(job, result, reply, worker)):
                    return  # the answer could not be kept: send nothing more
        finally:
            if smtp is not None:
                close(smtp)

    def _session(self, worker: int) -> smtplib.SMTP | None:
        waits = self._settings.retry_backoff_seconds
        for tries in range(len(waits) + 1):
            try:
                smtp = connect(self._settings, self._password)
                self.connected.set()
                return smtp
            except SendError as e:
                log.warning("connection %d: %s", worker, e)
                if e.fatal or tries == len(waits) or self._stop.wait(waits[tries]):
                    self.errors.append(e)
                    return None
        return None  # pragma: no cover (the loop always returns)

