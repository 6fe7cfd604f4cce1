"""`digest rank` end to end: real config, real SQLite file, sample and real-world feeds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import set_config

from digest import cli
from digest.config import load_config
from digest.errors import ConfigError

SAMPLE_NOW = "2023-11-22T20:00:00-05:00"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def _rank_json(capsys: pytest.CaptureFixture[str], config: Path, now: str) -> dict[str, Any]:
    assert _run(capsys, "fetch", "--config", str(config))[0] == 0
    code, out = _run(capsys, "rank", "--config", str(config), "--json", "--now", now)
    assert code == 0
    result: dict[str, Any] = json.loads(out)
    return result


def test_rank_json_is_the_edition_in_email_order(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _rank_json(capsys, project / "config.toml", SAMPLE_NOW)
    sections = result["sections"]
    assert sections[0]["name"] == "Top stories" and len(sections[0]["clusters"]) == 5
    order = ["Featured", "World", "Politics"]  # the config's order, less the empty ones
    assert [s["name"] for s in sections[1:]] == [n for n in order
                                                 if n in {s["name"] for s in sections}]
    weights = {"Political IQ": 1.5, "World Wire": 1.0, "Capitol Ledger": 1.0}
    for section in sections:
        scores = [c["score"] for c in section["clusters"]]
        assert scores == sorted(scores, reverse=True)
        for c in section["clusters"]:
            assert set(c) == {"score", "components", "why", "stories"}
            assert {"recency", "weight", "sources", "featured"} <= set(c["components"])
            lead, *also = c["stories"]
            assert all(weights[lead["source"]] >= weights[s["source"]] for s in also)
            assert set(lead) == {"title", "url", "source", "published"}
            assert lead["url"].startswith("https://") and "T" in lead["published"]
    # The same truce, told by two feeds, is one cluster with the featured publisher leading.
    truce = sections[0]["clusters"][0]["stories"]
    assert [s["source"] for s in truce] == ["Political IQ", "World Wire"]


def test_rank_table_and_explain(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(project / "config.toml")
    assert _run(capsys, "fetch", "--config", config)[0] == 0
    code, out = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["SECTION", "SCORE", "TITLE", "SOURCE", "AGE", "SOURCES"]
    assert rows[0].startswith("Top stories") and "recency" not in out
    code, out = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW, "--explain")
    assert "recency" in out and "x weight 1.5" in out and "also: World Wire:" in out


def test_rank_says_when_the_edition_is_too_small_to_send(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "config.toml"
    set_config(config, {"min_stories = 3": "min_stories = 50"})
    _run(capsys, "fetch", "--config", str(config))
    code, out = _run(capsys, "rank", "--config", str(config), "--now", SAMPLE_NOW)
    assert code == 0 and "fewer than ranking.min_stories = 50" in out


def test_rank_on_a_real_news_day(
    project: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "config.toml"
    text = config.read_text().split("[[feeds]]")[0]
    feeds = [("nytimes-topstories-rss2.xml", "NYT", 1.2), ("npr-news-rss2.xml", "NPR", 1.0),
             ("japantimes-latest-rss2.xml", "Japan Times", 1.0)]
    for name, title, weight in feeds:
        text += (f'[[feeds]]\nurl = "{corpus / name}"\nname = "{title}"\nsection = "World"\n'
                 f"weight = {weight}\n\n")
    text += '[[sections]]\nname = "Sport"\ncategories = ["SUMO", "TENNIS", "BASEBALL"]\n'
    config.write_text(text)
    result = _rank_json(capsys, config, "2023-11-24T18:00:00+00:00")
    clusters = [c for s in result["sections"] for c in s["clusters"]]
    pistorius = [c for c in clusters if "Pistorius" in c["stories"][0]["title"]]
    assert len(pistorius) == 1
    assert [s["source"] for s in pistorius[0]["stories"]][0] == "NYT"  # the heaviest source
    assert {s["source"] for s in pistorius[0]["stories"]} == {"NYT", "NPR", "Japan Times"}
    assert pistorius[0]["components"]["sources"] == 3
    assert pistorius[0] in result["sections"][0]["clusters"]  # three sources make it top
    names = [s["name"] for s in result["sections"]]
    assert names == ["Top stories", "Sport", "World"]  # [[sections]] before feed sections
    leads = [c["stories"][0]["source"] for c in clusters]
    assert len(clusters) <= 20 and max(leads.count(n) for n in set(leads)) <= 5
    assert all(len(s["clusters"]) <= 6 for s in result["sections"])
    sport = next(s for s in result["sections"] if s["name"] == "Sport")
    assert all(c["stories"][0]["source"] == "Japan Times" for c in sport["clusters"])
    # NPR and Japan Times list their items newest first: their order is no prominence.
    # NYT's top stories are in its editors' order.
    only = {c["stories"][0]["source"]: c["components"] for c in clusters
            if len(c["stories"]) == 1}
    assert only["NPR"]["prominence"] == only["Japan Times"]["prominence"] == 1.0
    assert only["NPR"]["position"] == -1 and only["NYT"]["position"] >= 0
    code, out = _run(capsys, "rank", "--config", str(config), "--now",
                     "2023-11-24T18:00:00+00:00", "--explain")
    assert code == 0 and "(its feeds list by time)" in out and re.search(r"\(place \d+\)", out)


def test_sections_and_new_ranking_keys_are_validated(project: Path) -> None:
    config = project / "config.toml"
    original = config.read_text()
    config.write_text(original + '\n[[sections]]\nname = "Sport"\ncategoriez = ["x"]\n')
    with pytest.raises(ConfigError, match=r"sections\[0\]\.categoriez: unknown key"):
        load_config(config)
    config.write_text(original + '\n[[sections]]\nname = "  "\n')
    with pytest.raises(ConfigError, match=r"sections\[0\]\.name: must not be empty"):
        load_config(config)
    config.write_text(original.replace("half_life_hours = 12",
                                       "half_life_hours = 12\nsimilarity_threshold = 0"))
    with pytest.raises(ConfigError, match=r":\d+: ranking\.similarity_threshold: must be"):
        load_config(config)
    config.write_text(original + '\n[[sections]]\nname = "Sport"\ncategories = ["SUMO"]\n')
    assert load_config(config).sections[0].categories == ["SUMO"]


def test_pin_and_drop_are_recorded_for_the_coming_edition(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(project / "config.toml")
    before = _rank_json(capsys, project / "config.toml", SAMPLE_NOW)
    clusters = [c for s in before["sections"] for c in s["clusters"]]
    last, first = clusters[-1]["stories"][0], clusters[0]["stories"][0]
    code, _ = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW,
                   "--pin", last["url"], "--drop", first["url"])
    assert code == 0
    # Recorded in the state database: a later run of the same edition, without the options,
    # still leads with the pinned story and leaves the dropped one out.
    code, out = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW, "--json")
    after = [c["stories"][0]["url"] for s in json.loads(out)["sections"] for c in s["clusters"]]
    assert after[0] == last["url"] and first["url"] not in after
    code, out = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW, "--explain")
    assert "pinned by the editor (#1)" in out and "cut: dropped by the editor" in out
    # The next day's edition is another edition: the picks do not carry over.
    code, out = _run(capsys, "rank", "--config", config, "--now",
                     "2023-11-23T20:00:00-05:00", "--explain")
    assert "pinned by the editor" not in out
    code, out = _run(capsys, "rank", "--config", config, "--now", SAMPLE_NOW, "--clear",
                     "--json")
    assert [c["stories"][0]["url"] for s in json.loads(out)["sections"]
            for c in s["clusters"]][0] == first["url"]
