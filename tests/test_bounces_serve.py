"""`digest bounces serve`: a real SMTP server on 127.0.0.1 that is no open relay, refuses what
is too big with 552, stores each message before its 250, keeps what it cannot process yet,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bounces import BOUNCES, Sent, retarget, send_with_verp
from conftest import SmtpServer
from test_end_to_end import ENV

from digest.pipeline.bounces import serve_bounces, spool_path
from digest.sink.server import free_port
from digest.store import Store

ADA = "ada@example.com"


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _accepts(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=1) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


@contextmanager
def serving(sent: Sent, retry_seconds: float = 30.0) -> Iterator[int]:
    stop, port = threading.Event(), free_port()
    thread = threading.Thread(target=serve_bounces, args=(
        sent.config, "127.0.0.1", port, ENV, lambda: datetime.now(UTC), stop),
        kwargs={"retry_seconds": retry_seconds})
    thread.start()
    try:
        _wait_for(lambda: _accepts(port))
        yield port
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


def _spooled(sent: Sent) -> list[Path]:
    spool = spool_path(sent.config)
    return [p for sub in ("new", ".processed/cur", ".unrecognised/new")
            if (spool / sub).is_dir() for p in (spool / sub).iterdir()]


def _spooled_bytes(sent: Sent) -> list[bytes]:
    """The spooled messages' bytes, wherever they are: processing may move one from new/ to
    .processed/ between the listing and the reading (then it is listed again)."""
    for _ in range(20):
        try:
            return [p.read_bytes() for p in _spooled(sent)]
        except FileNotFoundError:
            continue
    raise AssertionError("the spool kept changing under the test")


def _hard_bounce(sent: Sent) -> bytes:
    return retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net", ADA)


@pytest.fixture
def sent(project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer) -> Sent:
    return send_with_verp(project, feed_server, smtp_server)


def test_only_signed_bounce_addresses_are_accepted(sent: Sent) -> None:
    genuine = sent.envelope[ADA]
    forged = "bounces+" + "a" * 32 + "@news.example.com"
    with serving(sent) as port, smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt("victim@example.org")[0] == 550  # an open-relay attempt
        assert smtp.rcpt(forged)[0] == 550
        assert smtp.rcpt(BOUNCES)[0] == 550
        assert smtp.rcpt(genuine.replace("@news.", "@other."))[0] == 550
        assert smtp.rcpt(genuine)[0] == 250
        assert smtp.rcpt(genuine.upper())[0] == 250  # a relay may change the case
        smtp.rset()
        assert smtp.mail("")[0] == 250
        assert smtp.rcpt("victim@example.org")[0] == 550
        assert smtp.docmd("DATA")[0] == 503  # nothing accepted: no data either


def test_a_message_is_on_disk_when_the_250_comes_and_then_processed(sent: Sent) -> None:
    with serving(sent) as port:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            assert smtp.sendmail("", [sent.envelope[ADA]], _hard_bounce(sent)) == {}
            files = _spooled_bytes(sent)  # read right after the 250: no waiting
        assert len(files) == 1 and b"550 Unknown user ada@example.com" in files[0]

        def suppressed() -> bool:
            with Store.open(sent.config.database_path) as store:
                return store.suppression(ADA) is not None
        _wait_for(suppressed)


def test_a_50_mb_message_is_refused_with_552_and_nothing_is_kept(sent: Sent) -> None:
    line = b"x" * 998 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * (50 * 1024 * 1024 // len(line))
    with serving(sent) as port:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            assert f"{sent.config.bounces.max_message_bytes}" in smtp.ehlo()[1].decode()
            with pytest.raises(smtplib.SMTPSenderRefused) as declared:
                smtp.sendmail("", [sent.envelope[ADA]], big)  # smtplib declares SIZE=
            assert declared.value.smtp_code == 552
        with socket.create_connection(("127.0.0.1", port)) as raw:  # no SIZE: sent whole
            reader = raw.makefile("rb")
            reader.readline()
            for command in (b"HELO x\r\n", b"MAIL FROM:<>\r\n",
                            f"RCPT TO:<{sent.envelope[ADA]}>\r\n".encode(), b"DATA\r\n"):
                raw.sendall(command)
                assert reader.readline()[:1] in (b"2", b"3")
            raw.sendall(big + b".\r\n")
            assert reader.readline().startswith(b"552")
        assert _spooled(sent) == []


def test_a_message_that_cannot_be_processed_is_kept_and_tried_again(
        sent: Sent, tmp_path: Path) -> None:
    database, spool = sent.config.database_path, spool_path(sent.config)
    aside = database.with_name("aside.sqlite3")
    with serving(sent, retry_seconds=0.2) as port:
        database.rename(aside)
        (tmp_path / "folder").mkdir()
        database.symlink_to(tmp_path / "folder")  # the database cannot be opened: it fails
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            assert smtp.sendmail("", [sent.envelope[ADA]], _hard_bounce(sent)) == {}
        time.sleep(0.6)  # several passes fail meanwhile
        assert len(list((spool / "new").iterdir())) == 1
        os.replace(aside, database)  # back in one step: no pass sees it missing

        def suppressed() -> bool:
            with Store.open(database) as store:
                return store.suppression(ADA) is not None
        _wait_for(suppressed)
    assert list((spool / "new").iterdir()) == []


def test_sigterm_stops_the_server_cleanly(sent: Sent) -> None:
    port = free_port()
    env = {**os.environ, **ENV}
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "bounces", "serve", "--port", str(port), "--json",
         "--config", str(sent.config.path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["port"] == port and ready["address"] == BOUNCES
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("", [sent.envelope[ADA]], _hard_bounce(sent))
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not _accepts(port)
    assert len(_spooled(sent)) == 1  # stored; processed now or at the next start
