"""Done when, with a real Postfix: an edition goes out through Postfix, the next hop refuses
one address, Postfix itself writes the DSN to that message's VERP address, `bounces serve`
receives it, and the address is suppressed with the evidence, untouched by anyone."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bounces import BOUNCES
from conftest import SmtpServer, served_project
from mailservers import Behaviour, mail_server
from postfix import postfix
from test_end_to_end import ENV, NOW

from digest import pipeline
from digest.config import load_config
from digest.pipeline.bounces import serve_bounces
from digest.sink.server import free_port
from digest.store import Store

GONE, READER = "gone@remote.example.net", "reader@remote.example.net"


def test_postfix_writes_a_dsn_that_suppresses_the_address(
    project: Path, feed_server: tuple[str, Path],
) -> None:
    (project / "subscribers" / "subscribers.csv").write_text(
        f"email,name,topics,frequency\n{GONE},Gone,,daily\n{READER},Reader,,daily\n")
    behaviour = Behaviour(unknown_users={GONE})
    bounce_port = free_port()
    with mail_server(behaviour) as (remote, remote_port), \
            postfix(bounce_port, {"remote.example.net": remote_port}) as postfix_port:
        path = served_project(project, feed_server, SmtpServer("127.0.0.1", postfix_port, None))
        with path.open("a") as f:
            f.write(f'\n[bounces]\naddress = "{BOUNCES}"\n')
        config = load_config(path)
        stop = threading.Event()
        server = threading.Thread(target=serve_bounces, args=(
            config, "127.0.0.1", bounce_port, ENV, lambda: datetime.now(UTC), stop))
        server.start()
        try:
            summary = pipeline.send(config, NOW, ENV)
            assert summary.count("sent") == 2  # Postfix accepted both; the refusal is later
            deadline = time.monotonic() + 30
            evidence = None
            while evidence is None and time.monotonic() < deadline:
                time.sleep(0.1)
                with Store.open(config.database_path) as store:
                    evidence = store.evidence(GONE)
        finally:
            stop.set()
            server.join(30)
        with Store.open(config.database_path) as store:
            assert store.suppression(READER) is None and store.evidence(READER) is None
            assert GONE in store.suppressed()
    assert evidence is not None, "no DSN from Postfix was processed within 30 s"
    assert (evidence.kind, evidence.status, evidence.edition_id) == (
        "hard", "5.1.1", summary.edition)
    assert "550 5.1.1" in evidence.evidence and "User unknown" in evidence.evidence
    assert [rcpt for rcpt, _, _ in remote.received] == [READER]
