"""Benchmark: one edition to N subscribers through a local sink, beside the transport limit.

    .venv/bin/python bench/send.py                 # 10,000 and 100,000 subscribers
    .venv/bin/python bench/send.py --sizes 2000    # a quick look
    .venv/bin/python bench/send.py --pipelining    # a sink that offers PIPELINING
    .venv/bin/python bench/send.py --sizes 10000 --rounds 3   # limit, digest, limit, ... x3

The sink is aiosmtpd in its own process, answering 250 and discarding, so it does not share
the client's interpreter. For each size, in fresh child processes:
  * the transport limit: one pre-built message (the same edition, built from an empty
    database) pushed with smtplib's `sendmail` over the same number of connections (threads),
    no ledger, no building; measured before and after each digest run and averaged, since the
    machine's load drifts;
  * digest: `pipeline.send` of the sample edition to N subscribers (CSV list, real SQLite
    ledger, prepared messages, the worker pool), messages per second over the send phase,
    and the child's peak RSS.
Prints messages per second, the ratio to the limit, peak memory, the client's CPU time per
message for both (a figure the machine's load does not skew as much as rates), and how busy
the sink process was while each sent (its CPU seconds per second, from /proc): a sink near
100% busy is the bottleneck, whatever the client does.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import smtplib
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

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
ENV = {"DIGEST_SECRET": "bench-secret-of-enough-length"}


class Discard:
    """Answers 250 and keeps only a count of the messages and their bytes (shared with the
    bench's main process), so each side's average message size can be checked."""

    def __init__(self, received: Any) -> None:
        self.received = received  # multiprocessing.Array("q", 2): messages, bytes

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received[0] += 1
        self.received[1] += len(envelope.original_content or b"")
        return "250 2.0.0 Ok: discarded"


class PipeliningDiscard(Discard):
    """Also advertises PIPELINING, as Postfix and Exim do (aiosmtpd does not by itself)."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


def sink(port: int, ready: Any, received: Any, pipelining: bool = False) -> None:
    from aiosmtpd.controller import Controller

    handler = PipeliningDiscard(received) if pipelining else Discard(received)
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            data_size_limit=50 * 1024 * 1024)
    controller.start()
    ready.set()
    threading.Event().wait()


def project(folder: Path, port: int, n: int, connections: int) -> Path:
    for name in ("templates", "samples"):
        shutil.copytree(REPO / name, folder / name)
    (folder / "subscribers").mkdir()
    with (folder / "subscribers" / "subscribers.csv").open("w") as f:
        f.write("email,name\n")
        for i in range(n):
            f.write(f"reader{i}@example.com,Reader Number {i}\n")
    config = (REPO / "config.toml").read_text()
    config = config.replace("port = 1025", f"port = {port}")
    config = config.replace("connections = 4", f"connections = {connections}")
    (folder / "config.toml").write_text(config)
    return folder / "config.toml"


def sink_cpu() -> float:
    """The sink process's CPU seconds so far (Linux /proc; 0 elsewhere)."""
    try:
        stat = Path(f"/proc/{os.environ['BENCH_SINK_PID']}/stat").read_text()
    except (KeyError, OSError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_digest(config_path: str) -> dict[str, Any]:
    from digest import pipeline
    from digest.config import load_config
    from digest.deliver.delivery import Progress
    from digest.deliver.dispatch import Controls

    config = load_config(Path(config_path))
    first: list[tuple[float, float, int]] = []  # sink CPU, time, answered at the first answer

    def report(progress: Progress) -> None:
        if not first:
            first.append((sink_cpu(), time.perf_counter(), progress.done))

    started = time.perf_counter()
    summary = pipeline.send(config, NOW, ENV, controls=Controls(report=report))
    wall = time.perf_counter() - started
    progress = summary.progress
    assert progress is not None and summary.ok, summary
    elapsed = time.monotonic() - progress.started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, time0, done0 = first[0]
    sink = sink_cpu() - cpu0
    return {"sent": summary.count("sent"), "rate": progress.sent / elapsed, "wall": wall,
            "send_seconds": elapsed, "peak_mb": usage.ru_maxrss / 1024,
            "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000 / progress.sent,
            "sink_busy": sink / (time.perf_counter() - time0),
            "sink_ms": sink * 1000 / max(1, progress.done - done0)}


def child_limit(config_path: str, count: int, connections: int) -> dict[str, Any]:
    """Pre-built identical messages pushed with smtplib over `connections` threads."""
    from digest import pipeline
    from digest.config import load_config
    from digest.deliver.message import PreparedMessage
    from digest.model import Subscriber
    from digest.store import Store

    config = load_config(Path(config_path))
    # From nothing, always: after digest's run the edition's stories count as sent, and the
    # edition built again would be another, smaller message (7 KB instead of 29 KB), which
    # once made the limit measured after digest's run look twice as fast as the one before.
    shutil.rmtree(config.database_path.parent, ignore_errors=True)
    with Store.open(config.database_path) as store:
        pipeline.fetch(config, store, NOW)
        edition = pipeline.build_edition(config, store, NOW, "daily-2023-11-22")
    rendered = pipeline.render(config, edition)
    sender = pipeline.sender_for(config, ENV["DIGEST_SECRET"].encode())
    message = PreparedMessage(rendered, sender, NOW).wire(Subscriber("reader0@example.com"))
    shutil.rmtree(config.database_path.parent)  # digest's own run starts from nothing
    per = count // connections

    def push() -> None:
        smtp = smtplib.SMTP(config.smtp.host, config.smtp.port, timeout=30)
        for _ in range(per):
            smtp.sendmail(sender.address, ["reader0@example.com"], message)
        smtp.quit()

    threads = [threading.Thread(target=push) for _ in range(connections)]
    before = resource.getrusage(resource.RUSAGE_SELF)
    sink0 = sink_cpu()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    sink = sink_cpu() - sink0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"rate": per * connections / elapsed, "size": len(message),
            "cpu_ms": cpu * 1000 / (per * connections), "sink_busy": sink / elapsed,
            "sink_ms": sink * 1000 / (per * connections)}


child_env: dict[str, str] = {}  # the sink's pid, for the children to read its CPU time


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, env=os.environ | child_env).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--limit-messages", type=int, default=20_000,
                        help="messages pushed to measure the transport limit")
    parser.add_argument("--pipelining", action="store_true",
                        help="the sink advertises PIPELINING (digest then uses it; the "
                             "transport limit, smtplib's sendmail, never does)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="digest runs at each size, each followed by a limit run")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = (child_digest(rest[0]) if kind == "digest"
                  else child_limit(rest[0], int(rest[1]), int(rest[2])))
        print(json.dumps(result))
        return

    from digest.sink.server import free_port

    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{args.connections} connections; sink: aiosmtpd in its own process, discarding"
          f"{', advertising PIPELINING' if args.pipelining else ''}")
    for n in args.sizes:
        port = free_port()
        ready = multiprocessing.Event()
        received = multiprocessing.Array("q", 2, lock=False)  # only the sink's thread writes
        server = multiprocessing.Process(target=sink, daemon=True,
                                         args=(port, ready, received, args.pipelining))
        server.start()
        ready.wait(30)
        child_env["BENCH_SINK_PID"] = str(server.pid)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                config = str(project(Path(tmp), port, n, args.connections))
                limit_args = ("limit", config, str(min(n, args.limit_messages)),
                              str(args.connections))
                # The limit before and after each digest run, averaged: the machine's load
                # drifts, and alternating spreads the drift over both sides.
                limits = [measured(received, *limit_args)]
                ours = []
                for _ in range(args.rounds):
                    ours.append(measured(received, "digest", config))
                    limits.append(measured(received, *limit_args))
        finally:
            server.terminate()
            server.join()
        report(n, ours, limits)


def measured(received: Any, *child: str) -> dict[str, Any]:
    """A child's figures, with the average size of the messages the sink received meanwhile."""
    messages, octets = received[0], received[1]
    result = run_child(*child)
    result["received"] = (received[1] - octets) / max(1, received[0] - messages)
    return result


def report(n: int, ours: list[dict[str, Any]], limits: list[dict[str, Any]]) -> None:
    def mean(runs: list[dict[str, Any]], key: str) -> float:
        return sum(run[key] for run in runs) / len(runs)

    rate, limit = mean(ours, "rate"), mean(limits, "rate")
    print(f"{n:>7,} subscribers: digest {rate:,.0f} msg/s | transport limit {limit:,.0f} msg/s "
          f"| ratio {rate / limit:.0%} | peak memory {max(r['peak_mb'] for r in ours):.0f} MB "
          f"| client CPU per message: digest {mean(ours, 'cpu_ms'):.2f} ms (whole process: "
          f"lists, ledger, building), smtplib alone {mean(limits, 'cpu_ms'):.2f} ms | sink busy "
          f"while sending: digest {mean(ours, 'sink_busy'):.0%}, limit "
          f"{mean(limits, 'sink_busy'):.0%}; its CPU per message: digest "
          f"{mean(ours, 'sink_ms'):.2f} ms, limit {mean(limits, 'sink_ms'):.2f} ms")
    print("    runs in order (msg/s, average bytes the sink received per message): " + ", ".join(
        f"{'limit' if 'size' in r else 'digest'} {r['rate']:,.0f} ({r['received']:,.0f} B)"
        for r in _interleave(limits, ours)))
    for r in ours:
        print(f"    digest: {r['sent']:,} sent in {r['send_seconds']:.1f} s (whole run "
              f"{r['wall']:.1f} s), peak {r['peak_mb']:.0f} MB")
    sizes = {round(r["received"]) for r in ours + limits}
    if max(sizes) > 1.05 * min(sizes):
        print(f"    WARNING: the two sides sent messages of different sizes ({sorted(sizes)}): "
              "the ratio compares unlike work")


def _interleave(limits: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = [limits[0]]
    for digest_run, limit_run in zip(ours, limits[1:], strict=True):
        order += [digest_run, limit_run]
    return order


if __name__ == "__main__":
    main()
