"""The labelled days (tests/data/labelled_days.json) and pairwise scoring of a clustering."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story

LABELS = Path(__file__).resolve().parent / "data" / "labelled_days.json"


@dataclass
class Day:
    now: datetime
    stories: list[Story]
    same: set[tuple[int, int]]  # pairs that must merge
    related: set[tuple[int, int]]  # pairs that may merge (other development of one story)
    bonus: set[tuple[int, int]]  # cross-language pairs of one event
    apart: list[tuple[int, int]]


@dataclass
class Score:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    bonus_found: int = 0
    bonus_total: int = 0
    merged_apart: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positive / max(self.true_positive + self.false_positive, 1)

    @property
    def recall(self) -> float:
        return self.true_positive / max(self.true_positive + self.false_negative, 1)


def load_days(corpus: Path, lookback_hours: float = 36) -> list[Day]:
    days = []
    for raw in json.loads(LABELS.read_text())["days"]:
        now = datetime.fromisoformat(raw["now"])
        stories: list[Story] = []
        for name in raw["feeds"]:
            path = corpus / name
            feed = Feed(url=str(path), name=name.rsplit("-", 1)[0], section="News")
            result = FetchResult(feed=feed, status="ok", body=path.read_bytes())
            stories += [s for s in parse_feed(result, now)
                        if now - timedelta(hours=lookback_hours) <= s.published <= now]
        where: dict[str, list[int]] = {}
        for i, s in enumerate(stories):
            where.setdefault(s.url, []).append(i)
        day = Day(now, stories, set(), set(), set(), [])
        for story in raw["stories"]:
            groups = [[i for url in dev for i in where[url]] for dev in story["developments"]]
            target = day.bonus if story.get("cross_language") else day.same
            for group in groups:
                target.update(itertools.combinations(sorted(group), 2))
            for a, b in itertools.combinations(groups, 2):
                day.related.update((min(i, j), max(i, j)) for i in a for j in b)
        for a, b in raw["apart"]:
            day.apart.append((where[a][0], where[b][0]))
        days.append(day)
    return days


def score(days: list[Day], clusterings: list[list[list[int]]]) -> Score:
    """Pairwise precision and recall over every pair of stories of every day."""
    result = Score()
    for day, groups in zip(days, clusterings, strict=True):
        of = {i: k for k, g in enumerate(groups) for i in g}
        titles = [s.title for s in day.stories]
        for i, j in itertools.combinations(range(len(day.stories)), 2):
            merged = of[i] == of[j]
            if (i, j) in day.bonus:
                result.bonus_total += 1
                result.bonus_found += merged
            elif (i, j) in day.same:
                result.true_positive += merged
                result.false_negative += not merged
                if not merged:
                    result.missed.append((titles[i], titles[j]))
            elif (i, j) in day.related:
                continue
            elif merged:
                result.false_positive += 1
                result.wrong.append((titles[i], titles[j]))
        result.merged_apart += [(titles[a], titles[b]) for a, b in day.apart if of[a] == of[b]]
    return result
