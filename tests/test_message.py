"""The wire path (`PreparedMessage`) against the `email` package's own message: same content,
valid MIME, short lines, no header a feed could add; and DKIM signatures that verify."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from mailservers import Behaviour, mail_server
from test_delivery import ENV, NOW, configure

from digest import pipeline
from digest.config import load_config
from digest.deliver.message import PreparedMessage, Sender, build_message
from digest.model import Rendered, Subscriber
from digest.render.edition import placeholders

SENDER = Sender("Political IQ", "Political IQ <digest@politicaliq.example.com>",
                "https://politicaliq.example.com", b"k" * 32)
WHEN = datetime(2023, 11, 22, 12, 0, tzinfo=UTC)
SUBSCRIBERS = [
    Subscriber("ada@example.com", "Ada Lovelace"),
    Subscriber("bob@example.com", 'Bob "the builder", Jr.', list_name="vip list"),
    Subscriber("zoe@example.org", "Zoë Ångström-Müller 日本語の名前", list_name="weekly"),
    Subscriber("nobody@example.net", ""),
    Subscriber("eq@example.com", "a=b =3D= x"),
]


def _parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _content(msg: EmailMessage) -> dict[str, str]:
    parts = {}
    for kind in ("plain", "html"):
        body = msg.get_body((kind,))
        assert isinstance(body, EmailMessage)
        parts[kind] = body.get_content().replace("\r\n", "\n")
    return parts


def _hostile_rendered() -> Rendered:
    marks = placeholders("n0nce")
    long_line = "<td>" + "é" * 1500 + "</td>"  # one 3,000-byte line: must be wrapped
    html = (
        f'<html><body><a href="{marks["browser_url"]}">view</a>\n'
        f'<p>Hello {marks["name"]},</p>{long_line}\n'
        + "x" * 73 + marks["email"] + "y" * 70 + "\n"  # a placeholder right at the wrap column
        + ".\n.starts with a dot\nFrom the start\ntrailing spaces   \n\ttab\n"
        + f'<a href="{marks["unsubscribe_url"]}">Unsubscribe</a> '
        + f'<a href="{marks["preferences_url"]}">prefs</a>'
    )
    text = (f"Hi {marks['name']}\r\nwindows line\rold mac line\n" + "word " * 40
            + f"\n\n.\n{marks['unsubscribe_url']}\n{marks['email']}")
    subject = "Breaking:\r\nBcc: victim@example.com\x00\x1b[31m \u2028 naïve «news»"
    return Rendered("daily-2023-11-22", subject, html, text, marks)


@pytest.mark.parametrize("subscriber", SUBSCRIBERS, ids=lambda s: s.email)
def test_wire_bytes_parse_to_the_same_message_as_the_email_package(
    subscriber: Subscriber,
) -> None:
    rendered = _hostile_rendered()
    wire = PreparedMessage(rendered, SENDER, WHEN).wire(subscriber)
    fast = _parse(wire)
    slow = _parse(build_message(rendered, subscriber, SENDER, WHEN).as_bytes(policy=policy.SMTP))
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "X-Digest-Edition"):
        assert str(fast[name]).strip() == str(slow[name]).strip(), name
    assert _content(fast) == _content(slow)
    assert not fast.defects and all(not p.defects for p in fast.walk())
    assert fast["To"].addresses[0].addr_spec == subscriber.email
    assert fast["To"].addresses[0].display_name == subscriber.name
    assert len(fast["To"].addresses) == 1 and fast["Bcc"] is None and fast["Cc"] is None


def test_no_feed_text_becomes_a_header_and_every_line_is_short() -> None:
    wire = PreparedMessage(_hostile_rendered(), SENDER, WHEN).wire(SUBSCRIBERS[0])
    head, body = wire.split(b"\r\n\r\n", 1)
    msg = _parse(wire)
    assert msg["Bcc"] is None and "victim" in msg["Subject"]
    assert "\n" not in msg["Subject"] and "\x1b" not in msg["Subject"]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert b"\n" not in wire.replace(b"\r\n", b"") and b"\r" not in wire.replace(b"\r\n", b"")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(msg["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://politicaliq.example.com/unsubscribe?t=v1.")
    assert "<mailto:digest@politicaliq.example.com?subject=unsubscribe%20v1." in unsubscribe
    html = _content(msg)["html"]
    assert "https://politicaliq.example.com/archive/daily-2023-11-22" in html
    assert html.count("é") == 1500


def test_the_sample_edition_through_both_paths(project: Path) -> None:
    config = load_config(project / "config.toml")
    with pipeline.Store.open(config.database_path) as store:
        pipeline.fetch(config, store, NOW)
        edition = pipeline.build_edition(config, store, NOW, "daily-2023-11-22")
    rendered = pipeline.render(config, edition)
    prepared = PreparedMessage(rendered, SENDER, WHEN)
    for subscriber in SUBSCRIBERS:
        fast = _parse(prepared.wire(subscriber))
        slow = _parse(build_message(rendered, subscriber, SENDER, WHEN).as_bytes(
            policy=policy.SMTP))
        assert _content(fast) == _content(slow)
        assert subscriber.email in _content(fast)["plain"]


def _key_pair(folder: Path) -> tuple[Path, bytes]:
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return key, base64.b64encode(public)


def test_dkim_signature_verifies_against_the_public_key(project: Path) -> None:
    key, public = _key_pair(project)
    record = b"v=DKIM1; k=rsa; p=" + public

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail2023._domainkey.politicaliq.example.com."
        return record

    with mail_server(Behaviour()) as (server, port):
        configure(project, port, n=3)
        with (project / "config.toml").open("a") as f:
            f.write('\n[dkim]\nkey_file = "dkim.pem"\nselector = "mail2023"\n'
                    'domain = "politicaliq.example.com"\n')
        summary = pipeline.send(load_config(project / "config.toml"), NOW, ENV)
    assert summary.ok and len(server.received) == 3
    for _, msg, raw in server.received:
        assert msg["DKIM-Signature"] is not None
        assert dkim.verify(raw, dnsfunc=dns)
        tampered = raw.replace(b"Political IQ Daily", b"Political IQ Dai1y", 1)
        assert not dkim.verify(tampered, dnsfunc=dns)
