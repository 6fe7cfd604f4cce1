"""Many workers sending one edition from a real PostgreSQL, to a real aiosmtpd server.

`digest send` and `digest worker` run as real processes; what is asserted is what the server
received (and when, by its own clock, for the rate limit) and what the ledger says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import serving_smtp, set_config
from mailservers import Behaviour, mail_server
from pg import PostgresServer
from test_delivery import EDITION, ENV, NOW, addresses, configure

from digest import pipeline
from digest.cli import main
from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.model import DatabaseUrl, Delivery, Rendered
from digest.pipeline.workers import create_sending
from digest.store import Store
from digest.store.lock import lock_holder
from digest.store.workers import Worker

T = datetime(2026, 11, 20, 12, tzinfo=UTC)


def shared(project: Path, port: int, url: DatabaseUrl, n: int, **smtp: str) -> Config:
    """The sample project on a PostgreSQL state database, `n` subscribers, SMTP on `port`."""
    configure(project, port, n=n, **smtp)
    set_config(project / "config.toml",
               {'database = "state/digest.sqlite3"': f'database = "{url.url}"'})
    return load_config(project / "config.toml")


def digest(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args, "--config", str(project / "config.toml")],
        cwd=project, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def send(project: Path) -> subprocess.Popen[str]:
    return digest(project, "send", "--json", "--now", NOW.isoformat())


def test_send_on_postgresql_sends_everyone_once_and_a_rerun_nothing(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    with mail_server(Behaviour(unknown_users={addresses(30)[4]})) as (server, port):
        config = shared(project, port, postgres_url, 30, connections="3")
        first = pipeline.send(config, NOW, ENV)
        again = pipeline.send(config, NOW, ENV)
    assert (first.count("sent"), first.count("failed"), first.left) == (29, 1, 0)
    assert again.count("sent") == 29 and again.progress and again.progress.sent == 0
    assert server.counts() == {a: 1 for a in addresses(30) if a != addresses(30)[4]}
    with Store.open(postgres_url) as store:
        assert addresses(30)[4] in store.suppressed()
        assert store.open_sendings() == []  # nothing left: closed for the workers


def test_claims_never_overlap_and_a_dead_workers_rows_return_after_its_lease(
    state_location: Path | DatabaseUrl,
) -> None:
    emails = [f"r{i:03d}@example.com" for i in range(100)]
    with Store.open(state_location) as a, Store.open(state_location) as b:
        a.save_edition(Rendered("e1", "s", "h", "t", {}), T, [])
        a.add_readers("e1", ((e, "", "subscribers", "") for e in emails), T)
        got: dict[str, list[str]] = {"a": [], "b": []}

        def claim(store: Store, name: str) -> None:
            while batch := store.claim("e1", name, 7, T, T + timedelta(seconds=60), 3):
                got[name] += [r.email for r in batch]

        threads = [threading.Thread(target=claim, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got["a"] + got["b"]) == emails  # each row claimed exactly once
        # (on SQLite one thread may win every batch: which held what is read from `got`)
        holder = next(n for n in got if emails[0] in got[n])
        other = "b" if holder == "a" else "a"
        a.record_claimed([(Delivery("e1", emails[0], "sent", "250 ok", "<m>"), None)], T)
        assert a.release_claims(holder) == len(got[holder]) - 1  # the sent row was released
        # the other died holding its rows: nobody gets them until its lease has run out
        before = b.claim("e1", "c", 500, T + timedelta(seconds=59), T + timedelta(hours=1), 3)
        assert sorted(r.email for r in before) == sorted(e for e in got[holder] if e != emails[0])
        late = a.claim("e1", "d", 500, T + timedelta(seconds=61), T + timedelta(hours=1), 3)
        assert sorted(r.email for r in late) == sorted(got[other])


def _has_sent(url: DatabaseUrl, pid: int) -> bool:
    with Store.open(url) as store:
        return any(w.pid == pid and w.sent for w in store.workers(T))


def _serve_until(done: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    out, err = done.communicate(timeout=timeout)
    assert done.returncode == 0, err
    return out, err


def _stop(workers: list[subprocess.Popen[str]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        w.communicate(timeout=30)


def test_a_worker_killed_mid_edition_leaves_its_messages_to_the_others(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    n, connections = 240, 2
    with mail_server(Behaviour(delay=0.01)) as (server, port):
        shared(project, port, postgres_url, n, connections=str(connections),
               lease_seconds="2", claim_batch="10")
        workers = [digest(project, "worker") for _ in range(3)]
        sender = send(project)
        try:
            deadline = time.monotonic() + 60
            while not _has_sent(postgres_url, workers[0].pid) or len(server.received) < 60:
                assert time.monotonic() < deadline and sender.poll() is None, "never started"
                time.sleep(0.01)
            workers[0].send_signal(signal.SIGKILL)  # mid-edition, holding claimed rows
            assert len(server.received) < n
            out, _ = _serve_until(sender, 120)
        finally:
            _stop(workers)
    assert workers[0].returncode == -signal.SIGKILL
    counts = server.counts()
    assert set(counts) == set(addresses(n))  # nobody skipped
    doubled = {a: c for a, c in counts.items() if c > 1}
    # at most the killed worker's messages in flight: one per connection
    assert len(doubled) <= connections and all(c == 2 for c in doubled.values())
    result = json.loads(out)
    assert result["sent"] == n and result["edition"] == EDITION


class _Timed:
    """Accepts every message, noting each recipient and the server's own time of it."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.rcpts: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.monotonic())
        self.rcpts.extend(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


def test_the_rate_limit_holds_for_all_workers_together(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    rate, n = 40.0, 240
    handler = _Timed()
    with serving_smtp(handler) as server:
        shared(project, server.port, postgres_url, n, connections="2",
               rate_per_second=str(rate))
        workers = [digest(project, "worker") for _ in range(2)]
        try:
            _serve_until(send(project), 120)  # the send is the third worker
        finally:
            _stop(workers)
    assert sorted(Counter(handler.rcpts).values()) == [1] * n
    times = sorted(handler.times)
    measured = (len(times) - 1) / (times[-1] - times[0])
    assert 0.8 < measured / rate < 1.05, f"{measured:.1f} messages a second for {rate}"
    # no stretch of the run carries much more than its share (two seconds: a loaded
    # machine's scheduling bunches the server's own acceptances by a few)
    per_window = Counter(int((t - times[0]) / 2) for t in times)
    assert max(per_window.values()) <= 2 * rate * 1.2


def test_status_lists_live_workers(project: Path, postgres_url: DatabaseUrl,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    shared(project, 1025, postgres_url, 3)
    now = datetime.now(UTC)
    with Store.open(postgres_url) as store:
        store.heartbeat(Worker("mx1:42", "mx1", 42, now, now, 120, 100))
        store.heartbeat(Worker("mx2:7", "mx2", 7, now, now - timedelta(hours=1), 9, 9))
    assert main(["status", "--json", "--config", str(project / "config.toml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(w["host"], w["pid"], w["claimed"], w["sent"]) for w in report["workers"]] == [
        ("mx1", 42, 120, 100)]  # mx2's last heartbeat is an hour old: not live


def test_migrate_copies_a_sqlite_state_database_into_postgresql(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    with mail_server(Behaviour()) as (server, port):
        config = configure(project, port, n=12)
        first = pipeline.send(config, NOW, ENV)
        assert first.count("sent") == 12
        with Store.open(config.database_path) as store:
            before = (store.deliveries(EDITION), store.edition(EDITION), store.feed_states())
        assert main(["migrate", "--to", postgres_url.url, "--config",
                     str(project / "config.toml")]) == 0
        with Store.open(postgres_url) as store:
            assert (store.deliveries(EDITION), store.edition(EDITION),
                    store.feed_states()) == before
        # a second copy into the same database is refused, not mixed
        assert main(["migrate", "--to", postgres_url.url, "--config",
                     str(project / "config.toml")]) == 1
        set_config(project / "config.toml",
                   {'database = "state/digest.sqlite3"': f'database = "{postgres_url.url}"'})
        again = pipeline.send(load_config(project / "config.toml"), NOW, ENV)
    assert again.count("sent") == 12 and len(server.received) == 12  # nobody twice


def _scheduler_pid(url: DatabaseUrl) -> int | None:
    holder = lock_holder(url, "scheduler")
    return holder.pid if holder else None


def _until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_scheduler_is_taken_over_when_its_holder_is_killed(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    shared(project, 1025, postgres_url, 3, lease_seconds="1")
    # no jobs: what is tested is who holds the scheduler, whatever the time of day
    set_config(project / "config.toml", {'send = "0 7 * * *"': 'send = ""',
                                         'fetch = "*/30 * * * *"': 'fetch = ""'})
    first = digest(project, "run")
    second = None
    try:
        _until(lambda: _scheduler_pid(postgres_url) == first.pid)
        second = digest(project, "run")
        pid = second.pid
        # the second stands by as a worker (its heartbeat is there), not as the scheduler
        _until(lambda: any(w.pid == pid for w in _workers(postgres_url)))
        assert _scheduler_pid(postgres_url) == first.pid and second.poll() is None
        first.send_signal(signal.SIGKILL)
        _until(lambda: _scheduler_pid(postgres_url) == pid, 30)
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 0 and "took over the scheduler" in err
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()


def _workers(url: DatabaseUrl) -> list[Worker]:
    with Store.open(url) as store:
        return store.workers(T)


def test_a_worker_whose_database_goes_away_says_so_and_goes_on_when_it_is_back(
    project: Path, postgres_server: PostgresServer, postgres_url: DatabaseUrl,
) -> None:
    n, connections = 80, 2
    with mail_server(Behaviour(delay=0.02)) as (server, port):
        config = shared(project, port, postgres_url, n, connections=str(connections),
                        lease_seconds="2", claim_batch="5")
        worker = digest(project, "worker")
        try:
            _until(lambda: len(_workers(postgres_url)) == 1)
            with Store.open(postgres_url) as store:
                pipeline.fetch(config, store, NOW)
                create_sending(config, store, ENV["DIGEST_SECRET"].encode(), NOW, EDITION,
                               "daily")
            _until(lambda: len(server.received) >= 20)
            # every connection of the worker cut, as when the server restarts
            postgres_server.sql(postgres_url, "SELECT pg_terminate_backend(pid) FROM "
                                "pg_stat_activity WHERE application_name LIKE 'digest %'")
            _until(lambda: len(set(server.counts())) == n)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=30)
    assert "the state database failed" in err and "trying again" in err
    counts = server.counts()
    doubled = {a: c for a, c in counts.items() if c > 1}
    assert len(doubled) <= connections  # at most the messages in flight at the cut
    with Store.open(postgres_url) as store:
        assert store.delivery_counts(EDITION) == {"sent": n}


def test_deferrals_wait_in_the_ledger_and_the_next_send_tries_the_rest_again(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    slow, quick = addresses(12)[0], addresses(12)[1]
    with mail_server(Behaviour(greylist={slow: 4, quick: 1})) as (server, port):
        config = shared(project, port, postgres_url, 12)
        first = pipeline.send(config, NOW, ENV)
        assert (first.count("sent"), first.count("deferred"), first.left) == (11, 1, 1)
        with Store.open(postgres_url) as store:
            rows = {d.email: d for d in store.deliveries(EDITION)}
            assert store.open_sendings() == []  # its tries used up: left to the next send
        assert rows[slow].attempts == 4 and rows[slow].reply.startswith("451")
        assert rows[quick].attempts == 2 and rows[quick].status == "sent"
        second = pipeline.send(config, NOW, ENV)
    assert second.ok and second.count("sent") == 12
    assert server.counts() == dict.fromkeys(addresses(12), 1)
    assert server.rcpt_asked[slow] == 5


def test_a_password_in_the_database_url_is_refused_and_the_worker_needs_postgresql(
    project: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = project / "config.toml"
    assert main(["worker", "--once", "--config", str(config)]) == 2  # SQLite: no workers
    assert "PostgreSQL" in capsys.readouterr().err
    set_config(config, {'database = "state/digest.sqlite3"':
                        'database = "postgresql://digest:hunter2@db.example.com/digest"'})
    with pytest.raises(ConfigError, match=r"state\.database.*DIGEST_DB_PASSWORD"):
        load_config(config)


def test_the_retry_job_on_postgresql_hands_due_deferrals_to_the_workers(
    project: Path, postgres_url: DatabaseUrl,
) -> None:
    slow = addresses(6)[2]
    with mail_server(Behaviour(greylist={slow: 4})) as (server, port):
        config = shared(project, port, postgres_url, 6)
        first = pipeline.send(config, NOW, ENV)
        assert first.count("deferred") == 1
        with Store.open(postgres_url) as store:
            assert store.open_sendings() == []  # its tries used up in that round
        assert pipeline.retry_deferred(config, ENV) == ()  # sends nothing itself
        with Store.open(postgres_url) as store:
            assert store.open_sendings() == [EDITION]  # a new round, for the workers
        _serve_until(digest(project, "worker", "--once"), 60)
    assert server.counts() == dict.fromkeys(addresses(6), 1)
    with Store.open(postgres_url) as store:
        assert store.delivery_counts(EDITION) == {"sent": 6}


def test_a_claim_reads_the_open_rows_only(tmp_path: Path) -> None:
    """With most of a big edition sent, a claim must not read past the sent rows (at 800,000
    of a million that took PostgreSQL a second a claim: docs/scaling.md): SQLite's planner
    takes the index of open rows. (PostgreSQL's picks it by cost, which a small table does
    not show; bench/scale.py --memory 1000000 does.)"""
    from digest.store.workers import _CLAIMABLE

    emails = [f"r{i:05d}@example.com" for i in range(3000)]
    with Store.open(tmp_path / "s.sqlite3") as store:
        store.save_edition(Rendered("e1", "s", "h", "t", {}), T, [])
        store.add_readers("e1", ((e, "", "subscribers", "") for e in emails), T)
        store.record_claimed([(Delivery("e1", e, "sent", "250 ok", "<m>"), None)
                              for e in emails[:2950]], T)
        plan = " ".join(str(tuple(row)) for row in store._db.execute(
            f"""EXPLAIN QUERY PLAN SELECT edition_id, email FROM deliveries
                WHERE edition_id = ? AND {_CLAIMABLE} AND (claimed_by = '' OR lease_until < ?)
                ORDER BY email LIMIT ?""", ("e1", "9999", 3, "0000", 50)).fetchall())
        assert "deliveries_open" in plan, plan
        claimed = store.claim("e1", "w", 50, T, T + timedelta(seconds=60), 3)
        assert [r.email for r in claimed] == emails[2950:]
