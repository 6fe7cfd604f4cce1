"""Bench: load a generated subscriber list of N rows (default 1,000,000) and print the figures.

    .venv/bin/python bench/subscribers.py [--rows 1000000] [--keep]

Prints the time to stream the whole list through `load_subscribers` (validation, topics,
de-duplication), the time of a bare `csv.reader` pass over the same file for a ratio that
depends less on the machine's speed, and the process's peak memory. On a shared machine the
CPU time is the fairer figure: the wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from digest.audience.subscribers import LoadStats, load_subscribers

TOPICS = ("Featured", "World", "Politics")


def generate(path: Path, rows: int) -> None:
    """A list like a real export: mixed-case domains, topics, frequencies, 0.1% bad rows."""
    rng = random.Random(8)
    domains = [f"Mail{i}.Example.COM" for i in range(200)] + ["gmail.com", "yahoo.co.uk"]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["email", "name", "topics", "frequency"])
        for i in range(rows):
            if i % 1000 == 999:
                w.writerow([f"broken{i}-at-example.com", "Bad Row", "", "daily"])
                continue
            topics = rng.choice(["", "", "World", "Politics;World", "Featured;Politics"])
            w.writerow([f"first.last+{i}@{rng.choice(domains)}", f"Reader {i}", topics,
                        rng.choice(["daily", "daily", "weekly"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # 1,000 bad-row lines would drown the figures
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    path = folder / "subscribers.csv"
    generate(path, args.rows)
    size = path.stat().st_size

    start = time.process_time()
    with path.open(encoding="utf-8", newline="") as f:
        bare = sum(1 for _ in csv.reader(f))
    csv_cpu = time.process_time() - start

    stats = LoadStats()
    start, cpu_start = time.perf_counter(), time.process_time()
    count = sum(1 for _ in load_subscribers([path], topics=TOPICS, stats=stats))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"list: {args.rows:,} rows, {size / 1e6:.1f} MB ({bare - 1:,} CSV records)")
    print(f"load_subscribers: {seconds:.2f} s ({cpu:.2f} s CPU), {args.rows / seconds:,.0f} "
          f"rows/s; "
          f"{count:,} subscribers, {stats.skipped:,} bad rows skipped, "
          f"{stats.duplicates:,} duplicates")
    print(f"bare csv.reader pass: {csv_cpu:.2f} s CPU; loader / bare csv (CPU) = "
          f"{cpu / csv_cpu:.1f}x")
    print(f"peak memory (RSS): {peak_mb:.0f} MB; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    if args.keep:
        print(f"kept {path}")
    else:
        path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
