"""`digest run`, `digest send` and `digest fetch` as real processes: the scheduler sends once at
its time and stops on SIGTERM after the running send finishes; one process at a time.

The feeds are written fresh (stories from the last hours) so an edition is due now, and a
one-off `digest run --send-at TIME` makes the send due within seconds rather than at the
next cron minute.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from conftest import RecordingHandler, SmtpServer, serving_smtp, set_config

from digest import pipeline
from digest.config import load_config
from digest.store import Store

SECRET = "a-test-secret-of-enough-length"
HEADLINES = [
    "Senate passes the harbor dredging bill after a long night",
    "Glacier survey finds record melt along the northern coast",
    "Central bank holds rates and signals patience into spring",
    "Transit strike ends as drivers accept a three-year contract",
    "Vaccine maker opens a second plant outside the capital",
    "Wildfire crews contain the ridge blaze before the wind turns",
    "Court strikes down the county map drawn last summer",
    "Chess prodigy, 12, wins the national open in Tallinn",
    "Storm knocks out power to forty thousand homes overnight",
]
FEEDS = ["political-iq-featured.xml", "world-wire.xml", "capitol-ledger.xml"]


@dataclass
class GatedHandler(RecordingHandler):
    """Holds every message's DATA until the test opens the gate: a send caught mid-way, as
    long as the test needs, however slow the machine."""

    gate: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.waiting += 1
        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SmtpServer]:
    """An SMTP server whose handler is a `GatedHandler` (gate closed)."""
    with serving_smtp(GatedHandler()) as server:
        yield server


def fresh_project(project: Path, smtp: SmtpServer, subscribers: int = 0) -> Path:
    """The sample project with feeds whose stories are from the last hours, sending to `smtp`."""
    now = datetime.now(UTC)
    for n, name in enumerate(FEEDS):
        items = "".join(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://feed{n}.example.org/{i}</link>"
            f"<guid>https://feed{n}.example.org/{i}</guid>"
            f"<pubDate>{format_datetime(now - timedelta(hours=1 + i))}</pubDate>"
            f"<description>{escape(title)}, in brief.</description></item>"
            for i, title in enumerate(HEADLINES[n * 3:(n + 1) * 3])
        )
        (project / "samples" / "feeds" / name).write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {n}</title><link>https://feed{n}.example.org/</link>"
            f"<description>Fresh stories</description>{items}</channel></rss>")
    if subscribers:
        rows = "".join(f"reader{i}@example.com,Reader {i},,daily\n" for i in range(subscribers))
        (project / "subscribers" / "subscribers.csv").write_text(
            "email,name,topics,frequency\n" + rows)
    config = project / "config.toml"
    set_config(config, {"port = 1025": f"port = {smtp.port}"})
    return config


def environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_SECRET"] = SECRET
    return env


def digest(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "digest", *args], cwd=cwd, env=environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], seconds: float = 45.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_run_sends_once_at_its_time_and_stops_on_sigterm(
    project: Path, smtp_server: SmtpServer
) -> None:
    config_path = fresh_project(project, smtp_server)
    at = datetime.now(UTC) + timedelta(seconds=2)
    run = digest("run", "--config", str(config_path), "--send-at", at.isoformat(), cwd=project)
    try:
        wait_for(lambda: len(smtp_server.arrived) >= 3 or run.poll() is not None)
        assert run.poll() is None, run.communicate()

        # A second scheduler on the same state database refuses at once, naming the first.
        second = subprocess.run([sys.executable, "-m", "digest", "run", "--config",
                                 str(config_path)], env=environ(), capture_output=True,
                                text=True, timeout=30)
        assert second.returncode == 3
        assert f"PID {run.pid}" in second.stderr and "digest run" in second.stderr
        status = subprocess.run([sys.executable, "-m", "digest", "status", "--json",
                                 "--config", str(config_path)], env=environ(),
                                capture_output=True, text=True, timeout=30)
        assert f'"scheduler": {{"pid": {run.pid}' in status.stdout

        time.sleep(1.5)  # nothing more arrives: the send ran once
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, err
    assert sorted(a.rcpt_tos[0] for a in smtp_server.arrived) == [
        "ada@example.com", "alan@example.net", "grace@example.org"]
    lines = out.splitlines()
    assert any(line.split()[:3] == ["fetch", "next", "at"] for line in lines), out
    assert any(line.split()[:3] == ["send-daily", "next", "at"] for line in lines), out
    assert any(line.split()[:3] == ["send-once", "next", "at"] for line in lines), out
    assert "stopping" in err and "Traceback" not in err

    config = load_config(config_path)
    edition = pipeline.edition_id_for(config, at)
    with Store.open(config.database_path) as store:
        assert set(store.delivery_status(edition).values()) == {"sent"}
        assert len(store.delivery_status(edition)) == 3


def test_sigterm_during_a_send_lets_it_finish_and_commit(
    project: Path, slow_smtp: SmtpServer
) -> None:
    config_path = fresh_project(project, slow_smtp, subscribers=8)
    run = digest("run", "--config", str(config_path), "--send-at", "now", cwd=project)
    try:
        wait_for(lambda: slow_smtp.handler.waiting >= 1 or run.poll() is not None)
        run.send_signal(signal.SIGTERM)  # while the first message is on the wire
        time.sleep(0.5)
        assert run.poll() is None  # it does not quit mid-send
        slow_smtp.handler.gate.set()
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, err
    assert len(slow_smtp.arrived) == 8  # the send in progress finished
    stopping, finished = err.index("stopping"), err.index("send-once: edition")
    assert stopping < finished, err  # SIGTERM came mid-send, and the send went on
    config = load_config(config_path)
    with Store.open(config.database_path) as store:
        (edition,) = store.editions()
        assert edition.counts["sent"] == 8 and edition.counts["pending"] == 0


def test_two_sends_at_once_the_second_exits_3_naming_the_first(
    project: Path, slow_smtp: SmtpServer
) -> None:
    config_path = fresh_project(project, slow_smtp, subscribers=6)
    first = digest("send", "--config", str(config_path), cwd=project)
    try:
        wait_for(lambda: slow_smtp.handler.waiting >= 1 or first.poll() is not None)
        assert first.poll() is None  # mid-send, holding the lock
        others = [digest(command, "--config", str(config_path), cwd=project)
                  for command in ("send", "fetch")]
        for other in others:
            _, other_err = other.communicate(timeout=30)
            assert other.returncode == 3, other_err
            assert f"(PID {first.pid})" in other_err and "digest.sqlite3.lock" in other_err
        assert first.poll() is None  # the others did not wait for the first to finish
        slow_smtp.handler.gate.set()
        out, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err
    assert sorted(a.rcpt_tos[0] for a in slow_smtp.arrived) == sorted(
        f"reader{i}@example.com" for i in range(6))
