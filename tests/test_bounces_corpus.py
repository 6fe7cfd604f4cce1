"""Real-world bounces and complaints (tests/data/bounces/, see its MANIFEST.md): each is
classified as reviewed, and the whole corpus gives the same outcomes fed to `digest bounces
serve` over SMTP and to `digest bounces scan` from a Maildir."""

from __future__ import annotations

import json
import mailbox
import os
import smtplib
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bounces import SAMPLES, send_with_verp
from conftest import SmtpServer
from test_end_to_end import ENV

from digest.bounces.classify import classify
from digest.pipeline.bounces import scan_bounces, serve_bounces
from digest.sink.server import free_port
from digest.store import Store

EXPECTED_PATH = SAMPLES / "expected.json"
REGENERATE = os.environ.get("DIGEST_REGENERATE_GOLDEN") == "1"
FILES = sorted(p.name for p in SAMPLES.glob("*.eml"))
_RANK = ["complaint", "hard", "soft", "ignored"]


def _summary(name: str) -> dict[str, object]:
    report = classify((SAMPLES / name).read_bytes())
    return {"form": report.form,
            "findings": [[f.kind, f.recipient, f.status] for f in report.findings]}


def test_each_sample_is_classified_as_reviewed() -> None:
    found = {name: _summary(name) for name in FILES}
    if REGENERATE or not EXPECTED_PATH.exists():
        EXPECTED_PATH.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        if not REGENERATE:
            pytest.fail(f"wrote {EXPECTED_PATH}; review it and run again")
    expected = json.loads(EXPECTED_PATH.read_text())
    assert found == expected
    forms = Counter(str(s["form"]) for s in found.values())
    # several MTAs of each kind, and every kind of message
    assert forms["dsn"] >= 10 and forms["bounce"] >= 10 and forms["arf"] >= 5
    assert forms["autoreply"] >= 3 and forms["unrecognised"] >= 2


def _outcome(name: str) -> str:
    """What processing a sample sent to a genuine VERP address must come to."""
    summary = json.loads(EXPECTED_PATH.read_text())[name]
    if summary["form"] in ("unrecognised", "autoreply"):
        return str(summary["form"])
    kinds = [f[0] for f in summary["findings"]]
    return min(kinds, key=_RANK.index) if kinds else "ignored"


def _envelopes(envelope: dict[str, str]) -> list[tuple[str, str]]:
    """Each sample with the VERP address it goes to (round robin over the deliveries)."""
    addresses = sorted(envelope.values())
    return [(name, addresses[i % len(addresses)]) for i, name in enumerate(FILES)]


def _wait_for(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_scan_of_a_maildir_processes_the_corpus(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
) -> None:
    sent = send_with_verp(project, feed_server, smtp_server)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name, verp in _envelopes(sent.envelope):
        box.add(f"Delivered-To: {verp}\n".encode() + (SAMPLES / name).read_bytes())

    summary = scan_bounces(sent.config, tmp_path / "Maildir", ENV, lambda: datetime.now(UTC))

    assert dict(summary.counts) == dict(Counter(_outcome(n) for n in FILES))
    assert not summary.failed


def test_serve_over_smtp_processes_the_corpus(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer,
) -> None:
    sent = send_with_verp(project, feed_server, smtp_server)
    stop, port = threading.Event(), free_port()
    server = threading.Thread(target=serve_bounces, args=(
        sent.config, "127.0.0.1", port, ENV, lambda: datetime.now(UTC), stop))
    server.start()
    try:
        _wait_for(lambda: _accepts(port))
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for name, verp in _envelopes(sent.envelope):
                smtp.sendmail("", [verp], (SAMPLES / name).read_bytes())
        expected = dict(Counter(_outcome(n) for n in FILES))

        def processed() -> bool:
            with Store.open(sent.config.database_path) as store:
                return store.inbound_counts() == expected
        _wait_for(processed)
    finally:
        stop.set()
        server.join(30)
    assert not server.is_alive()


def _accepts(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=1) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False
