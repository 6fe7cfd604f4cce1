"""Bench: `digest bounces scan` over a Maildir of N real-world bounces (default 5,000).

    .venv/bin/python bench/bounces.py [--messages 5000] [--subscribers 20000]

Builds a state database whose ledger has one edition sent to `--subscribers` addresses, and
a Maildir of `--messages` messages: the samples of tests/data/bounces/ in turn (DSNs,
non-standard bounces, ARF complaints, auto-replies, unrecognised), each to a random
subscriber's VERP address. Prints messages per second of the scan (wall and CPU), which
includes classifying, resolving the token, the policy, the database writes and moving each
file. On a shared machine the CPU figure is the fairer one.
"""

from __future__ import annotations

import argparse
import logging
import mailbox
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from digest.bounces.mailbox import scan
from digest.bounces.process import Processor
from digest.bounces.verp import verp_address, verp_key
from digest.config import BouncesConfig
from digest.model import Delivery
from digest.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "bounces"
BOUNCES = "bounces@news.example.com"
EDITION = "daily-2024-03-01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=20000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # every kept message logs a warning
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-bounces-"))
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    key = verp_key(b"a-bench-secret-of-enough-length")
    emails = [f"reader{i}@mail{i % 97}.example.com" for i in range(args.subscribers)]
    samples = [p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))]
    rng = random.Random(18)
    box = mailbox.Maildir(folder / "Maildir", create=True)
    for i in range(args.messages):
        verp = verp_address(key, BOUNCES, EDITION, rng.choice(emails))
        box.add(f"Delivered-To: {verp}\nX-Bench: {i}\n".encode() + samples[i % len(samples)])
    settings = BouncesConfig(address=BOUNCES)
    with Store.open(folder / "state.sqlite3") as store:
        store.add_pending(EDITION, emails, now)
        store.record_deliveries([(Delivery(EDITION, e, "sent", "250 ok", ""), None)
                                 for e in emails], now)
        wall, cpu = time.perf_counter(), time.process_time()
        summary = scan(folder / "Maildir", Processor(store, key, settings, lambda: now))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items()))
    print(f"scan of {summary.messages:,} messages ({counts})")
    print(f"  {summary.messages / wall:,.0f} messages/second wall ({wall:.2f} s)")
    print(f"  {summary.messages / cpu:,.0f} messages/second CPU ({cpu:.2f} s)")
    print(f"  (folder kept: {folder})")


if __name__ == "__main__":
    main()
