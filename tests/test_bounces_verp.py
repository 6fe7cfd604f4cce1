"""VERP: each message's envelope sender names its delivery, checked on a real SMTP server."""

from __future__ import annotations

from pathlib import Path

from conftest import SmtpServer, served_project
from test_end_to_end import ENV, NOW, SUBSCRIBERS

from digest import pipeline
from digest.bounces.verp import (
    Resolver,
    make_token,
    read_token,
    token_of,
    verp_address,
    verp_key,
)
from digest.config import load_config
from digest.store import Store

BOUNCES = "bounces@news.example.com"


def with_bounces(config: Path, address: str = BOUNCES) -> Path:
    with config.open("a") as f:
        f.write(f'\n[bounces]\naddress = "{address}"\n')
    return config


def test_every_message_has_its_own_signed_envelope_sender(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(with_bounces(served_project(project, feed_server, smtp_server)))
    summary = pipeline.send(config, NOW, ENV)
    assert summary.count("sent") == 3

    arrived = smtp_server.arrived
    key = verp_key(ENV["DIGEST_SECRET"].encode())
    senders = {a.rcpt_tos[0]: a.mail_from for a in arrived}
    assert sorted(senders) == sorted(SUBSCRIBERS)
    assert len(set(senders.values())) == 3  # unique per message
    with Store.open(config.database_path) as store:
        resolver = Resolver(key, store)
        for email, mail_from in senders.items():
            assert mail_from.startswith("bounces+") and mail_from.endswith("@news.example.com")
            assert len(mail_from.partition("@")[0]) <= 64
            token = token_of(BOUNCES, mail_from)
            assert token is not None
            assert resolver.resolve(token) == (summary.edition, email)
            # a mail system that upper-cases the local part changes nothing
            assert resolver.resolve(token.upper()) == (summary.edition, email)


def test_without_a_bounce_address_the_envelope_sender_is_the_from_address(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(served_project(project, feed_server, smtp_server))
    pipeline.send(config, NOW, ENV)
    assert {a.mail_from for a in smtp_server.arrived} == {"digest@politicaliq.example.com"}


def test_forged_changed_and_foreign_tokens_are_refused() -> None:
    key = verp_key(b"a-test-secret-of-enough-length")
    token = make_token(key, "daily-2023-11-22", "ada@example.com")
    assert read_token(key, token) is not None
    assert read_token(verp_key(b"another-secret-of-enough-length"), token) is None
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert read_token(key, flipped) is None
    assert read_token(key, token[:-1]) is None
    assert read_token(key, token + "a") is None
    assert read_token(key, "") is None
    assert read_token(key, "!" * 32) is None
    # another delivery's ids under this token's signature
    other = make_token(key, "daily-2023-11-23", "ada@example.com")
    assert read_token(key, other[:20] + token[20:]) is None


def test_token_of_reads_only_the_bounce_address_forms() -> None:
    address = verp_address(b"k" * 32, BOUNCES, "daily-1", "ada@example.com")
    token = token_of(BOUNCES, address)
    assert token is not None and len(token) == 32
    assert token_of(BOUNCES, f"<{address.upper()}>") == token.upper()
    assert token_of(BOUNCES, BOUNCES) is None
    assert token_of(BOUNCES, "other+" + token + "@news.example.com") is None
    assert token_of(BOUNCES, "bounces+" + token + "@elsewhere.example.com") is None
    assert token_of(BOUNCES, "victim@example.org") is None


def test_a_test_send_carries_a_verp_sender_too(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    config = load_config(with_bounces(served_project(project, feed_server, smtp_server)))
    pipeline.send(config, NOW, ENV, to="Editor@Example.com")
    (arrived,) = smtp_server.arrived
    assert arrived.rcpt_tos == ["Editor@example.com"]
    assert token_of(BOUNCES, arrived.mail_from) is not None
