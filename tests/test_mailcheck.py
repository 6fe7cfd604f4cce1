"""The sink's checks as pure functions over many shapes of input, and SpamAssassin for real."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sinkweb import GTUBE, newsletter

from digest.sink.mailcheck import (
    GMAIL_CLIP_BYTES,
    check_images,
    check_links,
    check_size,
    check_text_matches_html,
    check_unsubscribe,
)
from digest.sink.spamcheck import check_spamassassin

POST = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


def test_size_counts_utf8_bytes_against_gmails_clip() -> None:
    assert check_size(None).verdict == "skip"
    assert check_size("a" * 1000).verdict == "pass"
    assert check_size("a" * GMAIL_CLIP_BYTES).verdict == "warn"
    assert check_size("a" * (GMAIL_CLIP_BYTES + 1)).verdict == "fail"
    # 40,000 three-byte characters are 120,000 bytes: over, though under 102 K characters.
    assert check_size("€" * 40_000).verdict == "fail"


@pytest.mark.parametrize(("headers", "verdict"), [
    ([("List-Unsubscribe", "<https://x.example/u?t=1>, <mailto:u@x.example>"), POST], "pass"),
    ([("List-Unsubscribe", "<https://x.example/u?t=1>"), POST], "pass"),
    ([("List-Unsubscribe", "<http://127.0.0.1:8080/u?t=1>, <mailto:u@x.example>"), POST], "warn"),
    ([("List-Unsubscribe", "<http://localhost/u>"), POST], "warn"),
    ([("List-Unsubscribe", "<http://x.example/u>"), POST], "fail"),
    ([("List-Unsubscribe", "<mailto:u@x.example>"), POST], "fail"),
    ([("List-Unsubscribe", "https://x.example/u"), POST], "fail"),
    ([("List-Unsubscribe", "<https://x.example/u> junk"), POST], "fail"),
    ([("List-Unsubscribe", "<javascript:alert(1)>"), POST], "fail"),
    ([("List-Unsubscribe", "<https://x.example/u>")], "fail"),
    ([("List-Unsubscribe", "<https://x.example/u>"),
      ("List-Unsubscribe-Post", "List-Unsubscribe=OneClick")], "fail"),
    ([("List-Unsubscribe", "<https://x.example/u>"), POST, POST], "fail"),
    ([("List-Unsubscribe", "<https://x.example/a>"), ("List-Unsubscribe", "<https://x.example/b>"),
      POST], "fail"),
    ([POST], "fail"),
    ([], "fail"),
])
def test_unsubscribe_headers(headers: list[tuple[str, str]], verdict: str) -> None:
    assert check_unsubscribe(headers).verdict == verdict


@pytest.mark.parametrize(("href", "ok"), [
    ("https://example.com/a?b=1&amp;c=2", True), ("HTTP://EXAMPLE.COM", True),
    ("mailto:editor@example.com", True), ("tel:+15551234", True),
    ("/relative/path", False), ("story.html", False), ("#top", False), ("", False),
    ("javascript:alert(1)", False), ("data:text/html,hi", False), ("https:///no-host", False),
    ("{{ unsubscribe_url }}", False), ("%%unsubscribe%%", False), ("http://[::1", False),
    ("  https://example.com/padded  ", True),
])
def test_every_kind_of_href(href: str, ok: bool) -> None:
    check = check_links(f'<p><a href="{href}">it</a> and <a href="https://ok.example/">ok</a></p>')
    assert check.verdict == ("pass" if ok else "fail"), check.findings
    assert len(check.findings) == 2  # every distinct link is listed


def test_links_are_listed_once_with_a_count_and_their_text() -> None:
    check = check_links('<a href="https://a.example/x">First <b>story</b></a>'
                        '<a href="https://a.example/x">again</a><area href="/map" alt="Map">')
    texts = [f.text for f in check.findings]
    assert texts[0].startswith("/map") and "relative" in texts[0]
    assert "https://a.example/x (2×) “First story”" in texts
    assert check_links("<p>No links.</p>").verdict == "warn"


def test_images() -> None:
    ok = '<img src="https://i.example/a.png" width="600" height="300" alt="">'
    assert check_images(ok).verdict == "pass"  # an empty alt is right for decoration
    assert check_images(ok.replace('src="https', 'src="cid:x').replace("://", "")).verdict \
        == "pass"
    assert check_images(ok.replace(' height="300"', "")).verdict == "warn"
    assert check_images(ok.replace(' width="600"', "")).verdict == "fail"
    assert check_images(ok.replace(' alt=""', "")).verdict == "fail"
    assert check_images(ok.replace("https://i.example/", "")).verdict == "fail"
    many = check_images(ok + '<IMG SRC="https://i.example/b.png">' + ok)
    assert many.verdict == "fail" and len(many.findings) == 1
    assert "b.png" in many.findings[0].text and "no alt" in many.findings[0].text


def _parts(message_subject: str = "x") -> tuple[str, str]:
    msg = newsletter(subject=message_subject)
    html = msg.get_body(preferencelist=("html",))
    text = msg.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())


def test_text_part_against_html() -> None:
    html, text = _parts()
    assert check_text_matches_html(html, text).verdict == "pass"
    assert check_text_matches_html(html, None).verdict == "fail"
    assert check_text_matches_html(None, text).verdict == "skip"
    # Wrapped lines, hyphen breaks and case do not matter; entities are decoded.
    wrapped = text.replace("Alpha council approves the new bridge",
                           "ALPHA council approves\n  the new\nbridge")
    assert check_text_matches_html(html, wrapped).verdict == "pass"
    amp = html.replace("Beta team wins", "Beta &amp; team wins")
    assert check_text_matches_html(amp, text.replace("Beta team", "Beta & team")).verdict \
        == "pass"
    no_story = text.replace("https://news.example.com/beta", "")
    check = check_text_matches_html(html, no_story)
    assert check.verdict == "fail"
    assert [f.text for f in check.findings] == [
        "link missing from the text: https://news.example.com/beta"]
    extra = check_text_matches_html(html, text + "\nhttps://elsewhere.example/x.\n")
    assert extra.verdict == "warn"
    assert extra.findings[0].text == "link only in the text: https://elsewhere.example/x"
    # Without headlines the web links are compared, and a difference only warns.
    flat = '<p><a href="https://a.example/1">one</a></p>'
    assert check_text_matches_html(flat, "one https://a.example/1").verdict == "pass"
    assert check_text_matches_html(flat, "one").verdict == "warn"
    # Hostile markup never breaks the scan.
    assert check_text_matches_html("<h2><a href='https://a.example/1'>A<h2>B</a><script>"
                                   "</h2>", "").verdict == "fail"


def test_spamassassin_missing_slow_or_silent_is_a_skip(tmp_path: Path) -> None:
    assert check_spamassassin(b"Subject: x\n\nhi\n", None).verdict == "skip"
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 10\n")
    slow.chmod(0o755)
    check = check_spamassassin(b"Subject: x\n\nhi\n", str(slow), timeout=0.5)
    assert check.verdict == "skip" and "0.5 s" in check.summary
    assert check_spamassassin(b"Subject: x\n\nhi\n", shutil.which("true")).verdict == "skip"
    assert check_spamassassin(b"x", str(tmp_path / "absent")).verdict == "skip"


def test_spamassassin_scores_for_real() -> None:
    command = shutil.which("spamassassin")
    if command is None:
        pytest.skip("spamassassin is not installed (apt-get install spamassassin)")
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\n\r\n"
           + GTUBE.encode() + b"\r\n")
    check = check_spamassassin(raw, command)
    assert check.verdict == "fail" and check.summary.startswith("score 10")
    assert any("GTUBE" in f.text and f.verdict == "fail" for f in check.findings)
