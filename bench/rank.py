"""Benchmark: cluster and rank 5,000, 10,000 and 20,000 candidate stories; print time and peak
memory at each size, and how the time grows against n log n.

The candidates are every dated item of the real-feed corpus (../shared/corpus/feeds), repeated
with varied headlines (words dropped, swapped, re-cased, a kicker or a tail added), spread over
200 feeds and over the lookback window, each with its own link and id, so clustering has to find
the copies by their words. Run from the repository root:

    .venv/bin/python bench/rank.py            # sizes 5000 10000 20000
    .venv/bin/python bench/rank.py 1000 2000  # other sizes
    .venv/bin/python bench/rank.py --runs 5   # best of 5 runs at each size (default 3)
    .venv/bin/python bench/rank.py --distinct-summaries  # each copy's summary varied too
    .venv/bin/python bench/rank.py --one-feed  # all candidates in one feed (an aggregator's)

A wire story comes with its summary word for word in many feeds, and the candidates keep each
corpus item's summary in all its copies; with --distinct-summaries every copy's summary is
varied as its headline is (almost no two stories share one), the harder case: every summary is
read on its own.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import RankingConfig
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story
from digest.rank.score import rank

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"
NOW = datetime(2026, 4, 25, 19, 0, tzinfo=UTC)
KICKERS = ["Update", "Live", "Exclusive", "Analysis", "Breaking", "Report"]
TAILS = ["officials say", "report says", "sources say", "in pictures", "what we know"]


def corpus_stories() -> list[Story]:
    stories = []
    for path in sorted(CORPUS.iterdir()):
        feed = Feed(url=str(path), name=path.stem, section="News")
        try:
            stories += parse_feed(FetchResult(feed=feed, status="ok", body=path.read_bytes()),
                                  NOW)
        except Exception:  # noqa: BLE001 - JSON feeds and the like are not for this benchmark
            continue
    return stories


def vary(title: str, rng: random.Random) -> str:
    words = title.split()
    choice = rng.randrange(6)
    if choice == 0 and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif choice == 1 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif choice == 2:
        words = [w.upper() if rng.random() < 0.3 else w for w in words]
    elif choice == 3:
        words = [f"{rng.choice(KICKERS)}:", *words]
    elif choice == 4:
        words += ["-", rng.choice(TAILS)]
    return " ".join(words)


def candidates(base: list[Story], n: int, seed: int = 5, distinct_summaries: bool = False,
               one_feed: bool = False) -> list[Story]:
    rng = random.Random(seed)
    summaries = random.Random(seed + 1)  # its own stream: the headlines stay as they were
    out = []
    for k in range(n):
        s = base[k % len(base)]
        feed = f"https://feed{rng.randrange(200)}.example/rss"
        if one_feed:  # (the same draws either way: the headlines stay as they were)
            feed = "https://aggregator.example/rss"
        out.append(dataclasses.replace(
            s, feed_url=feed, source=feed, id=f"{feed}#{k}", url=f"{s.url}#copy{k}",
            title=vary(s.title, rng), weight=rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]),
            summary_text=vary(s.summary_text, summaries) if distinct_summaries else s.summary_text,
            published=NOW - timedelta(minutes=rng.randrange(36 * 60)),
        ))
    return out


def measure(stories: list[Story], runs: int) -> tuple[float, float, float, float, int]:
    """Wall and CPU time of the best of `runs` runs (as timeit reports: on a shared machine
    the best run is the one the others disturbed least), the median CPU time, peak memory."""
    settings = RankingConfig()
    times = []
    for _ in range(runs):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        edition = rank(stories, settings, NOW, "bench", "Bench")
        times.append((time.process_time() - cpu, time.perf_counter() - start))
    gc.collect()
    tracemalloc.start()
    rank(stories, settings, NOW, "bench", "Bench")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cpu, wall = min(times)
    median = sorted(t for t, _ in times)[len(times) // 2]
    return wall, cpu, median, peak / 2**20, len(edition.clusters)


def main(argv: list[str]) -> None:
    runs = 3
    distinct, one_feed = "--distinct-summaries" in argv, "--one-feed" in argv
    argv = [a for a in argv if a not in ("--distinct-summaries", "--one-feed")]
    if "--runs" in argv:
        at = argv.index("--runs")
        runs = int(argv[at + 1])
        del argv[at:at + 2]
    sizes = [int(a) for a in argv] or [5000, 10000, 20000]
    base = corpus_stories()
    print(f"{len(base)} corpus stories, repeated with varied headlines"
          f"{' and summaries' if distinct else ''}{' in one feed' if one_feed else ''}; "
          f"best of {runs} runs")
    print(f"{'n':>7} {'wall s':>7} {'CPU s':>7} {'median':>7} {'peak MiB':>9} "
          f"{'CPU s / n log n (x1e6)':>23}")
    rows = []
    for n in sizes:
        stories = candidates(base, n, distinct_summaries=distinct, one_feed=one_feed)
        wall, cpu, median, peak, _ = measure(stories, runs)
        rows.append((n, cpu))
        per = cpu / (n * math.log2(n)) * 1e6
        print(f"{n:>7} {wall:>7.2f} {cpu:>7.2f} {median:>7.2f} {peak:>9.1f} {per:>23.3f}")
    for (n1, t1), (n2, t2) in zip(rows, rows[1:], strict=False):
        nlogn = (n2 * math.log2(n2)) / (n1 * math.log2(n1))
        print(f"{n1} -> {n2}: CPU time x{t2 / t1:.2f}; n log n would be x{nlogn:.2f}, "
              f"n^2 x{(n2 / n1) ** 2:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
