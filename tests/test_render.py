"""Render: golden renders of a fixed edition, hostile story text, template errors, the size
budget, and what the HTML and text parts must both say.

Golden files are in tests/data/render/; regenerate them after a deliberate template change
with `DIGEST_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render.py` and review
the diff before committing.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO
from editions import NOW, edition, large_edition, sample_edition, story

from digest.deliver.message import Personalizer, html_values
from digest.errors import RenderError
from digest.ingest.sanitize import one_line
from digest.model import Cluster, Edition, Image, Rendered
from digest.render.brand import Brand
from digest.render.budget import HTML_BUDGET, html_size, render_within_budget, sample_values
from digest.render.edition import (
    TEXT_WIDTH,
    TITLE_LIMIT,
    archive_name,
    archive_page,
    placeholders,
    render_edition,
)

GOLDEN = Path(__file__).parent / "data" / "render"
REGENERATE = os.environ.get("DIGEST_REGENERATE_GOLDEN") == "1"
TEMPLATES = REPO / "templates"
ZONE = ZoneInfo("America/New_York")
NONCE = "0123456789abcdef"
BASE_URL = "https://news.example.com"


def render(edition: Edition, templates: Path | None = TEMPLATES) -> Rendered:
    return render_edition(edition, templates, ZONE, NONCE, {"base_url": BASE_URL})


def fill_html(rendered: Rendered, values: dict[str, str]) -> str:
    """The HTML part as message.py fills it: values HTML-escaped."""
    return Personalizer(rendered.html, rendered.placeholders).fill(html_values(values))


def fill_text(rendered: Rendered, values: dict[str, str]) -> str:
    return Personalizer(rendered.text, rendered.placeholders).fill(values)


def normalised(text: str, rendered: Rendered) -> str:
    """Placeholders as {{name}}, and one tag a line so a golden diff reads."""
    for name, mark in rendered.placeholders.items():
        text = text.replace(mark, "{{" + name + "}}")
    return re.sub(r">\s*<", ">\n<", text).rstrip() + "\n"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not REGENERATE:
            pytest.fail(f"{path} did not exist and was written; review it and run again")
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden render; if the change is meant, regenerate with "
        "DIGEST_REGENERATE_GOLDEN=1 and review the diff")


# --- golden renders -------------------------------------------------------------------------

def test_golden_html() -> None:
    rendered = render(sample_edition())
    check_golden("sample.html", normalised(rendered.html, rendered))


def test_golden_text() -> None:
    rendered = render(sample_edition())
    check_golden("sample.txt", normalised(rendered.text, rendered))


def test_golden_subject() -> None:
    rendered = render(sample_edition())
    # The news, not what the From name and Date already say; "+ N more" while it fits.
    assert rendered.subject == "Truce holds for a second day as hostages are freed + 6 more"


# --- premailer and placeholders -------------------------------------------------------------

def test_css_is_inlined_and_media_queries_are_kept() -> None:
    rendered = render(sample_edition())
    page = rendered.html
    assert 'class="headline"' in page and re.search(r'<h3 class="headline"[^>]*style=', page)
    # Outlook for Windows' own block is in a conditional comment, which other clients skip.
    styles = re.findall(r"<style[^>]*>(.*?)</style>", re.sub(r"<!--.*?-->", "", page, flags=re.S),
                        re.S)
    assert len(styles) == 2, "what cannot be inlined, and Outlook.com's dark-mode rules"
    assert "@media only screen and (min-width: 621px)" in styles[0]
    assert "@media (prefers-color-scheme: dark)" in styles[0]
    assert ".masthead" in styles[0] and "!important" in styles[0]
    # Plain rules are inlined, not left in the block.
    assert "border-collapse" not in styles[0]
    assert '<meta name="color-scheme" content="light dark">' in page


def test_every_placeholder_survives_inlining_and_is_filled_escaped() -> None:
    rendered = render(sample_edition())
    for name in ("email", "unsubscribe_url", "preferences_url", "browser_url"):
        assert rendered.placeholders[name] in rendered.html, name
        assert rendered.placeholders[name] in rendered.text, name
    values = sample_values(BASE_URL, "daily-2023-11-24")
    values["email"] = 'o\'brien+"x"&<y>@example.com'
    values["unsubscribe_url"] = f"{BASE_URL}/unsubscribe?t=a&b=<c>"
    page, text = fill_html(rendered, values), fill_text(rendered, values)
    assert "@@digest-" not in page and "@@digest-" not in text
    assert 'href="https://news.example.com/unsubscribe?t=a&amp;b=&lt;c&gt;"' in page
    assert "o&#x27;brien+&quot;x&quot;&amp;&lt;y&gt;@&#8203;example.&#8203;com" in page
    assert values["email"] in text and values["unsubscribe_url"] in text


def test_placeholders_are_unique_per_render() -> None:
    assert placeholders("aaaa") != placeholders("bbbb")
    text_with_marks = "@@digest-ffffffffffffffff-email@@"  # what a feed might try
    rendered = render(edition([("World", [Cluster((story(1, text_with_marks),), 1.0)])]))
    assert text_with_marks in fill_text(rendered, sample_values(BASE_URL, "x"))


# --- hostile story text ---------------------------------------------------------------------

FEED_ATTACKS = {
    "script": '<script>window.__pwned = 1</script>Breaking news',
    "handler": '<img src=x onerror="window.__pwned=1">Click <b onmouseover=alert(1)>me</b>',
    "crlf": "First line\r\nBcc: victim@example.com\r\n\r\n<h1>body</h1>",
    "long": "Endless " * 1250,  # 10,000 characters
    "long_word": "A" * 10_000,
    "rtl": "\u202eevil.exe\u202c خبر عاجل: افتتاح المعرض 🎉👩‍👩‍👧",
    "quote": '"><script>window.__pwned=1</script><a href="',
}
BAD_URLS = [
    "javascript:window.__pwned=1",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example.com/path",
    "/relative/path",
    "file:///etc/passwd",
]
HOSTILE_SUMMARY = (
    '<p onclick="window.__pwned=1">Text</p><script>window.__pwned=1</script>'
    '<a href="javascript:window.__pwned=1">bad link</a> <a href="https://ok.example.com/a">ok</a>'
    '<img src="https://tracker.example.com/p.gif" width="1" height="1">'
    '<style>body{background:url(https://evil.example.com/x.png)}</style>'
    '<link rel="stylesheet" href="https://evil.example.com/x.css">'
    '<iframe src="https://evil.example.com"></iframe><form action="https://evil.example.com">'
    '<input name="q"></form><svg onload="window.__pwned=1"></svg>'
)


def hostile_edition() -> Edition:
    clusters = [
        Cluster((story(i, title, source=title[:40], summary_html=HOSTILE_SUMMARY,
                       summary_text=title, url=BAD_URLS[i % len(BAD_URLS)],
                       image=Image(BAD_URLS[i % len(BAD_URLS)], 10, 10, alt=title)),
                 story(100 + i, "Also " + title, source=title[:20],
                       url=BAD_URLS[(i + 1) % len(BAD_URLS)])), score=10.0 - i)
        for i, title in enumerate(FEED_ATTACKS.values())
    ]
    clusters.append(Cluster((story(50, "Tracking pixel story", image=Image(
        "https://tracker.example.com/pixel.gif", 1, 1)),), 0.5))
    return edition([('<b onclick="x">Section</b>\r\nBcc: x', clusters)],
                   newsletter="Brief <script>window.__pwned=1</script>")


class _Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def test_hostile_story_text_renders_inert() -> None:
    rendered = render(hostile_edition())
    page = fill_html(rendered, sample_values(BASE_URL, "daily-2023-11-24"))
    tags = _elements(page)
    names = {t for t, _ in tags}
    assert not names & {"script", "iframe", "form", "input", "svg", "link", "object", "embed"}
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for attribute in ("href", "src", "action", "background"):
            value = attrs.get(attribute)
            if value is not None:
                assert re.match(r"https?://[^/\s]", value), (tag, attribute, value)
        if tag == "img":
            assert attrs.get("width") and attrs.get("height") and attrs.get("alt") is not None
            assert int(attrs["width"] or 0) > 1 and int(attrs["height"] or 0) > 1
            assert "tracker.example.com" not in (attrs.get("src") or "")
    assert "evil.example.com" not in page and "tracker.example.com" not in page
    assert "@import" not in page and "url(" not in page
    assert "&lt;script&gt;" in page  # the title's markup shows as text
    style_blocks = re.findall(r"<style", re.sub(r"<!--.*?-->", "", page, flags=re.S))
    assert len(style_blocks) == 2  # ours only


def test_hostile_titles_stay_on_one_line_and_are_capped() -> None:
    rendered = render(hostile_edition())
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert len(rendered.subject) <= 200
    text = fill_text(rendered, sample_values(BASE_URL, "daily-2023-11-24"))
    assert "\r" not in text
    assert not re.search(r"^Bcc:", text, re.M)
    for line in text.splitlines():
        if "https://" not in line:
            assert len(line) <= TEXT_WIDTH, line
    for bad in BAD_URLS:
        assert bad.strip() not in text
    # A 10,000-character title becomes a few lines (summaries are the size budget's business).
    long_title = one_line(FEED_ATTACKS["long_word"])
    shown = rendered.html.replace("\u200b", "")
    assert long_title not in shown and long_title not in text
    assert long_title[:TITLE_LIMIT - 1] + "…" in shown


def test_rtl_and_emoji_survive() -> None:
    rendered = render(sample_edition())
    assert "مهرجان الكتاب في القاهرة يفتح أبوابه 📚" in rendered.html
    assert "مهرجان الكتاب في القاهرة يفتح أبوابه 📚" in rendered.text
    assert 'dir="auto"' in rendered.html


# --- text part ------------------------------------------------------------------------------

def test_text_part_is_readable_at_72_columns() -> None:
    values = sample_values(BASE_URL, "daily-2023-11-24")
    sample = sample_edition()
    text = fill_text(render(sample), values)
    lines = text.splitlines()
    for line in lines:
        if "://" not in line:
            assert len(line) <= TEXT_WIDTH, line
    for section in sample.sections:  # sections are headings, underlined
        i = lines.index(section.name.upper())
        assert set(lines[i + 1]) == {"="}
    for cluster in sample.clusters:  # title, source and URL each on a line of its own
        lead = cluster.lead
        i = lines.index(lead.title)
        assert lines[i + 1].startswith(lead.source + " · ")
        assert lines[i + 2] == lead.url
    nonempty = [line for line in lines if line.strip()]
    assert nonempty[-1] == f"Unsubscribe: {values['unsubscribe_url']}"


def test_html_and_text_say_the_same_things() -> None:
    """Spam filters score parts that differ (MPART_ALT_DIFF): the words must match."""
    sample = sample_edition()
    rendered = render(sample)
    values = sample_values(BASE_URL, "daily-2023-11-24")
    page = fill_html(rendered, values).split("</head>")[1].replace("&#8203;", "")
    page = html.unescape(re.sub(r"<[^>]+>", " ", page))
    text = fill_text(rendered, values)
    for phrase in ["Morning Brief", "Friday, November 24, 2023", "7 stories",
                   "View in browser", "Also covered by", "Unsubscribe", "Choose topics",
                   "because you subscribed with", values["email"]]:
        assert phrase in page and phrase in text, phrase
    for s in sample.stories:
        assert s.source in page and s.source in text
    for cluster in sample.clusters:
        assert cluster.lead.title in page and cluster.lead.title in text


# --- template errors ------------------------------------------------------------------------

@pytest.fixture
def own_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "my-templates"
    shutil.copytree(TEMPLATES, folder)
    return folder


def test_syntax_error_names_file_and_line(own_templates: Path) -> None:
    path = own_templates / "edition.html.j2"
    lines = path.read_text().splitlines()
    lines.insert(3, "{{ story_count + }}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RenderError) as error:
        render(sample_edition(), own_templates)
    assert f"{path}:4: template syntax error" in str(error.value)


def test_undefined_name_names_file_and_line(own_templates: Path) -> None:
    path = own_templates / "macros.html.j2"
    source = path.read_text().replace("{{ title |", "{{ titel |", 1)
    path.write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "titel" in text)
    with pytest.raises(RenderError) as error:
        render(sample_edition(), own_templates)
    assert f"macros.html.j2:{line}: template error" in str(error.value)
    assert "'titel' is undefined" in str(error.value)


def test_undefined_attribute_in_text_template(own_templates: Path) -> None:
    path = own_templates / "edition.txt.j2"
    source = path.read_text().replace("story.source", "story.sauce", 1)
    path.write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "sauce" in text)
    with pytest.raises(RenderError, match=rf"edition\.txt\.j2:{line}: .*sauce"):
        render(sample_edition(), own_templates)


def test_an_override_folder_needs_only_the_files_it_changes(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("Only the subject is mine: {{ story_count }}\n")
    rendered = render(sample_edition(), folder)
    assert re.fullmatch(r"Only the subject is mine: \d+", rendered.subject)
    assert rendered.html == render(sample_edition(), None).html  # the rest are bundled


def test_a_missing_include_falls_back_and_a_missing_folder_is_named(own_templates: Path,
                                                                     tmp_path: Path) -> None:
    (own_templates / "style.css").unlink()
    assert render(sample_edition(), own_templates).html == render(sample_edition(), None).html
    with pytest.raises(RenderError, match=r"gone: no such folder.*\[newsletter\] templates"):
        render(sample_edition(), tmp_path / "gone")


def test_operator_templates_are_used(own_templates: Path) -> None:
    path = own_templates / "edition.html.j2"
    path.write_text(path.read_text().replace("View in browser</a></div>",
                                             "Read it online</a></div>"))
    assert "Read it online" in render(sample_edition(), own_templates).html


# --- size budget ----------------------------------------------------------------------------

def test_small_edition_is_not_cut() -> None:
    fitted = render_within_budget(sample_edition(), TEMPLATES, ZONE, NONCE,
                                  {"base_url": BASE_URL})
    assert not fitted.cut and fitted.edition == sample_edition()
    assert fitted.size == fitted.original_size < HTML_BUDGET


def test_thirty_stories_fit_without_cuts() -> None:
    fitted = render_within_budget(large_edition(30), TEMPLATES, ZONE, NONCE,
                                  {"base_url": BASE_URL})
    assert not fitted.cut, fitted.size


def test_long_summaries_are_shortened_first(caplog: pytest.LogCaptureFixture) -> None:
    big = large_edition(30, summary_repeat=4)
    with caplog.at_level(logging.WARNING, logger="digest.render.budget"):
        fitted = render_within_budget(big, TEMPLATES, ZONE, NONCE, {"base_url": BASE_URL})
    assert fitted.original_size > HTML_BUDGET >= fitted.size
    assert fitted.summaries_cut_to is not None and not fitted.dropped
    assert len(fitted.edition.clusters) == 30
    assert "summaries cut to" in caplog.text and f"was {fitted.original_size} bytes" in caplog.text


def test_then_the_lowest_ranked_clusters_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    big = large_edition(140)
    with caplog.at_level(logging.WARNING, logger="digest.render.budget"):
        fitted = render_within_budget(big, TEMPLATES, ZONE, NONCE, {"base_url": BASE_URL})
    assert fitted.size <= HTML_BUDGET < fitted.original_size
    assert fitted.dropped
    kept = {c.lead.id for c in fitted.edition.clusters}
    assert min(c.score for c in big.clusters if c.lead.id in kept) > max(
        c.score for c in fitted.dropped)
    assert len(kept) + len(fitted.dropped) == 140
    assert f"{len(fitted.dropped)} lowest-ranked stories dropped" in caplog.text
    # What goes out still ends with the footer: the unsubscribe link is not clipped.
    values = sample_values(BASE_URL, big.id)
    page = fill_html(fitted.rendered, values)
    assert len(page.encode()) == fitted.size == html_size(fitted.rendered, values)
    assert html.escape(values["unsubscribe_url"]) in page[-3000:]
    # Not far under the budget either: one more cluster would not have fitted.
    assert fitted.size > HTML_BUDGET * 0.9


def test_budget_counts_realistic_subscriber_values() -> None:
    """Long addresses and tokens count: a budget met with empty values is not met."""
    rendered = render(sample_edition())
    short = html_size(rendered, dict.fromkeys(rendered.placeholders, ""))
    real = html_size(rendered, sample_values(BASE_URL, "daily-2023-11-24"))
    assert real > short + 500


# --- archive --------------------------------------------------------------------------------

def test_archive_page_has_no_placeholders_or_tokens() -> None:
    rendered = render(sample_edition())
    page = archive_page(rendered, BASE_URL)
    assert "@@digest-" not in page
    assert f'href="{BASE_URL}/archive/daily-2023-11-24"' in page
    assert "?t=" not in page
    assert archive_name("../../etc/passwd") == "etc_passwd"
    assert archive_name("weekly-2023-W47") == "weekly-2023-W47"
    assert archive_name("daily-2023-11-24") == "daily-2023-11-24"


def test_dates_and_ages_follow_the_clock() -> None:
    rendered = render(sample_edition())
    assert "Friday, November 24, 2023" in rendered.text
    assert "1 h ago" in rendered.text and "just now" in rendered.text
    assert "2 days ago" in rendered.text
    assert NOW.tzinfo is not None


def test_an_impossible_budget_keeps_the_best_story_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="digest.render.budget"):
        fitted = render_within_budget(sample_edition(), TEMPLATES, ZONE, NONCE,
                                      {"base_url": BASE_URL}, budget=5_000)
    assert [c.lead.id for c in fitted.edition.clusters] == ["story-1"]
    assert fitted.summaries_cut_to == 0 and len(fitted.dropped) == 6
    assert "even with one story and no summary" in caplog.text
    assert not fitted.edition.clusters[0].lead.summary_text


def test_nothing_loads_but_the_stories_own_pictures() -> None:
    """No remote CSS, fonts or scripts, and no tracking pixel of ours."""
    sample = sample_edition()
    page = render(sample).html
    images = [attrs for tag, attrs in _elements(page) if tag == "img"]
    expected = {s.image.url for s in sample.stories if s.image and s.image.url}
    assert {a["src"] for a in images} == expected
    for a in images:  # every picture links where its headline does: decorative, alt=""
        assert a["width"] and a["height"] and a["alt"] == ""
    for remote in ("<link", "@import", "@font-face", "url(", "<script", "<iframe", "<object"):
        assert remote not in page, remote
    lead = next(a for a in images if "truce" in (a["src"] or ""))
    # 1600x900 scaled to fit the column (536 px) and the lead picture's 300 px height
    assert (lead["width"], lead["height"]) == ("533", "300")


# --- the inbox line and the text part's layout ----------------------------------------------

def test_subject_is_the_lead_headline_cut_near_sixty_characters() -> None:
    long_title = ("Parliament votes through the long-awaited budget after an all-night sitting "
                  "that ended in uproar")
    rendered = render(edition([("World", [Cluster((story(1, long_title),), 2.0),
                                          Cluster((story(2, "Second"),), 1.0)])]))
    assert rendered.subject == "Parliament votes through the long-awaited budget after an…"
    assert len(rendered.subject) <= 60
    one = render(edition([("World", [Cluster((story(1, "Only story"),), 1.0)])]))
    assert one.subject == "Only story"  # nothing "more" to promise


def test_preheader_is_the_next_two_headlines_then_invisible_spacing() -> None:
    sample = sample_edition()
    page = render(sample).html
    preheader = re.search(r'<div class="preheader"[^>]*>(.*?)</div>', page, re.S)
    assert preheader
    shown = html.unescape(preheader.group(1))
    second, third = (c.lead.title for c in sample.clusters[1:3])
    assert shown.startswith(f"{second} · {third}")
    assert sample.clusters[0].lead.title not in shown  # the subject says that one
    assert "\u034f\u200c\u00a0" * 10 in shown
    assert "display:none" in preheader.group(0) and "mso-hide:all" in preheader.group(0)


def test_text_part_keeps_paragraphs_and_gives_every_link_its_url() -> None:
    text = fill_text(render(sample_edition()), sample_values(BASE_URL, "daily-2023-11-24"))
    # The link "Follow the latest" is written with its target (wrapped at 72 columns).
    assert "latest <https://example.com/live>." in text
    assert " ".join(text.split()).count("Follow the latest <https://example.com/live>.") == 5
    # The summary's two paragraphs stay two, a blank line apart.
    assert "<https://example.com/live>.\n\nOfficials in three capitals" in text
    assert "-- \n" in text  # the signature line that mail clients recognise


def test_text_part_breaks_the_footer_cleanly_with_brand_lines() -> None:
    brand = Brand(footer_text="Published by Example Media, who choose the stories each day.",
                  postal_address="1 Main Street, Springfield, IL 62701, USA")
    rendered = render_edition(sample_edition(), TEMPLATES, ZONE, NONCE,
                              {"base_url": BASE_URL, "brand": brand})
    values = sample_values(BASE_URL, "daily-2023-11-24")
    footer = fill_text(rendered, values).split("\n-- \n", 1)[1]
    lines = footer.splitlines()
    assert lines[:2] == ["You get Morning Brief because you subscribed with",
                         values["email"] + "."]
    assert brand.footer_text in footer and brand.postal_address in footer
    assert lines[-2:] == [f"Choose topics: {values['preferences_url']}",
                          f"Unsubscribe: {values['unsubscribe_url']}"]
    assert all(len(line) <= TEXT_WIDTH or "://" in line for line in lines)
