"""Send: hand messages to the SMTP server over a pool of reused connections.

In: jobs (a subscriber and the prepared message that makes its bytes), the SMTP settings and
password. Out: one `Attempt` per job, the server's own answer, classified as the ledger needs
it. A connection is owned by one worker thread; the caller (`digest/delivery.py`) hands a
worker its next job only after recording the previous answer, which is what makes the ledger
move on the server's word. The local sink is just another SMTP server to this module.

smtplib in a few threads rather than aiosmtplib: measured for issue 7, aiosmtplib spent about
twice smtplib's client CPU per message, and the sockets release the GIL while they wait.
"""

from __future__ import annotations

import logging
import queue
import smtplib
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


def send_one(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> tuple[Result, str]:
    """One message over an open session: MAIL, RCPT, DATA, and the answer to the data.

    DATA is written here rather than by `smtplib.SMTP.data` so we know whether the end of the
    data went out: a connection lost before that is `again` (the server cannot have accepted
    it), after it `unknown`. The bytes are dot-stuffed with one `bytes.replace` (our messages
    already have CRLF line ends), not smtplib's two regular expressions.
    """
    options = ["SMTPUTF8"] if not data.isascii() and smtp.has_extn("smtputf8") else []
    written = False
    try:
        code, text = smtp.mail(sender, options)
        if code == 250:
            code, text = smtp.rcpt(recipient)
        if code in (250, 251):
            code, text = smtp.docmd("DATA")
        if code == 354:
            payload = data.replace(b"\r\n.", b"\r\n..")
            if payload.startswith(b"."):
                payload = b"." + payload
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            smtp.send(payload + b".\r\n")
            written = True
            code, text = smtp.getreply()
        else:
            if code != 421:
                smtp.rset()
        return _classify(code), reply_text(code, text)
    except (smtplib.SMTPException, OSError) as e:
        return ("unknown" if written else "again"), f"connection lost: {e}"


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
    out on that connection. A worker reconnects after a 421, a lost connection or
    `max_per_connection` messages; it waits between failed connects (the
    `retry_backoff_seconds`) and gives up after as many as that list is long, handing its job
    back (`alive=False`) and keeping the reason in `errors`.
    """

    def __init__(self, settings: SmtpConfig, password: str, sender: str,
                 stop: threading.Event, answered: Callable[[Attempt], None]) -> None:
        self._settings = settings
        self._password = password
        self._sender = sender
        self._stop = stop
        self._answered = answered
        self._jobs: queue.Queue[Job | None] = queue.Queue()
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
        """Queue a job for the next free worker."""
        self._jobs.put(job)

    def cancel(self) -> list[Job]:
        """Take back the jobs no worker has started."""
        taken: list[Job] = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return taken
            if job is not None:
                taken.append(job)

    def close(self) -> None:
        """Let every worker finish its message, QUIT, and end (each wait bounded)."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=self._settings.timeout_seconds * 3)

    def _work(self, worker: int) -> None:
        smtp: smtplib.SMTP | None = None
        sent_here = 0
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                if smtp is None:
                    smtp = self._session(worker)
                    if smtp is None:  # gave up: the job goes back for another worker
                        self._answered(Attempt(job, "again", str(self.errors[-1]), worker,
                                               alive=False))
                        return
                    sent_here = 0
                try:
                    result, reply = send_one(smtp, self._sender, job.subscriber.email,
                                             job.message.wire(job.subscriber))
                except Exception as e:  # one message's bug must not hang the run
                    log.exception("%s: cannot send", job.subscriber.email)
                    result, reply = "again", f"cannot send: {type(e).__name__}: {e}"
                sent_here += 1
                limit = self._settings.max_per_connection
                if result in ("again", "unknown") or (limit and sent_here >= limit):
                    close(smtp)
                    smtp = None
                self._answered(Attempt(job, result, reply, worker))
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

