"""Benchmark: how well ranking reads the labelled real news days (tests/data/labelled_days.json).

For every labelled day it prints the B-cubed precision, recall and F1 of the clusters, the
keep-apart pairs that were merged (the target is none), the cross-language pairs found (a
bonus), and how many of the day's labelled lead stories are among the edition's top 5 (the
target is at least 4). Each day is ranked with the [ranking] settings its newsletter runs with
(the defaults, and a day's own `ranking` in the labels: the days in English and German turn
the semantic extra on); such a day is also shown with words alone, beneath, not judged. Needs
the real-feed corpus (../shared/corpus/feeds). Run from the repository root:

    .venv/bin/python bench/rank_quality.py               # each day's settings
    .venv/bin/python bench/rank_quality.py --threshold 0.3
    .venv/bin/python bench/rank_quality.py --verbose     # also the wrong and missed merges
    .venv/bin/python bench/rank_quality.py --words-only  # [ranking] semantic = false everywhere
    .venv/bin/python bench/rank_quality.py --semantic    # [ranking] semantic = true everywhere
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from labelled import Day, b_cubed, load_days, score  # noqa: E402

from digest.config import RankingConfig  # noqa: E402
from digest.errors import ConfigError  # noqa: E402
from digest.rank.cluster import cluster_indices  # noqa: E402
from digest.rank.score import rank  # noqa: E402
from digest.rank.semantic import Semantics, load_semantics  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "feeds"
TOP = 5


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    meaning = parser.add_mutually_exclusive_group()
    meaning.add_argument("--semantic", action="store_true",
                         help="join reports in different languages by meaning on every day")
    meaning.add_argument("--words-only", action="store_true",
                         help="words alone on every day, whatever its settings")
    args = parser.parse_args(argv)
    days = load_days(args.corpus)
    settings = {}
    for day in days:
        chosen = day.settings()
        if args.semantic or args.words_only:
            chosen = dataclasses.replace(chosen, semantic=args.semantic)
        if args.threshold is not None:
            chosen = dataclasses.replace(chosen, similarity_threshold=args.threshold)
        settings[day.name] = chosen
    semantics = None
    if any(s.semantic for s in settings.values()):
        try:
            semantics = load_semantics()
        except ConfigError as e:
            print(f"{e}: the days that ask for it are measured with words alone")
    print(f"threshold {next(iter(settings.values())).similarity_threshold}; top {TOP} of each "
          f"edition; 'meaning': the semantic extra on (threshold "
          f"{RankingConfig().semantic_threshold})")
    print(f"{'day':46} {'joined by':9} {'stories':>7} {'feeds':>5} {'P':>5} {'R':>5} {'F1':>5} "
          f"{'apart':>5} {'x-lang':>11} {'leads':>5} {'s':>5}")
    misses: list[str] = []
    for day in days:
        chosen = settings[day.name]
        meant = semantics if chosen.semantic else None
        missed = _measure(day, chosen, meant, args.verbose, day.name)
        if chosen.semantic and meant is None:
            missed.append("needs the semantic extra")
        if missed:
            misses.append(f"{day.name} ({', '.join(missed)})")
        if meant is not None:
            _measure(day, dataclasses.replace(chosen, semantic=False), None, False,
                     "  the same day, not judged")
    print("targets NOT met: " + "; ".join(misses) if misses else "targets met")
    return 1 if misses else 0


def _measure(day: Day, settings: RankingConfig, semantics: Semantics | None, verbose: bool,
             label: str) -> list[str]:
    """Print one day's row (and with `verbose`, its wrong merges and top stories); return the
    targets it misses."""
    start = time.perf_counter()
    groups = cluster_indices(day.stories, settings.similarity_threshold, semantics,
                             settings.semantic_threshold)
    seconds = time.perf_counter() - start
    p, r, f1 = b_cubed(day, groups)
    pairs = score([day], [groups])
    edition = rank(day.stories, settings, day.now, "bench", "Bench", semantics=semantics)
    index = {(s.feed_url, s.id): i for i, s in enumerate(day.stories)}
    top_indices = {index[(s.feed_url, s.id)] for c in edition.clusters[:TOP]
                   for s in c.stories if (s.feed_url, s.id) in index}
    found = sum(1 for lead in day.leads if lead & top_indices)
    bonus = f"{pairs.bonus_found}/{pairs.bonus_total}" if pairs.bonus_total else "-"
    joined = "meaning" if semantics is not None else "words"
    print(f"{label:46} {joined:9} {len(day.stories):>7} {day.feeds:>5} {p:>5.3f} {r:>5.3f} "
          f"{f1:>5.3f} {len(pairs.merged_apart):>5} {bonus:>11} "
          f"{found:>2}/{len(day.leads):<2} {seconds:>5.2f}")
    if verbose:
        for a, b in pairs.merged_apart:
            print(f"    apart but merged: {a!r} / {b!r}")
        for a, b in sorted(set(pairs.wrong))[:15]:
            print(f"    wrong: {a!r} / {b!r}")
        for a, b in sorted(set(pairs.missed))[:15]:
            print(f"    missed: {a!r} / {b!r}")
        for k, c in enumerate(edition.clusters[:TOP]):
            print(f"    top {k + 1}: {c.score:.3f} ({len(c.stories)} stories) {c.lead.title}")
    return [what for what, met in (
        (f"F1 {f1:.3f}", f1 >= 0.9),
        (f"{len(pairs.merged_apart)} apart merged", not pairs.merged_apart),
        (f"leads {found}/{len(day.leads)}", found >= min(4, len(day.leads)))) if not met]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
