"""`digest send` killed mid-edition and run again: everyone gets the edition, once.

A real `digest send` subprocess against an aiosmtpd server that is slow enough for the signal
to land mid-run; the assertions are on what the server received.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mailservers import BehavingHandler, Behaviour, mail_server
from test_delivery import ENV, addresses, configure

N = 240
CONNECTIONS = 3


def _start(project: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--config", str(project / "config.toml"),
         "--now", "2023-11-23T04:00:00+00:00", *extra],
        cwd=project, env={**os.environ, **ENV}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def _when_received(server: BehavingHandler, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while len(server.received) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the send never got going"
        time.sleep(0.005)


def _finish(project: Path) -> dict[str, int]:
    process = _start(project, "--json")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    result: dict[str, int] = json.loads(out)
    return result


def test_sigkill_twice_mid_edition_then_rerun_sends_everyone_once(project: Path) -> None:
    with mail_server(Behaviour(delay=0.004)) as (server, port):
        configure(project, port, n=N, connections=str(CONNECTIONS))
        for stop_at in (30, 110):
            process = _start(project)
            _when_received(server, stop_at, process)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL
        assert len(server.received) < N  # the kills did land mid-edition
        result = _finish(project)
    counts = server.counts()
    assert set(counts) == set(addresses(N))  # nobody skipped
    doubled = {a: n for a, n in counts.items() if n > 1}
    # At most the messages in flight at each kill: one per connection.
    assert len(doubled) <= 2 * CONNECTIONS and all(n == 2 for n in doubled.values())
    assert result["sent"] == N and result["edition"] == "daily-2023-11-22"
    assert result["failed"] == result["deferred"] == result["unknown"] == 0


def test_sigterm_finishes_in_flight_then_rerun_sends_the_rest_exactly_once(
    project: Path,
) -> None:
    with mail_server(Behaviour(delay=0.004)) as (server, port):
        configure(project, port, n=N, connections=str(CONNECTIONS))
        process = _start(project)
        _when_received(server, 40, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 1, err
        arrived = len(server.received)
        assert arrived < N
        assert f"{arrived} sent" in out and f"Stopped: {N - arrived} left" in out
        result = _finish(project)
    assert server.counts() == dict.fromkeys(addresses(N), 1)  # graceful: nobody twice
    assert result["sent"] == N and result["left"] == 0
