"""Every real-world feed in ../shared/corpus/feeds parses, with the item count its MANIFEST.md
gives, into clean stories; a handful match golden stories in tests/data/golden/.

Counting: MANIFEST's counts are feedparser's entries (json.load's items for JSON), so they are
compared with `read_items` (the raw items, before cleaning). `parse_feed` then leaves out items
with no usable link or no text at all; each left-out item is checked to be one of those.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CORPUS

from digest.ingest.parse import make_story, parse_feed, read_items
from digest.ingest.sanitize import canonical_url, html_to_text
from digest.model import Feed, FetchResult, Story

NOW = datetime(2030, 1, 1, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "data" / "golden"
ROW = re.compile(r"^\| `([^`]+)` \| [^|]+ \| (\d+) \|", re.M)


def manifest_counts() -> dict[str, int]:
    manifest = CORPUS.parent / "MANIFEST.md"
    if not manifest.is_file():
        return {}
    return {name: int(count) for name, count in ROW.findall(manifest.read_text())}


COUNTS = manifest_counts()


def fetched(corpus: Path, name: str) -> FetchResult:
    """A corpus file as if fetched from an https URL (the base for its relative links)."""
    feed = Feed(url=f"https://feeds.example.org/{name}", name=name, section="Test")
    return FetchResult(feed=feed, status="ok", body=(corpus / name).read_bytes(),
                       final_url=feed.url)


def test_the_manifest_lists_every_file(corpus: Path) -> None:
    assert len(COUNTS) == 80
    assert set(COUNTS) == {p.name for p in corpus.iterdir()}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_corpus_feed_parses_with_its_manifest_count(corpus: Path, name: str) -> None:
    result = fetched(corpus, name)
    raw = read_items(result)
    assert len(raw.items) == COUNTS[name]

    stories = parse_feed(result, NOW)
    made = {i: make_story(result, item, raw.base, NOW) for i, item in enumerate(raw.items)}
    left_out = [raw.items[i] for i, story in made.items() if story is None]
    # An item given twice (same id, link and title) is stored once.
    twins = sum(1 for s in made.values() if s) - len(stories)
    assert len(stories) + len(left_out) + twins == COUNTS[name]
    assert twins == (1 if name == "suspilne-ukrnet-rss2.xml" else 0)
    for item in left_out:  # only items no reader could use
        no_link = not canonical_url(item.link, raw.base)
        no_text = not html_to_text(item.title) and not html_to_text(item.summary or item.content)
        assert no_link or no_text, item
    for story in stories:
        assert_clean(story)
    assert len({s.id for s in stories}) == len(stories), "ids are unique within a feed"


def assert_clean(story: Story) -> None:
    assert story.url.startswith(("http://", "https://")) and "#" not in story.url
    assert not re.search(r"[?&](utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid)=", story.url)
    for text in (story.title, story.summary_text, story.author, *story.categories):
        assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", text), text
    assert story.title and len(story.title) <= 300
    assert len(story.summary_text) <= 1200
    html = story.summary_html.lower()
    for banned in ("<script", "<style", "<iframe", "<form", "<svg", "<img", "<link"):
        assert banned not in html, (banned, story.summary_html[:200])
    assert not re.search(r"<[^>]+\son\w+\s*=", html)
    assert not re.search(r"""<[^>]+=\s*["']?\s*(javascript|data|vbscript):""", html)
    assert story.published.tzinfo is not None and story.published <= NOW
    if story.image:
        assert story.image.url.startswith(("http://", "https://"))


# What the non-UTF-8 files must read as: a word from their text, in their script.
ENCODINGS = {
    "golem-de-iso-8859-1-rss2.xml": "für",
    "jn-pt-iso-8859-1-rss2.xml": "Mãe",
    "lecerclepsy-undeclared-iso-8859-1-rss2.xml": "études",
    "uol-noticias-undeclared-latin1-rss.xml": "ção",
    "ibash-windows-1251-rss2.xml": "Цитата",
    "oren-ru-windows-1251-rss2.xml": "Бузулуке",
    "kc0011-gb2312-rss2.xml": "周年纪念",
    "davidbau-rss1.rdf": "dichotomy",
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_text_is_recovered_in_its_real_encoding(corpus: Path, name: str) -> None:
    stories = parse_feed(fetched(corpus, name), NOW)
    text = " ".join(f"{s.title} {s.summary_text}" for s in stories)
    assert ENCODINGS[name] in text
    for mojibake in ("ï¿½", "Ã©", "Ã¨", "Ã£", "Ð¦", "Ã¼"):
        assert mojibake not in text, mojibake


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_stories(corpus: Path, golden: Path) -> None:
    expected = json.loads(golden.read_text())
    stories = parse_feed(fetched(corpus, expected["file"]), NOW)
    assert len(stories) == expected["stories"]
    got = [
        {"id": s.id, "url": s.url, "title": s.title, "published": s.published.isoformat(),
         "dated": s.dated, "image": s.image.url if s.image else None, "author": s.author,
         "summary_start": s.summary_text[:80]}
        for s in stories[: len(expected["first"])]
    ]
    assert got == expected["first"]
