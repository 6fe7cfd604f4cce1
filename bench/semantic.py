"""Benchmark: what `[ranking] semantic = true` costs. Ranks bench/rank.py's candidates (the
real-feed corpus, in a dozen languages, repeated with varied headlines over 200 feeds) with
the semantic extra off and on, and the same for English stories only (where one language
guess per feed is all it does). Needs the extra: `pip install -e '.[semantic]'`. Run from the
repository root:

    .venv/bin/python bench/semantic.py             # 500, 1000 and 2000 candidates
    .venv/bin/python bench/semantic.py 5000
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rank import NOW, candidates, corpus_stories  # noqa: E402

from digest.config import RankingConfig  # noqa: E402
from digest.model import Story  # noqa: E402
from digest.rank.score import rank  # noqa: E402
from digest.rank.semantic import Semantics, load_semantics, story_text  # noqa: E402


def cpu(stories: list[Story], semantics: Semantics | None) -> tuple[float, int]:
    """CPU seconds of one ranking (best of two), and the clusters of the edition's window."""
    settings = RankingConfig(semantic=semantics is not None)
    best, clusters = float("inf"), 0
    for _ in range(2):
        start = time.process_time()
        edition = rank(stories, settings, NOW, "bench", "Bench", semantics=semantics)
        best = min(best, time.process_time() - start)
        clusters = len(edition.clusters)
    return best, clusters


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [500, 1000, 2000]
    semantics = load_semantics()
    semantics.encode(["warm up"])  # the weights load on first use: not part of a ranking
    base = corpus_stories()
    english = [s for s in base if semantics.language(story_text(s)) == "en"]
    print(f"{len(base)} corpus stories ({len(english)} in English), varied over 200 feeds; "
          "CPU seconds, best of 2")
    print(f"{'n':>6} {'languages':>10} {'words only':>11} {'semantic':>9} {'extra ms/story':>15}")
    for n in sizes:
        for name, pool in (("many", base), ("English", english)):
            stories = candidates(pool, n)
            off, _ = cpu(stories, None)
            on, _ = cpu(stories, semantics)
            print(f"{n:>6} {name:>10} {off:>11.2f} {on:>9.2f} {(on - off) / n * 1000:>15.2f}",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
