"""Benchmark: ingest F feeds of E items each from a local HTTP server with latency L.

The feeds are a mix of RSS 2.0, Atom, RSS 1.0 and JSON Feed shapes modelled on the real-world
corpus, about a third of the XML ones of shapes digest leaves to feedparser (bench/feedmix.py
says which and why).

    .venv/bin/python bench/ingest.py                    # F=500, E=50, L=100 ms, with rss2email
    .venv/bin/python bench/ingest.py -f 50 -e 20 --no-r2e   # a quick run, digest only

The server runs in its own process and listens on several loopback addresses (127.0.0.2,
127.0.0.3, ...), one "host" each, so that the per-host limit works as on the web. Every
answer waits L before its first byte. Each feed has an ETag and answers 304 when it is sent
back. Measured, each in a fresh child process and its whole process tree (parse workers
included), sampled from /proc every 50 ms:

- digest cold: `digest fetch` on an empty database (every story new),
- digest warm: `digest fetch` again (every feed 304),
- rss2email 3.14 cold and warm: `r2e run --no-send` on the same feeds, with a generated
  config, installed into bench/.venv-r2e (created on first use: python3 -m venv
  bench/.venv-r2e && bench/.venv-r2e/bin/pip install rss2email==3.14).

Prints the times, stories per second, peak memory, and digest's speed-up over rss2email.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedmix import content_type, feed_body, shape_of  # bench/feedmix.py, beside this script

HERE = Path(__file__).resolve().parent
R2E_VENV = HERE / ".venv-r2e"
R2E_VERSION = "3.14"


def serve(hosts: list[str], feeds: int, items: int, latency: float, ready: Any) -> None:
    """The feed server (its own process): every feed on its host, L before each answer.

    asyncio, HTTP/1.1 with keep-alive: a thread per request would make the server, not the
    clients, the bottleneck once many requests wait at once.
    """
    bodies = {n: feed_body(n, items) for n in range(feeds)}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                await asyncio.sleep(latency)
                writer.write(response(path, headers))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def response(path: str, headers: dict[str, str]) -> bytes:
        try:
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            body = bodies[n]
        except (ValueError, KeyError, IndexError):
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        etag = f'"feed-{n}-v1"'
        if headers.get("if-none-match") == etag:
            return f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode()
        return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type(n)}\r\n"
                f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    async def main() -> None:
        servers = [await asyncio.start_server(answer, host, 0, backlog=1024) for host in hosts]
        ready.send([f"http://{h}:{s.sockets[0].getsockname()[1]}"
                    for h, s in zip(hosts, servers, strict=True)])
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock
    cpu: float  # user + system seconds of the whole process tree (parse workers included)
    memory: float  # MB: peak of the summed resident set of the process tree
    out: str


def _tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += parents.get(pid, [])
    return found


def _sample(pid: int) -> tuple[int, float]:
    """(resident KiB, cpu seconds) of one process, or (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return rss, (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError, StopIteration):
        return 0, 0.0


def run(argv: list[str], cwd: Path) -> Measured:
    """Run a command; measure wall time, and sample its process tree (parse workers, fork
    server and all) every 50 ms: the peak of the summed resident memory (shared pages counted
    once per process, so an upper bound) and each process's last CPU time (so each may miss
    its last 50 ms)."""
    started = time.perf_counter()
    peak_kib = 0
    cpu: dict[int, float] = {}
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            total = 0
            for pid in _tree(process.pid):
                rss, seconds = _sample(pid)
                total += rss
                if seconds:
                    cpu[pid] = seconds
            peak_kib = max(peak_kib, total)
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    return Measured(elapsed, sum(cpu.values()), peak_kib / 1024, text)


def digest_config(folder: Path, urls: list[str]) -> Path:
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\nname = "Feed {i}"\n\n' for i, u in enumerate(urls))
    path = folder / "config.toml"
    path.write_text(
        '[newsletter]\nname = "Bench"\nfrom = "Bench <bench@example.com>"\n\n'
        '[state]\ndatabase = "state.sqlite3"\n\n' + feeds
    )
    return path


def r2e_config(folder: Path, urls: list[str]) -> Path:
    path = folder / "r2e.cfg"
    sections = "".join(f"[feed.f{i}]\nurl = {u}\n\n" for i, u in enumerate(urls))
    path.write_text(f"[DEFAULT]\nto = bench@example.com\nfrom = bench@example.com\n\n{sections}")
    return path


def ensure_r2e() -> Path:
    r2e = R2E_VENV / "bin" / "r2e"
    if not r2e.exists():
        print(f"installing rss2email {R2E_VERSION} into {R2E_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(R2E_VENV)], check=True)
        subprocess.run([str(R2E_VENV / "bin" / "pip"), "install", "-q",
                        f"rss2email=={R2E_VERSION}"], check=True)
    return r2e


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--feeds", type=int, default=500)
    parser.add_argument("-e", "--items", type=int, default=50)
    parser.add_argument("-l", "--latency-ms", type=float, default=100.0)
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses to spread over")
    parser.add_argument("--no-r2e", action="store_true", help="skip rss2email")
    args = parser.parse_args()
    hosts = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(
        target=serve, args=(hosts, args.feeds, args.items, args.latency_ms / 1000, send),
        daemon=True,
    )
    server.start()
    bases = receive.recv()
    urls = [f"{bases[n % len(bases)]}/feed/{n}.xml" for n in range(args.feeds)]
    total = args.feeds * args.items
    shapes = Counter(shape_of(n) for n in range(args.feeds))
    print(f"{args.feeds} feeds x {args.items} items, {args.latency_ms:g} ms latency, "
          f"{args.hosts} hosts; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("feed mix (bench/feedmix.py): " + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        folder = Path(tmp)
        config = digest_config(folder, urls)
        command = [sys.executable, "-m", "digest", "fetch", "--json", "--config", str(config)]
        for phase in ("cold", "warm"):
            m = run(command, folder)
            report = json.loads(m.out)
            statuses = [f["status"] for f in report["feeds"]]
            want = "ok" if phase == "cold" else "not_modified"
            assert statuses.count(want) == args.feeds, (phase, statuses)
            if phase == "cold":
                assert report["new_stories"] == total, report["new_stories"]
            results[f"digest {phase}"] = m
            print(f"digest    {phase}: {m.seconds:7.2f} s  {total / m.seconds:8.0f} stories/s  "
                  f"cpu {m.cpu:6.2f} s  peak {m.memory:6.1f} MB  "
                  f"({statuses.count(want)} feeds {want})", flush=True)
        if not args.no_r2e:
            r2e = ensure_r2e()
            cfg = r2e_config(folder, urls)
            data = folder / "r2e.json"
            for phase in ("cold", "warm"):
                m = run([str(r2e), "-c", str(cfg), "-d", str(data), "run", "--no-send"], folder)
                seen = sum(len(f.get("seen", {})) for f in json.loads(data.read_text())["feeds"])
                # rss2email's feedparser 6.0 reads no JSON Feed: those items it never sees.
                assert seen == total - shapes["json"] * args.items, (phase, seen)
                results[f"r2e {phase}"] = m
                print(f"rss2email {phase}: {m.seconds:7.2f} s  {seen / m.seconds:8.0f} "
                      f"stories/s  cpu {m.cpu:6.2f} s  peak {m.memory:6.1f} MB  ({seen} stories "
                      "it can read)", flush=True)
            for phase in ("cold", "warm"):
                ratio = results[f"r2e {phase}"].seconds / results[f"digest {phase}"].seconds
                print(f"{phase}: digest is {ratio:.1f}x faster than rss2email {R2E_VERSION} "
                      "(wall clock, same run)")
    server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
