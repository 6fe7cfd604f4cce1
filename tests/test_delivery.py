"""Delivery through servers that misbehave like real ones: every subscriber exactly once."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mailservers import Behaviour, mail_server

from digest import pipeline
from digest.config import Config, load_config
from digest.deliver.dispatch import Controls
from digest.errors import SendError, StoreError
from digest.model import Delivery
from digest.store import Store

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # the sample feeds' edition daily-2023-11-22
EDITION = "daily-2023-11-22"
ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length", "SMTP_PASS": "hunter2-hunter2"}


def addresses(n: int) -> list[str]:
    return [f"reader{i:04d}@example.com" for i in range(n)]


def configure(project: Path, port: int, n: int = 12, **smtp: str) -> Config:
    """The sample project sending to `n` subscribers through the server on `port`."""
    rows = "".join(f"{a},Reader {i}\n" for i, a in enumerate(addresses(n)))
    (project / "subscribers" / "subscribers.csv").write_text("email,name\n" + rows)
    settings = {"connections": "3", "retry_backoff_seconds": "[0.01, 0.02, 0.03]",
                "timeout_seconds": "5", **smtp}
    text = (project / "config.toml").read_text().replace("port = 1025", f"port = {port}")
    for key in ("username", "password_env", "connections", "retry_backoff_seconds", "security"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key + " "))
    lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
    (project / "config.toml").write_text(text.replace("[smtp]\n", "[smtp]\n" + lines) + "\n")
    return load_config(project / "config.toml")


def ledger(config: Config) -> dict[str, str]:
    with Store.open(config.database_path) as store:
        return store.delivery_status(EDITION)


def test_greylisted_recipients_are_retried_within_the_run_and_delivered(project: Path) -> None:
    greylisted = addresses(12)[3:6]
    with mail_server(Behaviour(greylist=dict.fromkeys(greylisted, 2))) as (server, port):
        config = configure(project, port)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and summary.count("sent") == 12
    assert server.counts() == dict.fromkeys(addresses(12), 1)
    for address in greylisted:
        assert server.rcpt_asked[address] == 3  # two 451s, then accepted
    with Store.open(config.database_path) as store:
        rows = {d.email: d for d in store.deliveries(EDITION)}
    assert rows[greylisted[0]].attempts == 3 and rows[greylisted[0]].reply.startswith("250")
    assert all(rows[a].message_id.endswith("@politicaliq.example.com>") for a in rows)


def test_unknown_user_fails_is_suppressed_and_never_retried(project: Path) -> None:
    bad = addresses(12)[7]
    with mail_server(Behaviour(unknown_users={bad})) as (server, port):
        config = configure(project, port)
        summary = pipeline.send(config, NOW, ENV)
        assert not summary.ok and summary.count("failed") == 1 and summary.count("sent") == 11
        again = pipeline.send(config, NOW, ENV)  # a re-run does not ask the server again
    assert server.rcpt_asked[bad] == 1
    assert bad not in server.counts() and len(server.received) == 11
    assert again.count("failed") == 1 and again.left == 0
    with Store.open(config.database_path) as store:
        assert bad in store.suppressed()
        row = next(d for d in store.deliveries(EDITION) if d.email == bad)
    assert row.status == "failed" and "550 5.1.1" in row.reply and "User unknown" in row.reply


def test_greylisting_that_outlasts_the_waits_is_left_deferred_then_sent_by_the_rerun(
    project: Path,
) -> None:
    slow = addresses(12)[0]
    with mail_server(Behaviour(greylist={slow: 4})) as (server, port):
        config = configure(project, port)
        first = pipeline.send(config, NOW, ENV)
        assert first.count("deferred") == 1 and first.left == 1 and not first.ok
        assert first.next_try is not None
        with Store.open(config.database_path) as store:
            row = next(d for d in store.deliveries(EDITION) if d.email == slow)
        assert row.status == "deferred" and row.attempts == 4 and row.reply.startswith("451")
        second = pipeline.send(config, NOW, ENV)
    assert second.ok and second.count("sent") == 12
    assert server.counts() == dict.fromkeys(addresses(12), 1)


def test_connection_dropped_before_the_data_is_resumed_on_a_new_one(project: Path) -> None:
    with mail_server(Behaviour(drop_at_mail={4, 9})) as (server, port):
        config = configure(project, port, n=20)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and summary.count("sent") == 20
    assert server.counts() == dict.fromkeys(addresses(20), 1)
    assert server.connections >= 5  # three at the start, one more after each drop


def test_connection_dropped_after_the_data_is_unknown_and_sent_again_by_the_rerun(
    project: Path,
) -> None:
    with mail_server(Behaviour(drop_after_data={5})) as (server, port):
        config = configure(project, port, n=12)
        first = pipeline.send(config, NOW, ENV)
        assert first.count("unknown") == 1 and first.count("sent") == 11 and not first.ok
        (lost,) = [a for a, s in ledger(config).items() if s == "unknown"]
        second = pipeline.send(config, NOW, ENV)
    assert second.ok and second.count("sent") == 12
    counts = server.counts()
    # The one message whose answer was lost arrived twice (documented); nobody else did.
    assert counts[lost] == 2 and all(counts[a] == 1 for a in addresses(12) if a != lost)
    ids = [m["Message-ID"] for rcpt, m, _ in server.received if rcpt == lost]
    assert ids[0] == ids[1]  # the same Message-ID, so mail clients show it once


def test_421_at_the_greeting_is_retried_after_the_wait(project: Path) -> None:
    with mail_server(Behaviour(refuse_greetings=4)) as (server, port):
        config = configure(project, port)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and server.counts() == dict.fromkeys(addresses(12), 1)
    assert server.connections >= 3 + 4


def test_a_server_that_never_answers_220_is_an_error_naming_it(project: Path) -> None:
    with mail_server(Behaviour(refuse_greetings=1000)) as (server, port):
        config = configure(project, port)
        with pytest.raises(SendError, match=f"127.0.0.1:{port}.*421"):
            pipeline.send(config, NOW, ENV)
    assert server.received == []
    assert set(ledger(config).values()) == {"pending"}


def test_login_with_the_password_from_the_environment(project: Path) -> None:
    behaviour = Behaviour(login=("digest", ENV["SMTP_PASS"]))
    with mail_server(behaviour) as (server, port):
        config = configure(project, port, n=4, username='"digest"',
                           password_env='"SMTP_PASS"', allow_plaintext_auth="true")
        summary = pipeline.send(config, NOW, ENV)
        assert summary.ok and len(server.received) == 4 and server.logins
        wrong = {**ENV, "SMTP_PASS": "wrong-password"}
        with pytest.raises(SendError, match="refused the login.*SMTP_PASS"):
            pipeline.send(config, NOW, wrong, to="test@example.com")


def test_max_per_connection_and_rate_limit(project: Path) -> None:
    with mail_server(Behaviour()) as (server, port):
        config = configure(project, port, n=12, connections="2", max_per_connection="2",
                           rate_per_second="200")
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and server.counts() == dict.fromkeys(addresses(12), 1)
    assert server.connections >= 6  # a new connection every two messages


def test_stop_event_finishes_in_flight_and_leaves_the_rest_pending(project: Path) -> None:
    with mail_server(Behaviour(delay=0.01)) as (server, port):
        config = configure(project, port, n=60)
        stop = threading.Event()

        def stop_after_ten(progress: object) -> None:
            if len(server.received) >= 10:
                stop.set()

        first = pipeline.send(config, NOW, ENV, controls=Controls(stop=stop,
                                                                  report=stop_after_ten))
        assert first.progress is not None and first.progress.stopped and not first.ok
        assert first.count("sent") == len(server.received) and first.left == 60 - len(
            server.received)
        assert first.count("unknown") == 0
        second = pipeline.send(config, NOW, ENV)
    assert second.ok and server.counts() == dict.fromkeys(addresses(60), 1)


def test_subscriber_who_left_before_their_turn_is_skipped_not_sent(project: Path) -> None:
    with mail_server(Behaviour(delay=0.01)) as (server, port):
        config = configure(project, port, n=10)
        stop = threading.Event()
        first = pipeline.send(config, NOW, ENV, controls=Controls(
            stop=stop, report=lambda p: stop.set()))
        left = [a for a, s in ledger(config).items() if s == "pending"]
        assert first.left == len(left) > 0
        with Store.open(config.database_path) as store:
            store.suppress(left[0], "unsubscribed", NOW)
        second = pipeline.send(config, NOW, ENV)
    assert second.ok and second.count("skipped") == 1
    assert left[0] not in server.counts()
    assert ledger(config)[left[0]] == "skipped"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1: the server's context and the CA file."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_the_servers_own_ca(
    project: Path, security: str, certificate: tuple[ssl.SSLContext, Path]
) -> None:
    context, cert = certificate
    shutil.copy(cert, project / cert.name)
    behaviour = (Behaviour(starttls=context) if security == "starttls"
                 else Behaviour(implicit_tls=context))
    with mail_server(behaviour) as (server, port):
        config = configure(project, port, n=4, security=f'"{security}"',
                           tls_ca_file=f'"{cert.name}"')
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and server.counts() == dict.fromkeys(addresses(4), 1)


def test_tls_refuses_a_certificate_it_cannot_verify(
    project: Path, certificate: tuple[ssl.SSLContext, Path]
) -> None:
    context, _ = certificate
    with mail_server(Behaviour(starttls=context)) as (server, port):
        config = configure(project, port, n=2, security='"starttls"',
                           retry_backoff_seconds="[]")
        with pytest.raises(SendError, match="certificate"):
            pipeline.send(config, NOW, ENV)
    assert server.received == []


@pytest.mark.parametrize("offered", [True, False])
def test_pipelining_only_when_offered_and_answers_read_in_order(
    project: Path, offered: bool
) -> None:
    greylisted, bad = addresses(12)[2], addresses(12)[7]
    behaviour = Behaviour(pipelining=offered, greylist={greylisted: 1}, unknown_users={bad})
    with mail_server(behaviour) as (server, port):
        config = configure(project, port)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.count("sent") == 11 and summary.count("failed") == 1
    assert server.counts() == dict.fromkeys(set(addresses(12)) - {bad}, 1)
    assert server.rcpt_asked[greylisted] == 2 and server.rcpt_asked[bad] == 1
    # every MAIL came with its RCPT and DATA when offered (13 transactions: 12 + the retry),
    # and none did when not offered
    assert server.pipelined == (server.mails if offered else 0) == (13 if offered else 0)
    status = ledger(config)
    assert status[bad] == "failed" and status[greylisted] == "sent"
    for rcpt, message, _ in server.received:  # each to its own subscriber, whole
        assert message["To"].addresses[0].addr_spec == rcpt
        assert message.get_body(("html",)) is not None


def test_pipelined_data_accepted_after_a_refused_recipient_carries_nothing(
    project: Path,
) -> None:
    bad = addresses(6)[1]
    behaviour = Behaviour(pipelining=True, unknown_users={bad}, data_without_rcpt=True)
    with mail_server(behaviour) as (server, port):
        config = configure(project, port, n=6)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.count("sent") == 5 and summary.count("failed") == 1
    assert server.empty_datas == 1 and bad not in server.counts()
    assert "550 5.1.1" in next(d.reply for d in _rows(config) if d.email == bad)


def _rows(config: Config) -> list[Delivery]:
    with Store.open(config.database_path) as store:
        return store.deliveries(EDITION)


def test_connection_dropped_at_a_pipelined_mail_is_resumed(project: Path) -> None:
    with mail_server(Behaviour(pipelining=True, drop_at_mail={3, 8})) as (server, port):
        config = configure(project, port, n=20)
        summary = pipeline.send(config, NOW, ENV)
    assert summary.ok and server.counts() == dict.fromkeys(addresses(20), 1)


def test_a_ledger_that_cannot_be_written_stops_the_send_and_the_rerun_finishes(
    project: Path,
) -> None:
    refused = addresses(40)[5]
    with mail_server(Behaviour()) as (server, port):
        config = configure(project, port, n=40)
        with Store.open(config.database_path) as store:  # the disk refuses one answer's row
            store._db.execute(
                "CREATE TRIGGER refuse BEFORE UPDATE ON deliveries WHEN NEW.email = "
                f"'{refused}' AND NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'disk full'); "
                "END")
        with pytest.raises(StoreError, match="disk full"):
            pipeline.send(config, NOW, ENV)
        first = server.counts()
        # nothing went out after the failed write but the messages already in flight
        assert refused in first and len(first) <= 6 + 3 * 2
        assert ledger(config)[refused] == "pending"
        with Store.open(config.database_path) as store:
            store._db.execute("DROP TRIGGER refuse")
        again = pipeline.send(config, NOW, ENV)
    assert again.ok and set(server.counts()) == set(addresses(40))
    twice = [a for a, n in server.counts().items() if n > 1]
    assert refused in twice and len(twice) <= 3 * 2  # only what was in flight, at most
