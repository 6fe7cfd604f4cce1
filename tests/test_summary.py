"""Edited summaries: every boilerplate pattern against the real feed it was found in, whole
sentences within `summary_chars`, and the HTML and text parts saying the same words."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.ingest.parse import parse_feed
from digest.model import Feed, FetchResult, Story
from digest.rank.summary import Editor, sentences

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _stories(corpus: Path, name: str) -> list[Story]:
    path = corpus / name
    feed = Feed(url=str(path), name=name, section="News")
    return parse_feed(FetchResult(feed=feed, status="ok", body=path.read_bytes()), NOW)


def _text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.mark.parametrize(("feed", "boilerplate"), [
    ("macworld-rss2.xml", "please click here"),
    ("guardian-us-rss2.xml", "Continue reading"),
    ("guardian-world-rss2.xml", "Continue reading"),
    ("slashdot-rss1.rdf", "Read more of this story"),
    ("dcrainmaker-wordpress-rss2.xml", "Read More Here"),
    ("lukedorny-jsonfeed11.json", "Read the full post"),
    ("lukedorny-jsonfeed11.json", "reading via RSS"),
    ("craigslist-sfbay-rss1.rdf", "[...]"),
    ("pixelenvy-jsonfeed1.json", "[…]"),
    ("reddit-frontpage-atom.xml", "submitted by"),
    ("talkingpointsmemo-atom.xml", "pic.twitter.com"),
    ("tumblr-sarahscribbles-rss2.xml", "Instagram"),
    ("medscape-familymed-rss2.xml", "Medscape News Canada"),
])
def test_publisher_boilerplate_goes(corpus: Path, feed: str, boilerplate: str) -> None:
    carrying = [s for s in _stories(corpus, feed) if boilerplate in s.summary_text]
    assert carrying, f"no story of {feed} says {boilerplate!r}"
    editor = Editor(280)
    for story in carrying:
        edited = editor.edit(story)
        assert boilerplate not in edited.summary_text
        assert boilerplate not in edited.summary_html
        assert len(edited.summary_text) <= 280
        assert _text_of(edited.summary_html) == edited.summary_text  # the same words


def test_the_wordpress_footer_goes() -> None:
    # No feed of the corpus carries it; its wording is WordPress's default.
    story = Story(feed_url="f", source="S", section="N", id="1", url="https://s.example/1",
                  title="T", summary_html="<p>The council met on Monday. It voted 7 to 2.</p>"
                  "<p>The post Council votes on budget appeared first on Town News.</p>",
                  summary_text="", published=NOW)
    assert Editor(280).edit(story).summary_text == "The council met on Monday. It voted 7 to 2."


@pytest.mark.parametrize("feed", ["macworld-rss2.xml", "daringfireball-atom.xml",
                                  "pixelenvy-jsonfeed1.json"])
def test_quotes_embeds_code_and_lists_are_not_the_summary(corpus: Path, feed: str) -> None:
    # Macworld quotes a tweet, Daring Fireball and Pixel Envy quote what they link to.
    quoting = [s for s in _stories(corpus, feed) if "<blockquote" in s.summary_html]
    assert quoting
    for story in quoting:
        quotes = re.findall(r"<blockquote\b.*?</blockquote>", story.summary_html, re.DOTALL)
        outside = _text_of(re.sub(r"<blockquote\b.*?</blockquote>", " ", story.summary_html,
                                  flags=re.DOTALL))
        edited = Editor(280).edit(story)
        assert "<blockquote" not in edited.summary_html
        for quote in map(_text_of, quotes):
            if len(quote) >= 40 and quote[:40] not in outside:
                assert quote[:40] not in edited.summary_text


def test_code_and_lists_are_not_the_summary() -> None:
    story = Story(feed_url="f", source="S", section="N", id="1", url="https://s.example/1",
                  title="T", summary_html="<p>Release 2.0 is out.</p><ul><li>faster</li></ul>"
                  "<pre><code>pip install x</code></pre><p>Upgrade today.</p>",
                  summary_text="", published=NOW)
    assert Editor(280).edit(story).summary_text == "Release 2.0 is out. Upgrade today."


def test_whole_sentences_up_to_the_length(corpus: Path) -> None:
    long = [s for s in _stories(corpus, "guardian-world-rss2.xml") if len(s.summary_text) > 300]
    assert long
    for story in long:
        text = Editor(200).edit(story).summary_text
        assert len(text) <= 200 and re.search(r"[.!?…][\"”’)]*$", text), text
    assert sentences("One. Two is longer. Three.", 20) == "One. Two is longer."
    assert sentences("A single sentence that goes on and on and on.", 20) == "A single sentence…"


def test_a_summary_with_nothing_to_edit_keeps_its_html() -> None:
    story = Story(feed_url="f", source="S", section="N", id="1", url="https://s.example/1",
                  title="T", summary_html='<p>See <a href="https://x.example/">the report</a>.'
                  "</p>", summary_text="See the report.", published=NOW)
    assert Editor(280).edit(story) is story
