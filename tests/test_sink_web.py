"""`digest sink --web` for real: a subprocess, mail sent with smtplib, pages fetched with httpx."""

from __future__ import annotations

import re
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sinkweb import WebSink, failing, newsletter, running_web_sink, scripted

from digest.sink.server import free_port


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[WebSink]:
    with running_web_sink(tmp_path) as running:
        yield running


def verdicts(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-check="(\w+)" data-verdict="(\w+)"', page))


def checked_page(sink: WebSink, key: str) -> str:
    """The message page once SpamAssassin (which runs in the background) has scored it."""
    deadline = time.monotonic() + 60
    while True:
        page = httpx.get(f"{sink.url}/message/{key}", timeout=60)
        assert page.status_code == 200
        if "data-pending" not in page.text or time.monotonic() > deadline:
            return page.text
        time.sleep(0.3)


def test_list_is_newest_first_with_time_to_subject_and_size(sink: WebSink) -> None:
    for i in range(3):
        sink.send(newsletter(subject=f"Edition {i}", to=f"reader{i}@example.com"))
        sink.key_of(f"Edition {i}")  # one at a time, so their order is known
    page = httpx.get(sink.url + "/").text
    subjects = re.findall(r'<td class="subject"><a href="/message/[^"]+">([^<]*)</a>', page)
    assert subjects == ["Edition 2", "Edition 1", "Edition 0"]
    assert "reader2@example.com" in page and re.search(r"\d+\.\d KB", page)
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", page)
    listed = sink.messages()
    assert [m["subject"] for m in listed] == subjects
    on_disk = {p.name.split(":")[0]: p.stat().st_size for p in (sink.maildir / "new").iterdir()}
    assert {m["key"]: m["size"] for m in listed} == on_disk


def test_a_good_newsletter_passes_every_check(sink: WebSink) -> None:
    sink.send(newsletter(subject="All good"))
    key = sink.key_of("All good")
    page = checked_page(sink, key)
    assert verdicts(page) == {"size": "pass", "unsubscribe": "pass", "links": "pass",
                                   "images": "pass", "text": "pass", "spamassassin": "pass"}
    # The page shows the text part, every header and the raw source, all escaped.
    assert "Beta team wins the regional cup\nhttps://news.example.com/beta" in page
    assert "<th>List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>" in page
    assert "X-Sink-Envelope-To" in page and "Content-Type: multipart/alternative" in page
    assert "&lt;h2&gt;&lt;a href=" in page  # the HTML only as escaped source text
    for width in ("375", "640"):
        assert f'href="?width={width}#preview"' in page
    spam = httpx.get(f"{sink.url}/api/message/{key}/spamassassin").json()
    assert spam["pending"] is False and spam["verdict"] == "pass"
    assert re.fullmatch(r"score -?\d+(\.\d)?, spam at 5", spam["summary"])


def test_a_message_built_to_fail_fails_every_check(sink: WebSink) -> None:
    sink.send(failing(subject="All bad"))
    key = sink.key_of("All bad")
    page = checked_page(sink, key)
    assert verdicts(page) == {"size": "fail", "unsubscribe": "fail", "links": "fail",
                              "images": "fail", "text": "fail", "spamassassin": "fail"}
    assert re.search(r"/stories/alpha “[^”]*”: relative", page)
    assert re.search(r"javascript:alert\(1\) “Click”: a javascript: link", page)
    for finding in ("no List-Unsubscribe-Post",
                    "every URI must be in angle brackets", "no alt", "no width",
                    "headline missing from the text: Beta team wins the regional cup",
                    "link missing from the text: https://news.example.com/beta", "GTUBE",
                    "Gmail will clip it"):
        assert finding in page, finding


def test_captured_html_is_served_alone_under_a_sandboxing_csp(sink: WebSink) -> None:
    message = scripted(subject="Scripts inside")
    sink.send(message)
    key = sink.key_of("Scripts inside")
    page = httpx.get(f"{sink.url}/message/{key}", timeout=60)
    # The app's page frames the part and never carries the captured markup itself.
    assert re.search(rf'<iframe id="preview-frame"[^>]*src="/message/{re.escape(key)}/html"'
                     r'[^>]*sandbox=""', page.text, re.S)
    assert "<script>document" not in page.text and "<body onload" not in page.text
    assert "&lt;script&gt;document" in page.text  # in the source, as text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    part = httpx.get(f"{sink.url}/message/{key}/html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert part.text == html_part.get_content()
    policy = part.headers["content-security-policy"]
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";")}
    assert directives["default-src"] == "default-src 'none'"
    assert directives["sandbox"] == "sandbox"  # no allow-scripts, no allow-same-origin
    assert "script-src" not in directives and "allow" not in policy
    assert part.headers["referrer-policy"] == "no-referrer"
    raw = httpx.get(f"{sink.url}/message/{key}/raw")
    assert raw.headers["content-type"].startswith("text/plain")
    assert "sandbox" in raw.headers["content-security-policy"]
    assert "Subject: Scripts inside" in raw.text


def test_delete_one_and_all_only_by_a_same_origin_post(sink: WebSink) -> None:
    for subject in ("Keep", "Drop", "Third"):
        sink.send(newsletter(subject=subject))
    drop = sink.key_of("Drop")
    sink.key_of("Keep"), sink.key_of("Third")
    url = f"{sink.url}/message/{drop}/delete"
    assert httpx.get(url).status_code == 405
    assert httpx.post(url).status_code == 403  # no Origin, no Referer
    assert httpx.post(url, headers={"Origin": "http://evil.example"}).status_code == 403
    assert httpx.post(url, headers={"Referer": "http://evil.example/"}).status_code == 403
    assert len(sink.messages()) == 3
    done = httpx.post(url, headers=sink.origin)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert sorted(m["subject"] for m in sink.messages()) == ["Keep", "Third"]
    assert httpx.get(f"{sink.url}/message/{drop}").status_code == 404
    assert httpx.post(url, headers=sink.origin).status_code == 404
    assert httpx.post(f"{sink.url}/delete-all").status_code == 403
    done = httpx.post(f"{sink.url}/delete-all", headers={"Referer": sink.url + "/"})
    assert done.status_code == 303
    assert sink.messages() == [] and list((sink.maildir / "new").iterdir()) == []
    assert "No mail yet" in httpx.get(sink.url + "/").text


def test_only_loopback_host_names_are_answered(sink: WebSink) -> None:
    # A page on another site cannot read captured mail through DNS rebinding.
    assert httpx.get(sink.url + "/", headers={"Host": "evil.example"}).status_code == 400
    assert httpx.get(f"http://localhost:{sink.web_port}/").status_code == 200


def test_the_list_is_told_about_new_mail_as_it_arrives(sink: WebSink) -> None:
    events: list[str] = []
    with httpx.stream("GET", sink.url + "/events", timeout=15) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("data:"):
                events.append(line)
                if len(events) == 1:
                    sink.send(newsletter(subject="Live"))
                else:
                    break
    assert events == ['data: {"count": 0}', 'data: {"count": 1}']
    # Ctrl-C stops the server promptly even while a browser keeps an event stream open.
    with httpx.stream("GET", sink.url + "/events", timeout=15) as stream:
        next(stream.iter_lines())
        assert sink.stop() == 0
    assert "Stopped." in sink.log.read_text()


def test_hostile_and_odd_messages_still_show(sink: WebSink) -> None:
    odd = {
        "text only": b"Subject: text only\r\n\r\nJust text.\r\n",
        "html only": b"Subject: html only\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n",
        "bad charset": b"Subject: bad charset\r\nContent-Type: text/plain; charset=x-nonsense"
                       b"\r\n\r\n\xff\xfe caf\xe9\r\n",
        "=?utf-8?q?encoded_=E2=9C=93?=": b"Subject: =?utf-8?q?encoded_=E2=9C=93?=\r\n"
                                          b"To: =?bogus?x?zz?=\r\n\r\nbody\r\n",
        "<script>alert(1)</script>": b"Subject: <script>alert(1)</script>\r\n"
                                      b"Content-Type: multipart/alternative; boundary=XX\r\n"
                                      b"\r\n--XX\r\nContent-Type: text/html\r\n\r\n<b>no end",
    }
    with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
        for raw in odd.values():
            smtp.sendmail("a@example.com", ["b@example.com"], raw)
    listed = sink.messages()
    assert len(listed) == len(odd)
    index = httpx.get(sink.url + "/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index and "<script>alert" not in index
    assert "encoded ✓" in index
    for m in listed:
        page = httpx.get(f"{sink.url}{m['url']}", timeout=60)
        assert page.status_code == 200, m["subject"]
        assert "<script>alert" not in page.text
        assert httpx.get(f"{sink.url}{m['url']}/html").status_code in (200, 404)
    assert httpx.get(f"{sink.url}/message/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert httpx.get(f"{sink.url}/message/nonexistent").status_code == 404


def test_a_taken_web_port_is_an_error_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "digest", "sink", "--web", "--port", str(free_port()),
             "--web-port", str(port), "--maildir", str(tmp_path / "md")],
            capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "--web-port" in done.stderr
