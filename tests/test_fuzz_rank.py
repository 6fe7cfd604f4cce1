"""Fuzz: ranking takes any batch of stories feeds can give (any Unicode, empty and shared
summaries, kickers, repeated links, ids shared across feeds, one feed or several) and always
returns an edition: every story in exactly one cluster, no story twice in the edition, the same
edition for the same batch fetched in another order, and never an exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.config import RankingConfig
from digest.model import Story
from digest.rank.cluster import cluster_indices
from digest.rank.score import rank

NOW = datetime(2026, 4, 25, 19, 0, tzinfo=UTC)
# Words of the kinds feeds write: names, numbers, stop words, German compounds, accents, RTL
# and CJK text, emoji, punctuation alone, and the kickers and phrases ranking reads.
WORDS = ["Hamas", "truce", "hostages", "Gaza", "Ukraine", "Dnipro", "Kommunalwahlen",
         "Wahlen", "Palästinensergebiete", "the", "and", "der", "die", "2023", "7", "1-1",
         "Live:", "Update:", "Top 10:", "Watch:", "in pictures", "quiz", "heise+ |",
         "Müller", "ÉLYSÉE", "İstanbul", "straße", "غزة", "東京", "🚀", "—", "…", "?", "!!",
         "'", "’s", "", " ", "\u200b", "a" * 60, "Comments"]
SUMMARIES = ["", "Comments", "Click here to read the full story.",
             "Subscribe to our newsletter for the best of local journalism every morning."]


def _text(draw: st.DrawFn, most: int) -> str:
    return " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=most)))


@st.composite
def batches(draw: st.DrawFn) -> list[Story]:
    n = draw(st.integers(0, 30))
    stories = []
    for k in range(n):
        feed = draw(st.integers(0, 3))
        kind = draw(st.integers(0, 9))  # mostly feed-like words, now and then any text
        title = draw(st.text(max_size=60)) if kind == 0 else _text(draw, 12)
        summary = (draw(st.text(max_size=80)) if kind == 1 else
                   draw(st.sampled_from(SUMMARIES)) if kind < 5 else _text(draw, 30))
        # Links repeat, within a feed and across; an id is one item of its feed (the store
        # keeps one row per feed and id), but the same id comes in other feeds.
        link = draw(st.integers(0, n + 2))
        taken = {s.id for s in stories if s.feed_url == f"https://feed{feed}.example/rss"}
        item = draw(st.sampled_from([f"id-{k}", f"https://news.example/{link}", "urn:x:1"]))
        stories.append(Story(
            feed_url=f"https://feed{feed}.example/rss", source=f"Feed {feed}", section="News",
            id=item if item not in taken else f"id-{k}", url=f"https://news.example/{link}",
            title=title, summary_html="", summary_text=summary,
            published=NOW - timedelta(minutes=draw(st.integers(0, 36 * 60))),
            position=k, weight=draw(st.sampled_from([0.5, 1.0, 2.0])),
            featured=draw(st.booleans()), categories=tuple(draw(st.lists(
                st.sampled_from(["Video", "World", "Opinion", "Sport", ""]), max_size=2))),
        ))
    return stories


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches())
def test_any_batch_ranks_into_an_edition(stories: list[Story]) -> None:
    groups = cluster_indices(stories, RankingConfig().similarity_threshold)
    assert sorted(i for g in groups for i in g) == list(range(len(stories)))
    edition = rank(stories, RankingConfig(), NOW, "e", "E")
    shown = [(s.feed_url, s.id) for c in edition.clusters for s in c.stories]
    assert len(shown) == len(set(shown))
    assert set(shown) <= {(s.feed_url, s.id) for s in stories}
    again = rank(stories[::-1], RankingConfig(), NOW, "e", "E")  # fetched in another order
    assert [[s.url for s in c.stories] for c in again.clusters] == [
        [s.url for s in c.stories] for c in edition.clusters]
