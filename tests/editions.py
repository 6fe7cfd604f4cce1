"""Fixed `Edition` values for render tests and bench/render.py, built directly from Story values
(no feed, no database), so a golden render changes only when the templates or render.py do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.ingest.parse import parse_feed
from digest.model import Cluster, Edition, Feed, FetchResult, Image, Section, Story

NOW = datetime(2023, 11, 24, 20, 0, tzinfo=UTC)

_SUMMARY = (
    "<p>Negotiators said the pause would hold for another day while lists of names were "
    "exchanged, and aid trucks queued at the crossing. <a href=\"https://example.com/live\">"
    "Follow the latest</a>.</p><p>Officials in three capitals said talks on an extension "
    "continued through the night, with <em>no agreement</em> yet on the terms.</p>"
)
_SUMMARY_TEXT = (
    "Negotiators said the pause would hold for another day while lists of names were "
    "exchanged, and aid trucks queued at the crossing. Follow the latest. Officials in three "
    "capitals said talks on an extension continued through the night, with no agreement yet "
    "on the terms."
)


def story(
    n: int,
    title: str,
    source: str = "The Daily Wire Service",
    section: str = "World",
    *,
    url: str | None = None,
    summary_html: str = _SUMMARY,
    summary_text: str = _SUMMARY_TEXT,
    image: Image | None = None,
    age_minutes: int = 60,
) -> Story:
    """One plausible story; `n` keeps ids and URLs distinct."""
    return Story(
        feed_url=f"https://{source.lower().replace(' ', '')}.example.com/feed.xml",
        source=source,
        section=section,
        id=f"story-{n}",
        url=url if url is not None else f"https://news.example.com/2023/11/24/story-{n}",
        title=title,
        summary_html=summary_html,
        summary_text=summary_text,
        published=NOW - timedelta(minutes=age_minutes),
        image=image,
    )


def edition(sections: list[tuple[str, list[Cluster]]], edition_id: str = "daily-2023-11-24",
            newsletter: str = "Morning Brief") -> Edition:
    return Edition(id=edition_id, newsletter=newsletter, created=NOW,
                   sections=tuple(Section(name, tuple(clusters)) for name, clusters in sections))


def sample_edition() -> Edition:
    """A small edition with every feature: lead image, thumbnails with and without known size,
    clusters covered by several sources, a story without summary, RTL text and emoji."""
    photo = Image("https://images.example.com/truce-1600x900.jpg", 1600, 900,
                  "Aid trucks at the Rafah crossing")
    square = Image("https://images.example.com/square.jpg", 800, 800)
    unsized = Image("https://images.example.com/unsized.jpg")
    return edition([
        ("World", [
            Cluster((story(1, "Truce holds for a second day as hostages are freed", image=photo,
                           age_minutes=95),
                     story(2, "Hostages released as Gaza pause takes effect", source="Radio Four",
                           age_minutes=120),
                     story(3, "Gaza: second exchange expected tonight", source="Harbor Times")),
                    score=3.0),
            Cluster((story(4, "Dutch coalition talks begin after Wilders' surprise win",
                           image=square, age_minutes=240),), score=2.0),
            Cluster((story(5, "Ireland's leader condemns Dublin riots: 'shame on us'",
                           summary_html="", summary_text="", age_minutes=20),), score=1.5),
        ]),
        ("Business", [
            Cluster((story(6, "Black Friday isn't what it used to be", section="Business",
                           source="Ledger & Co.", image=unsized, age_minutes=180),
                     story(7, "Shoppers head online as discounts start early",
                           source="Radio Four", section="Business")), score=1.8),
            Cluster((story(8, "Argentina's peso: can Milei really dollarize the economy?",
                           section="Business", age_minutes=3000),), score=0.9),
        ]),
        ("Around the world", [
            Cluster((story(9, "مهرجان الكتاب في القاهرة يفتح أبوابه 📚", source="الأخبار",
                           section="Around the world",
                           summary_html="<p>يفتح المعرض أبوابه للزوار يوم الجمعة.</p>",
                           summary_text="يفتح المعرض أبوابه للزوار يوم الجمعة."),), score=0.8),
            Cluster((story(10, "Tokyo's new 'city within a city' opens 🏙️", source="東京新聞",
                           section="Around the world", age_minutes=3),), score=0.7),
        ]),
    ])


def large_edition(count: int = 30, summary_repeat: int = 1) -> Edition:
    """`count` stories in five sections, each with a picture and a full summary; every third
    cluster is covered by two more sources. `summary_repeat` makes summaries longer."""
    sections: dict[str, list[Cluster]] = {}
    names = ["World", "Politics", "Business", "Technology", "Science"]
    for n in range(count):
        name = names[n % len(names)]
        lead = story(
            n * 10, f"Story {n}: a headline of typical length about events that matter today",
            section=name, image=Image(f"https://images.example.com/{n}.jpg", 1200, 800),
            summary_html=_SUMMARY * summary_repeat, summary_text=_SUMMARY_TEXT * summary_repeat,
            age_minutes=30 + n * 17,
        )
        others = (
            (story(n * 10 + 1, f"Other take on story {n}", source="Radio Four", section=name),
             story(n * 10 + 2, f"Third take on story {n}", source="Harbor Times", section=name))
            if n % 3 == 0 else ()
        )
        sections.setdefault(name, []).append(Cluster((lead, *others), score=100.0 - n))
    return edition(list(sections.items()))


# The corpus's same-day news set: real titles, summaries and pictures from one morning.
CORPUS_FEEDS = [("nytimes-topstories-rss2.xml", "The New York Times", "Top stories"),
                ("npr-news-rss2.xml", "NPR", "Top stories"),
                ("japantimes-latest-rss2.xml", "The Japan Times", "Asia")]


def corpus_edition(corpus: Path, count: int = 30) -> Edition:
    """The `count` newest stories of the corpus's 2023-11-24 feeds, parsed as `digest` would,
    one story a cluster, ranked by recency."""
    stories: list[Story] = []
    for name, title, section in CORPUS_FEEDS:
        feed = Feed(url=str(corpus / name), name=title, section=section)
        stories += parse_feed(FetchResult(feed, "ok", body=(corpus / name).read_bytes()), NOW)
    stories = sorted(stories, key=lambda s: s.published, reverse=True)[:count]
    sections: dict[str, list[Cluster]] = {}
    for rank, item in enumerate(stories):
        sections.setdefault(item.section, []).append(Cluster((item,), score=count - rank))
    return edition(list(sections.items()))
