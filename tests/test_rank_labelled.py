"""Clustering measured on the labelled days of real feeds (tests/data/labelled_days.json): the
real days (one of them 21 publishers' feeds of one day), and the days with big stories (50 to
200 articles each) built from them.

The floors are the target, 0.9, at the default threshold; docs/ranking.md gives the
figures (bench/rank_quality.py prints them).
"""

from __future__ import annotations

from pathlib import Path

from labelled import b_cubed, load_days, score

from digest.config import RankingConfig
from digest.rank.cluster import cluster_indices

THRESHOLD = RankingConfig().similarity_threshold


def test_pairwise_precision_and_recall_on_the_labelled_days(corpus: Path) -> None:
    days = load_days(corpus)
    result = score(days, [cluster_indices(d.stories, THRESHOLD) for d in days])
    assert result.true_positive + result.false_negative >= 10  # the labels were found
    assert result.precision >= 0.9, result.wrong
    assert result.recall >= 0.9, result.missed


def test_near_miss_pairs_stay_apart(corpus: Path) -> None:
    days = load_days(corpus)
    assert sum(len(d.apart) for d in days) >= 20
    result = score(days, [cluster_indices(d.stories, THRESHOLD) for d in days])
    assert result.merged_apart == []


def test_a_lower_threshold_trades_precision_for_recall(corpus: Path) -> None:
    days = load_days(corpus)
    strict = score(days, [cluster_indices(d.stories, 0.5) for d in days])
    loose = score(days, [cluster_indices(d.stories, 0.1) for d in days])
    assert strict.recall < loose.recall and strict.precision >= loose.precision


def test_a_real_day_of_twenty_publishers_is_labelled(corpus: Path) -> None:
    days = load_days(corpus)
    assert any(d.feeds >= 20 and not d.synthetic for d in days)


def test_b_cubed_f1_on_every_labelled_day_big_stories_included(corpus: Path) -> None:
    days = load_days(corpus)
    assert any(d.synthetic and len(d.stories) > 400 and d.feeds >= 20 for d in days)  # big stories
    for day in days:
        groups = cluster_indices(day.stories, THRESHOLD)
        precision, recall, f1 = b_cubed(day, groups)
        assert f1 >= 0.9, (day.name, precision, recall)
        assert score([day], [groups]).merged_apart == []
