"""Rank as an editor would: importance signals, soft news, sections by story, global
selection, boost and mute words, pins and drops, publishers. Hand-built stories, asserted on
the Edition."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import REPO
from test_rank import FILLER, NOW, SETTINGS, build, story

from digest.config import SectionRule
from digest.model import Edition, Story
from digest.rank.score import by_editor, rank
from digest.render.edition import render_templates


def leads(edition: Edition) -> list[str]:
    return [c.lead.title for c in edition.clusters]


def feed_of(title: str, feed: str, place: int, hours: float, **kw: object) -> Story:
    made = story(title, feed=feed, hours=hours, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(made, position=place)


def test_a_video_never_leads_a_hard_story_of_the_day() -> None:
    # The BBC's feed on 2026-04-25: the orangutan video was newer and higher in the feed
    # than the Russian attack on Ukraine, and led the edition.
    video = dataclasses.replace(
        feed_of("Watch: How one orangutan braved new bridge to unite his split community",
                "bbc", 3, 1), url="https://bbc.example/news/videos/ckgerdnvm2xo")
    attack = feed_of("Seven dead in major Russian attack on Ukraine", "bbc", 12, 7)
    others = [feed_of(f"Council approves budget for district {k}", "bbc", 13 + k, 8)
              for k in range(3)]
    edition = build([video, attack, *others])
    assert leads(edition)[0] == attack.title
    clip = next(c for c in edition.clusters if c.lead is video)
    assert clip.components["soft"] == SETTINGS.soft_news
    assert any("soft news: headline kicker 'Watch'" in why for why in clip.why)


def test_soft_news_never_outranks_hard_news_that_several_sources_cover() -> None:
    gallery = feed_of("Super blue blood moon - in pictures", "guardian", 0, 0.5, weight=5.0,
                      featured=True)
    covered = [feed_of("Dublin riots after knife attack outside school", f, 20, 20)
               for f in ("nyt", "npr")]
    edition = build([gallery, *covered])
    assert leads(edition) == [covered[0].title, gallery.title]
    held = edition.clusters[1]
    assert held.score < edition.clusters[0].score
    assert any("held below" in why for why in held.why)


def test_coverage_by_several_sources_dominates_a_fresh_single_story() -> None:
    # 2023-11-24: the China pneumonia clusters (NPR and Japan Times, 16 h old) were left out
    # while fresh single-source features got in.
    china = [feed_of("WHO asks China about pneumonia clusters in children", "npr", 12, 16,
                     summary="Hospitals in Beijing report a rise in pneumonia in children."),
             feed_of("China says no unusual pathogens in pneumonia clusters", "jt", 20, 17,
                     summary="China told the WHO that no novel pathogen caused the pneumonia "
                             "in children in Beijing.")]
    fresh = feed_of("A car-sized tumbleweed made quite a scene on a California highway",
                    "npr", 0, 1)
    edition = build([*china, fresh])
    assert leads(edition)[0] in {s.title for s in china}
    assert edition.clusters[0].components["sources"] == 2


def test_a_feeds_first_items_score_higher_than_its_last() -> None:
    first = feed_of("Parliament dissolved ahead of snap election", "a", 0, 2)
    last = feed_of("Local bakery wins regional bread award", "a", 25, 2)
    edition = build([last, first])
    assert leads(edition) == [first.title, last.title]
    assert edition.clusters[0].components["prominence"] > edition.clusters[1].components[
        "prominence"]


def test_a_feed_that_lists_by_time_says_nothing_by_its_order() -> None:
    # A wire lists its items newest first: its first item is its newest, not its most
    # important, and recency already counts that. A front page orders by its editors' choice.
    wire = [feed_of(f"Wire item {k}: council meets about district {k}", "wire", k, k + 1)
            for k in range(4)]
    front = [feed_of("Front page item about the harbour strike", "front", 0, 5),
             feed_of("Front page item about the museum roof", "front", 1, 2),
             feed_of("Front page item about the tram timetable", "front", 2, 3)]
    edition = build([*wire, *front], dataclasses.replace(
        SETTINGS, max_stories=10, max_per_source=10, max_per_section=10))
    by_title = {c.lead.title: c.components for c in edition.clusters}
    assert {by_title[s.title]["prominence"] for s in wire} == {1.0}
    assert {by_title[s.title]["position"] for s in wire} == {-1.0}
    assert by_title[front[0].title]["prominence"] == 1 + SETTINGS.prominence
    assert by_title[front[2].title]["prominence"] > 1.0


def test_items_that_left_a_feed_at_one_place_do_not_unsettle_its_order() -> None:
    # Items that fell out of a feed keep the place they were last seen at: several share
    # the last place, whatever their age. The feed still lists by time.
    listed = [feed_of(f"Wire item {k}: council meets about district {k}", "wire", k, k + 1)
              for k in range(4)]
    gone = [feed_of(f"Wire item {k}: harbour report {k}", "wire", 9, hours)
            for k, hours in enumerate((20, 6, 30))]
    assert by_editor([*listed, *gone]) == frozenset()
    shuffled = [dataclasses.replace(s, position=p)
                for s, p in zip(listed, (2, 0, 3, 1), strict=True)]
    assert by_editor([*shuffled, *gone]) == {listed[0].feed_url}


def test_sections_follow_the_story_not_the_feed() -> None:
    rules = (SectionRule("World", keywords=["hostages", "Gaza", "Israel"]),
             SectionRule("Sport", categories=["Football"], keywords=["Liverpool"]))
    hostages = story("Qatar and Egypt Negotiated For Release of 12 Thai Hostages", feed="nyt",
                     section="US")
    salah = story("Has Salah played last Liverpool game? Slot says 'wait and see'",
                  feed="bbc", section="World")
    budget = story("Senate passes the budget", feed="nyt", section="US")
    edition = build([hostages, salah, budget], rules=rules)
    home = {c.lead.title: c.section for c in edition.clusters}
    assert home == {hostages.title: "World", salah.title: "Sport", budget.title: "US"}


def test_without_a_rule_a_story_goes_where_most_of_its_feeds_file_it() -> None:
    same = [story("Storm closes the harbour in Hamburg", feed=f, section=s, weight=w)
            for f, s, w in (("us1", "US", 2.0), ("w1", "World", 1.0), ("w2", "World", 1.0))]
    (cluster,) = build(same).clusters
    assert cluster.lead.section == "US" and cluster.section == "World"


def test_a_section_cap_never_lets_a_weaker_story_in_while_a_stronger_is_cut() -> None:
    # As on 2023-11-24: NPR's hostage release was cut by the US section's cap while weaker
    # stories of other sections got in.
    us = [story(f"US story number {k} about district {k}", feed=f"us{k}", section="US",
                hours=1 + k) for k in range(3)]
    weak = story("A car-sized tumbleweed made quite a scene", feed="npr", section="Fun",
                 hours=20)
    settings = dataclasses.replace(SETTINGS, max_per_section=2, max_stories=3)
    edition = build([*us, weak], settings)
    assert leads(edition) == [us[0].title, us[1].title]
    cut = {c.lead.title: c.why for c in edition.cut}
    assert any("US holds 2 stronger stories" in why for why in cut[us[2].title])
    assert any("below the best 3" in why for why in cut[weak.title])


def test_boost_and_mute_words_are_whole_words_or_phrases() -> None:
    settings = dataclasses.replace(SETTINGS, boost_words=["climate"],
                                   mute_words=["Black Friday", "horoscope"])
    muted = story("Black Friday Isn't What It Used to Be", feed="a", hours=1)
    kept = story("Blackfriday.com domain sold at auction", feed="b", hours=1)
    boosted = story("Climate summit opens in Dubai", feed="c", hours=10)
    plain = story("Ferry timetable changes next month", feed="d", hours=9)
    by_category = story("Stars tonight", feed="e", categories=("Horoscope",))
    edition = build([muted, kept, boosted, plain, by_category], settings)
    assert leads(edition)[0] == boosted.title and kept.title in leads(edition)
    assert muted.title not in leads(edition) and by_category.title not in leads(edition)
    assert edition.clusters[0].components["boost"] == settings.boost_factor
    assert "boosted: climate" in edition.clusters[0].why
    why = {c.lead.title: c.why for c in edition.cut}
    assert "cut: muted: Black Friday" in why[muted.title]
    assert "cut: muted: horoscope" in why[by_category.title]


def test_pinned_stories_lead_in_the_order_pinned_and_dropped_ones_are_cut() -> None:
    stories = [story(f"Story number {k} on topic {k}", feed=f"f{k}", hours=k + 1)
               for k in range(5)]
    edition = rank(stories, SETTINGS, NOW, "daily-x", "Test",
                   pinned=[stories[4].url, stories[3].id], dropped=[stories[0].url])
    assert leads(edition)[:3] == [stories[4].title, stories[3].title, stories[1].title]
    assert stories[0].title not in leads(edition)
    assert "pinned by the editor (#1)" in edition.clusters[0].why
    assert edition.cut[0].why[-1] == "cut: dropped by the editor"


def test_two_feeds_of_one_publisher_are_one_source(tmp_path: Path) -> None:
    inland = story("Bundesregierung sieht Russland hinter Phishing-Attacke über Signal",
                   feed="ts-inland",
                   summary="Die Bundesregierung geht davon aus, dass Russland hinter einer "
                           "Phishing-Attacke über den Messenger Signal steckt.")
    ausland = story("Phishing über Signal: Bundesregierung sieht Russland dahinter",
                    feed="ts-ausland",
                    summary="Regierungsmitglieder waren von einer Phishing-Welle über Signal "
                            "betroffen; die Bundesregierung vermutet Russland.")
    heise = story("Signal-Phishing: Bundesregierung beschuldigt Russland", feed="heise",
                  summary="Die Bundesregierung macht Russland für Phishing-Angriffe auf "
                          "Signal-Konten verantwortlich.")
    stories = [dataclasses.replace(inland, source="tagesschau", publisher="tagesschau",
                                   weight=2.0),
               dataclasses.replace(ausland, source="tagesschau", publisher="tagesschau"),
               dataclasses.replace(heise, source="heise online")]
    edition = build(stories + FILLER)  # other news, so that rarity means what it means
    cluster = next(c for c in edition.clusters if c.lead.feed_url == stories[0].feed_url)
    assert len(cluster.stories) == 3 and cluster.components["sources"] == 2
    rendered = render_templates(edition, REPO / "templates", ZoneInfo("UTC"), "n0nce")
    assert "2 sources" in rendered.text and "3 sources" not in rendered.text
    also = rendered.html.split("Also covered by:", 1)[1].split("</p>", 1)[0]
    assert "heise online" in also and "tagesschau" not in also


def test_the_lead_of_a_story_is_a_report_not_its_gallery_or_column() -> None:
    report = story("Azabudai Hills complex opens in Tokyo", feed="jt", hours=9,
                   summary="Mori Building opened Azabudai Hills in Tokyo.")
    gallery = dataclasses.replace(
        story("In photos: Azabudai Hills complex opens in Tokyo", feed="jt", hours=5,
              summary="Mori Building opened Azabudai Hills in Tokyo."), position=0,
        weight=2.0)
    roomy = dataclasses.replace(SETTINGS, max_per_section=20)
    cluster = next(c for c in build([gallery, report, *FILLER], roomy).clusters
                   if "Azabudai" in c.lead.title)
    assert len(cluster.stories) == 2 and cluster.lead.title == report.title

