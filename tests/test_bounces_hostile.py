"""Inputs that can be wrong, through `bounces scan` and the real database: each gets a clear
outcome, and nothing is lost (what is not acted on is kept, byte for byte, for a person)."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bounces import BOUNCES, Sent, retarget, send_with_verp
from conftest import SmtpServer
from test_end_to_end import ENV

from digest.bounces.verp import verp_address, verp_key
from digest.pipeline.bounces import scan_bounces
from digest.store import Store

ADA, ALAN = "ada@example.com", "alan@example.net"


def _nested(depth: int) -> bytes:
    parts = [b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
             for i in range(depth)]
    return (b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail\r\n" + b"".join(parts)
            + b"550 5.1.1 <ada@example.com>: no such user\r\n")


MALFORMED = {
    "nested": _nested(5000),
    "broken-boundary": b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; "
    b"report-type=delivery-status; boundary=\"never\"\r\n\r\n--other\r\nContent-Type: "
    b"message/delivery-status\r\n\r\nFinal-Recipient: rfc822;\r\n",
    "binary": bytes(range(256)) * 64,
    "empty": b"",
    "headers-only": b"Subject: \xff\xfe\r\nContent-Type: multipart/report; boundary=\r\n",
    "bad-charset": b"From: x@y.example\r\nContent-Type: text/plain; charset=x-none\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64!!!\r\n",
}


@pytest.fixture
def sent(project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer) -> Sent:
    return send_with_verp(project, feed_server, smtp_server)


def _scan(sent: Sent, maildir: Path) -> dict[str, int]:
    summary = scan_bounces(sent.config, maildir, ENV, lambda: datetime.now(UTC))
    assert not summary.failed
    return dict(summary.counts)


def _kept(maildir: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in (maildir / ".unrecognised" / "new").iterdir())


def test_malformed_mime_trees_are_unrecognised_and_kept(sent: Sent, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for data in MALFORMED.values():
        box.add(data)

    assert _scan(sent, tmp_path / "Maildir") == {"unrecognised": len(MALFORMED)}
    assert _kept(tmp_path / "Maildir") == sorted(MALFORMED.values())
    with Store.open(sent.config.database_path) as store:
        assert store.suppression(ADA) is None
        assert store.inbound_counts() == {"unrecognised": len(MALFORMED)}


def test_a_bounce_for_an_unknown_delivery_changes_nothing_and_is_kept(
        sent: Sent, tmp_path: Path) -> None:
    key = verp_key(ENV["DIGEST_SECRET"].encode())
    genuine_but_unsent = verp_address(key, BOUNCES, "daily-1999-01-01", ADA)
    never_sent_to = retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net",
                             "stranger@example.com")  # no token, an address we never mailed
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net", ADA,
                     envelope=genuine_but_unsent))
    box.add(never_sent_to)

    assert _scan(sent, tmp_path / "Maildir") == {"unknown": 2}
    assert len(_kept(tmp_path / "Maildir")) == 2
    with Store.open(sent.config.database_path) as store:
        assert store.suppression(ADA) is None
        assert store.suppression("stranger@example.com") is None


def test_without_a_token_the_reports_recipient_finds_the_delivery(
        sent: Sent, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    # a DSN for ALAN that reached the plain bounce mailbox, with the address in other case
    box.add(retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net",
                     "alan@EXAMPLE.net"))

    assert _scan(sent, tmp_path / "Maildir") == {"hard": 1}
    with Store.open(sent.config.database_path) as store:
        evidence = store.evidence(ALAN)
    assert evidence is not None and evidence.edition_id == sent.edition


def test_a_huge_file_in_the_maildir_is_not_read_and_is_kept(
        sent: Sent, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(b"Subject: huge\r\n\r\n")
    files = list((tmp_path / "Maildir" / "new").iterdir())
    assert len(files) == 1
    with files[0].open("r+b") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk

    assert _scan(sent, tmp_path / "Maildir") == {"unrecognised": 1}
    kept = list((tmp_path / "Maildir" / ".unrecognised" / "new").iterdir())
    assert len(kept) == 1 and kept[0].stat().st_size == 50 * 1024 * 1024
