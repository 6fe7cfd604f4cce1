"""Benchmark: one edition sent by 1, 2, 4 and 8 worker processes sharing a real PostgreSQL.

    .venv/bin/python bench/scale.py                          # 2,000 subscribers, 50 ms relay
    .venv/bin/python bench/scale.py --subscribers 100000     # the issue's size (slow here)
    .venv/bin/python bench/scale.py --rate 200               # the shared rate limit
    .venv/bin/python bench/scale.py --memory 10000 100000    # peak memory against list size

A throwaway PostgreSQL (Debian's package, run as `postgres`) holds the state; an aiosmtpd
sink in its own process waits `--delay` seconds (50 ms: a relay across the internet) before
answering each message, so one process is latency bound, which is what workers are for. For
each worker count, on a fresh database: that many `digest worker` processes start and wait,
then the edition is created once (not timed) and they send it. Printed per run: messages per
second (from the sink's own first and last acceptance), the ratio to one worker, the ratio
to the rate limit, the share of the latency ceiling reached (workers x connections / wait:
what the relay would allow if the clients cost nothing), the peak RSS of the largest worker,
and the most database connections seen at once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from send import project as send_project  # noqa: E402

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
ENV = {"DIGEST_SECRET": "bench-secret-of-enough-length"}


class SlowRelay:
    """Waits `delay` before answering 250; shares the count and first/last times."""

    def __init__(self, stats: Any, delay: float) -> None:
        self.stats = stats  # multiprocessing.Array("d", 3): messages, first, last
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        now = time.time()
        with self.stats.get_lock():
            if not self.stats[0]:
                self.stats[1] = now
            self.stats[0] += 1
            self.stats[2] = now
        return "250 2.0.0 Ok: discarded"


def sink(port: int, ready: Any, stats: Any, delay: float) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(SlowRelay(stats, delay), hostname="127.0.0.1", port=port,
                            data_size_limit=50 * 1024 * 1024)
    controller.start()
    ready.set()
    threading.Event().wait()


def project(folder: Path, port: int, url: str, n: int, connections: int, rate: float) -> Path:
    """bench/send.py's project, its state in PostgreSQL, with a lease and a rate limit."""
    config = send_project(folder, port, n, connections)
    text = config.read_text()
    text = text.replace(f"connections = {connections}", f"connections = {connections}\n"
                        f"rate_per_second = {rate}\nlease_seconds = 30\nclaim_batch = 50")
    config.write_text(text.replace('database = "state/digest.sqlite3"', f'database = "{url}"'))
    return config


def create(config_path: Path) -> None:
    """Fetch, build and store the edition and its ledger rows, as `digest send` would."""
    from digest import pipeline
    from digest.config import load_config
    from digest.pipeline.workers import create_sending
    from digest.store import Store

    config = load_config(config_path)
    key = pipeline.token_key(config, ENV)
    with Store.open(config.database_path) as store:
        pipeline.fetch(config, store, NOW)
        note, _ = create_sending(config, store, key, NOW, pipeline.edition_id_for(config, NOW),
                                 "daily")
    assert not note, note


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_run(server: Any, port: int, stats: Any, n: int, workers: int, connections_each: int,
            rate: float, delay: float) -> dict[str, float]:
    from digest.store import Store

    url = server.new_database()
    folder = Path(tempfile.mkdtemp(prefix="digest-scale-"))
    env = {**os.environ, **ENV}
    processes: list[subprocess.Popen[str]] = []
    try:
        config = project(folder, port, url.url, n, connections_each, rate)
        with stats.get_lock():
            stats[0] = stats[1] = stats[2] = 0
        # The workers start first and wait for work, so none has a head start of its
        # interpreter's start-up over the others.
        processes = [subprocess.Popen(
            [sys.executable, "-m", "digest", "worker", "--config", str(config)],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(workers)]
        with Store.open(url) as store:
            while len(store.workers(NOW)) < workers:
                time.sleep(0.1)
        create(config)
        peak = {p.pid: 0.0 for p in processes}
        most = 0
        with Store.open(url) as store:
            while stats[0] < n:
                for p in processes:
                    if p.poll() is not None:
                        raise SystemExit(f"a worker failed: {p.communicate()[1][-2000:]}")
                    peak[p.pid] = max(peak[p.pid], peak_rss_mb(p.pid))
                most = max(most, int(store._db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                ).fetchone()[0]) - 1)  # not this one
                time.sleep(0.5)
        count, first, last = stats[0], stats[1], stats[2]
        rate_seen = (count - 1) / (last - first) if last > first else 0.0
        capacity = workers * connections_each / delay if delay else float("inf")
        return {"rate": rate_seen, "rss": max(peak.values()), "connections": most,
                "load": rate_seen / capacity}
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.communicate()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--connections", type=int, default=4, help="per worker")
    parser.add_argument("--delay", type=float, default=0.05, help="the relay's wait, seconds")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="[smtp] rate_per_second for all workers together (0: none)")
    parser.add_argument("--memory", type=int, nargs="*", default=[],
                        help="instead: peak worker memory for these list sizes (4 workers)")
    args = parser.parse_args()
    from pg import running_postgres

    from digest.sink.server import free_port

    port = free_port()
    ready, stats = multiprocessing.Event(), multiprocessing.Array("d", 3)
    relay = multiprocessing.Process(target=sink, args=(port, ready, stats, args.delay),
                                    daemon=True)
    relay.start()
    ready.wait(10)
    with running_postgres(max_connections=300) as server:
        if args.memory:
            print(f"{'subscribers':>11} {'workers':>7} {'msg/s':>8} {'peak RSS/worker':>16}")
            for n in args.memory:
                r = one_run(server, port, stats, n, 4, args.connections, args.rate, args.delay)
                print(f"{n:>11,} {4:>7} {r['rate']:>8.0f} {r['rss']:>13.0f} MB", flush=True)
            return
        print(f"{args.subscribers:,} subscribers, {args.connections} connections per worker, "
              f"relay wait {args.delay * 1000:.0f} ms, rate limit "
              f"{args.rate or 'none'}, {os.cpu_count()} CPUs")
        print(f"{'workers':>7} {'msg/s':>8} {'x one':>6} {'vs limit':>8} {'of ceiling':>10} "
              f"{'peak RSS/worker':>16} {'db connections':>15}")
        base = 0.0
        for k in args.workers:
            r = one_run(server, port, stats, args.subscribers, k, args.connections, args.rate,
                        args.delay)
            base = base or r["rate"]
            limit = f"{r['rate'] / args.rate:8.3f}" if args.rate else f"{'-':>8}"
            print(f"{k:>7} {r['rate']:>8.1f} {r['rate'] / base:>6.2f} {limit} "
                  f"{r['load']:>10.0%} {r['rss']:>13.0f} MB {r['connections']:>15}",
                  flush=True)
    relay.terminate()


if __name__ == "__main__":
    main()
