"""The labelled days (tests/data/labelled_days.json): loading them, and scoring a clustering
(pairwise, and B-cubed per day) and an edition's top stories against the labels."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from digest.config import RankingConfig
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story

DATA = Path(__file__).resolve().parent / "data"
LABELS = DATA / "labelled_days.json"


@dataclass
class Day:
    now: datetime
    stories: list[Story]
    same: set[tuple[int, int]]  # pairs that must merge
    related: set[tuple[int, int]]  # pairs that may merge (other development of one story)
    bonus: set[tuple[int, int]]  # cross-language pairs of one event
    apart: list[tuple[int, int]]
    name: str = ""
    # Per story: its labelled story (-1: alone) and the group it must be merged with (its
    # development, one language of it for a cross-language story; its own index when alone).
    story_of: list[int] = field(default_factory=list)
    group_of: list[int] = field(default_factory=list)
    leads: list[set[int]] = field(default_factory=list)  # the day's lead stories, as indices
    feeds: int = 0
    synthetic: bool = False  # big stories made up from real wordings were added
    # The [ranking] settings the day's newsletter runs with, over the defaults.
    ranking: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> RankingConfig:
        """The day's [ranking] settings: the defaults with the day's own."""
        return dataclasses.replace(RankingConfig(), **self.ranking)


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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60]


def _synthetic(raw: dict[str, Any], now: datetime) -> list[tuple[Story, int, int]]:
    """The big stories' articles: (story, index of the big story, index of its development).

    Each article goes to an outlet of its own (a big story's articles are spread over the
    outlets, several per outlet when there are more articles than outlets), with one of the
    wordings real outlets used, at a random moment of the development's hours."""
    rng = random.Random(raw["seed"])
    outlets = [f"outlet{k:02d}" for k in range(raw["outlets"])]
    out = []
    for b, big in enumerate(raw["stories"]):
        for d, dev in enumerate(big["developments"]):
            low, high = dev["hours"]
            for k in range(dev["articles"]):
                outlet = outlets[(k + 7 * b + 3 * d) % len(outlets)]
                title = rng.choice(dev["headlines"])
                summary = " ".join(rng.sample(dev["summaries"], min(2, len(dev["summaries"]))))
                feed = f"https://{outlet}.example/feed"
                url = f"https://{outlet}.example/{_slug(title)}-{b}-{d}-{k}"
                out.append((Story(
                    feed_url=feed, source=outlet, section="News", id=url, url=url,
                    title=title, summary_html="", summary_text=summary,
                    published=now - timedelta(hours=rng.uniform(low, high)),
                    position=rng.randrange(12),
                ), b, d))
    return out


def _link_archive_as_json_feed(body: bytes, title: str) -> bytes:
    """A day file of a link archive (a JSON list of the links one feed gave that day: title,
    description, link, date_published), as the JSON Feed those links came from, so that it
    goes through the same parsing as every other feed."""
    items = [{"id": e["link"], "url": e["link"], "title": e.get("title") or "",
              "content_html": e.get("description") or "",
              "date_published": e.get("date_published"), "image": e.get("thumbnail") or None}
             for e in json.loads(body)]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title,
                       "items": [{k: v for k, v in item.items() if v is not None}
                                 for item in items]}).encode()


def _feed_result(corpus: Path, name: str) -> FetchResult:
    """A labelled day's feed: a corpus file name, or a path under tests/data ("days/...")."""
    if "/" in name:
        path = DATA / name
        feed = Feed(url=str(path), name=path.stem, section="News")
        body = path.read_bytes()
        if path.suffix == ".json" and body.lstrip().startswith(b"["):
            body = _link_archive_as_json_feed(body, path.stem)
        return FetchResult(feed=feed, status="ok", body=body)
    path = corpus / name
    feed = Feed(url=str(path), name=name.rsplit("-", 1)[0], section="News")
    return FetchResult(feed=feed, status="ok", body=path.read_bytes())


def load_days(corpus: Path, lookback_hours: float = 36) -> list[Day]:
    days = []
    for raw in json.loads(LABELS.read_text())["days"]:
        now = datetime.fromisoformat(raw["now"])
        stories: list[Story] = []
        for name in raw["feeds"]:
            result = _feed_result(corpus, name)
            stories += [s for s in parse_feed(result, now)
                        if now - timedelta(hours=lookback_hours) <= s.published <= now]
        where: dict[str, list[int]] = {}
        for i, s in enumerate(stories):
            where.setdefault(s.url, []).append(i)
        day = Day(now, stories, set(), set(), set(), [], name=raw.get("name", raw["now"][:10]))
        groups_of_story: list[list[list[int]]] = []
        cross: list[bool] = []
        for story in raw["stories"]:
            groups_of_story.append(
                [[i for url in dev for i in where[url]] for dev in story["developments"]])
            cross.append(bool(story.get("cross_language")))
        if "synthetic" in raw:
            made = _synthetic(raw["synthetic"], now)
            first = len(stories)
            stories += [s for s, _, _ in made]
            for b, big in enumerate(raw["synthetic"]["stories"]):
                # A big story that includes real items joins the labelled story they are in.
                joined = next((k for k, groups in enumerate(groups_of_story)
                               for dev in big["developments"] for url in dev.get("with", [])
                               for g in groups if where[url][0] in g), None)
                devs = []
                for d, dev in enumerate(big["developments"]):
                    real = {i for url in dev.get("with", []) for i in where[url]}
                    devs.append(sorted(real) + [first + k for k, (_, mb, md) in enumerate(made)
                                                 if mb == b and md == d])
                if joined is None:
                    groups_of_story.append(devs)
                    cross.append(bool(big.get("cross_language")))
                else:
                    taken = {i for dev in devs for i in dev}
                    kept = [[i for i in g if i not in taken] for g in groups_of_story[joined]]
                    groups_of_story[joined] = [g for g in kept if g] + devs
                    cross[joined] = cross[joined] or bool(big.get("cross_language"))
        day.story_of = [-1] * len(stories)
        day.group_of = list(range(len(stories)))
        numbers: dict[tuple[int, int, str], int] = {}  # a group's number, after the stories'
        for k, (groups, is_cross) in enumerate(zip(groups_of_story, cross, strict=True)):
            for group in groups:
                for i in group:
                    day.story_of[i] = k
                    # One language of a cross-language story must merge: its feed's items.
                    feed = stories[i].feed_url if is_cross and len(
                        {stories[j].feed_url for j in group}) > 1 else ""
                    day.group_of[i] = numbers.setdefault((k, group[0], feed),
                                                         len(stories) + len(numbers))
                pairs = itertools.combinations(sorted(group), 2)
                for a, b in pairs:
                    if is_cross and day.group_of[a] != day.group_of[b]:
                        day.bonus.add((a, b))
                    else:
                        day.same.add((a, b))
            for a, b in itertools.combinations(groups, 2):
                target = day.bonus if is_cross else day.related
                target.update((min(i, j), max(i, j)) for i in a for j in b)
        day.related -= day.bonus
        for a, b in raw["apart"]:
            day.apart.append((where[a][0], where[b][0]))
        day.leads = [{i for url in lead for i in where[url]} for lead in raw.get("leads", [])]
        day.feeds = len({s.feed_url for s in stories})
        day.synthetic = "synthetic" in raw
        day.ranking = raw.get("ranking", {})
        days.append(day)
    return days


def score(days: list[Day], clusterings: list[list[list[int]]]) -> Score:
    """Pairwise precision and recall over every pair of stories of every day."""
    result = Score()
    for day, groups in zip(days, clusterings, strict=True):
        of = {i: k for k, g in enumerate(groups) for i in g}
        titles = [s.title for s in day.stories]
        for g in groups:
            for i, j in itertools.combinations(sorted(g), 2):
                if (i, j) in day.bonus:
                    result.bonus_found += 1
                elif (i, j) in day.same:
                    result.true_positive += 1
                elif (i, j) not in day.related:
                    result.false_positive += 1
                    result.wrong.append((titles[i], titles[j]))
        result.bonus_total += len(day.bonus)
        for i, j in day.same:
            if of[i] != of[j]:
                result.false_negative += 1
                result.missed.append((titles[i], titles[j]))
        result.merged_apart += [(titles[a], titles[b]) for a, b in day.apart if of[a] == of[b]]
    return result


def b_cubed(day: Day, groups: list[list[int]]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of one day's clustering.

    Per story: precision is the share of its cluster that is the same labelled story (any
    development, either language); recall the share of its labelled group (its development,
    in its language) that is in its cluster. Averaged over the day's stories."""
    of = {i: k for k, g in enumerate(groups) for i in g}
    members: dict[int, set[int]] = {}
    for i, g in enumerate(day.group_of):
        members.setdefault(g, set()).add(i)
    precision = recall = 0.0
    for g in groups:
        for i in g:
            label = day.story_of[i]
            good = sum(1 for j in g if j == i or label >= 0 and day.story_of[j] == label)
            precision += good / len(g)
            wanted = members[day.group_of[i]]
            recall += sum(1 for j in wanted if of[j] == of[i]) / len(wanted)
    n = max(len(day.stories), 1)
    p, r = precision / n, recall / n
    return p, r, 2 * p * r / (p + r) if p + r else 0.0
