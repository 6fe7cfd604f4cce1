"""Signing up over real HTTP: `digest serve` on a free port, the confirmation and welcome
emails caught by a real aiosmtpd server, the real SQLite file; the clock is the test's."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import SmtpServer
from signupkit import ENV, KEY, signup_site

from digest import pipeline
from digest.audience.subscribers import make_token
from digest.store import Store


def test_the_form_is_served_at_subscribe_and_at_the_root(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        for path in ("/", "/subscribe"):
            r = site.client.get(path)
            assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
            page = r.text
            assert "Political IQ Daily" in page and '<label for="email">' in page
            for topic in ("Featured", "World", "Politics"):
                assert f'value="{topic}"' in page
            assert 'name="stamp"' in page and 'name="website"' in page
            assert site.config.signup.consent in page
        assert site.rows() == {}


def test_a_reader_confirms_and_gets_a_welcome_and_the_next_edition(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        r = site.subscribe("New.Reader@Example.com", name="New Reader",
                           topics=["world", "Politics"], frequency="weekly")
        assert r.status_code == 200 and "Check your inbox" in r.text
        link = site.confirm_link("New.Reader@example.com")
        assert site.rows() == {"New.Reader@example.com": "pending"}
        path = link.removeprefix(site.base)
        for method in ("GET", "HEAD", "OPTIONS"):  # what link scanners do
            site.client.request(method, path)
        assert site.rows() == {"New.Reader@example.com": "pending"}
        page = site.client.get(path).text
        assert "Confirm" in page and "World" in page and 'method="post"' in page
        # a POST that is no press of the page's button: without its stamp, or at once
        stamp = re.search(r'name="stamp" value="([^"]+)"', page)
        assert stamp
        for data in ({}, {"stamp": stamp[1]}):
            r = site.client.post(path, data=data, headers={"Origin": site.base})
            assert r.status_code == 200 and "once more" in r.text
        assert site.rows() == {"New.Reader@example.com": "pending"}
        r = site.press_confirm(path)
        assert r.status_code == 200 and "You are subscribed" in r.text
        (welcome,) = site.mails_to("New.Reader@example.com", "welcome")
        assert "preferences?t=" in welcome.message.get_body(("plain",)).get_content()
        assert site.rows() == {"New.Reader@example.com": "active"}
        again = site.client.post(path, headers={"Origin": site.base})
        assert again.status_code == 410 and "already used" in again.text
        with Store.open(site.config.database_path) as store:
            readers = {s.email: s for s in pipeline.subscribers(site.config, store)}
            (signup,) = store.signups_of("New.Reader@example.com")
        reader = readers["New.Reader@example.com"]
        assert reader.topics == ("Politics", "World") and reader.frequency == "weekly"
        assert reader.list_name == "web" and reader.name == "New Reader"
        assert signup.consent == site.config.signup.consent and signup.confirmed
        assert signup.page.startswith("hosted form") and signup.client == "127.0.0.1"
        assert "python-httpx" in signup.user_agent


def test_every_well_formed_signup_gets_the_same_page_and_mail_only_when_allowed(
    project: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with signup_site(project, smtp_server) as site:
        with Store.open(site.config.database_path) as store:
            store.suppress("bounced@example.com", "hard bounce: 550 5.1.1", site.clock())
        site.subscribe("pending@example.com")
        site.confirm_link("pending@example.com")
        cases = {
            "new@example.com": {},
            "pending@example.com": {},  # within the resend window
            "bounced@example.com": {},
            "honeypot@example.com": {"website": "http://spam.example"},
            "forged@example.com": {"stamp": "f1.AAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        }
        pages = {}
        for email, extra in cases.items():
            r = site.subscribe(email, hosted="stamp" not in extra, **extra)
            assert r.status_code == 200
            pages[email] = r.text.replace(email, "ADDRESS")
        # a bot posting the hosted form at once
        stamp = re.search(r'name="stamp" value="([^"]+)"', site.client.get("/subscribe").text)
        assert stamp
        fast = site.client.post("/subscribe", data={"email": "fast@example.com",
                                                    "stamp": stamp[1]})
        pages["fast@example.com"] = fast.text.replace("fast@example.com", "ADDRESS")
        assert len(set(pages.values())) == 1, pages.keys()
        site.settle()
        mailed = sorted(a.rcpt_tos[0] for a in smtp_server.arrived)
        assert mailed == ["new@example.com", "pending@example.com"]
        with Store.open(site.config.database_path) as store:
            outcomes = {e: [s.outcome for s in store.signups_of(e)] for e in cases}
            outcomes["fast@example.com"] = [s.outcome for s in store.signups_of(
                "fast@example.com")]
        assert outcomes == {
            "new@example.com": ["mailed"], "pending@example.com": ["mailed", "resend_window"],
            "bounced@example.com": ["blocked"], "honeypot@example.com": ["honeypot"],
            "forged@example.com": ["forged_form"], "fast@example.com": ["too_fast"]}
        assert "no email (resend_window)" in caplog.text


def test_one_confirmation_per_address_per_window_and_a_limit_per_client(
    project: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    with signup_site(project, smtp_server, {"[web]": "[signup]\nper_ip_per_hour = 4\n\n[web]"}
                     ) as site:
        for _ in range(3):
            site.subscribe("victim@example.com")  # someone mail-bombing a stranger
        site.settle()
        assert len(site.mails_to("victim@example.com", "confirm", wait=0)) == 1
        site.clock.advance(minutes=11)
        site.subscribe("victim@example.com")
        assert len(site.mails_to("victim@example.com", "confirm", 2)) == 2
        site.clock.advance(minutes=30)  # the five above are within the hour: over the limit
        r = site.subscribe("other@example.com", hosted=False)
        assert "Check your inbox" in r.text
        site.settle()
        assert site.mails_to("other@example.com", "confirm", wait=0) == []
        assert "no email (ip_limit)" in caplog.text
        site.clock.advance(minutes=61)
        site.subscribe("other@example.com", hosted=False)
        assert len(site.mails_to("other@example.com", "confirm")) == 1


def test_spellings_of_one_inbox_share_its_window(
    project: Path, smtp_server: SmtpServer
) -> None:
    spellings = ["victim@gmail.com", "Victim@gmail.com", "victim+1@gmail.com",
                 "v.i.c.t.i.m@googlemail.com", "VICTIM+news@GMAIL.COM"]
    with signup_site(project, smtp_server) as site:
        for email in spellings:
            assert "Check your inbox" in site.subscribe(email).text
        site.subscribe("victim@example.com")  # another inbox
        site.settle()
        assert len(smtp_server.arrived) == 2
        assert {a.rcpt_tos[0] for a in smtp_server.arrived} == {"victim@gmail.com",
                                                                "victim@example.com"}


def test_cross_site_posts_reach_subscribe_but_not_confirm(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        evil = {"Origin": "https://publisher.example", "Sec-Fetch-Site": "cross-site"}
        r = site.client.post("/subscribe", data={"email": "snip@example.com"}, headers=evil)
        assert r.status_code == 200 and "Check your inbox" in r.text
        path = site.confirm_link("snip@example.com").removeprefix(site.base)
        for headers in (evil, {"Origin": "https://publisher.example"}, {"Origin": "null"}):
            r = site.press_confirm(path, headers)
            assert r.status_code == 403 and "<html" in r.text
        assert site.rows() == {"snip@example.com": "pending"}
        with Store.open(site.config.database_path) as store:
            (signup,) = store.signups_of("snip@example.com")
        assert signup.page == "snippet on https://publisher.example"
        assert site.press_confirm(path).status_code == 200
        assert site.rows() == {"snip@example.com": "active"}


def test_expired_forged_and_unknown_links_change_nothing_and_offer_a_new_one(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        site.subscribe("late@example.com")
        link = site.confirm_link("late@example.com")
        path = urlsplit(link).path + "?" + urlsplit(link).query
        site.clock.advance(hours=49)
        for method in ("GET", "POST"):
            r = site.client.request(method, path, headers={"Origin": site.base})
            assert r.status_code == 410 and "expired" in r.text
            assert "Send me a new link" in r.text and 'value="late@example.com"' in r.text
        assert site.rows() == {"late@example.com": "pending"}
        token = path.split("t=", 1)[1]
        for bad in (token[:-2], token[:-1] + ("A" if token[-1] != "A" else "B"), "v1.x.y", ""):
            r = site.client.post("/confirm", params={"t": bad}, headers={"Origin": site.base})
            assert r.status_code == 400 and "Traceback" not in r.text
        # the page's button asks for a new link: one more confirmation email
        stamp = re.search(r'name="stamp" value="([^"]+)"', site.client.get(path).text)
        assert stamp
        site.clock.advance(seconds=5)
        site.client.post("/subscribe", data={"email": "late@example.com", "stamp": stamp[1]})
        assert len(site.mails_to("late@example.com", "confirm", 2)) == 2


def test_a_wrong_field_comes_back_with_what_was_typed_and_an_announced_error(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        r = site.subscribe("not an address", name="Ada", topics=["World"])
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert 'value="not an address"' in r.text and 'value="Ada"' in r.text
        assert 'aria-invalid="true" autofocus' in r.text
        assert re.search(r'value="World"\s+checked', r.text)
        r = site.subscribe("ok@example.com", topics=["Sports"])
        assert r.status_code == 400 and "unknown topic" in r.text.lower()
        r = site.subscribe("ok@example.com", frequency="hourly")
        assert r.status_code == 400 and "daily or weekly" in r.text
        r = site.client.post("/subscribe", content=b'{"email": "x@example.com"}',
                             headers={"content-type": "application/json"})
        assert r.status_code == 415
        form = {"content-type": "application/x-www-form-urlencoded"}
        for body in (b"email=" + b"a" * 40_000, b"&".join([b"topics=World"] * 500)):
            r = site.client.post("/subscribe", content=body, headers=form)
            assert r.status_code == 413 and "<html" in r.text
        for name in ("Eve\u202egnp.exe", "x" * 201, "tab\x00nul"):
            r = site.subscribe("ok@example.com", name=name)
            assert r.status_code == 400 and 'aria-invalid="true"' in r.text
        assert f'value="{"x" * 201}"' in site.subscribe("ok@example.com", name="x" * 201).text
        r = site.client.post("/subscribe", content="email=%FF%FE@example.com&stamp=\x00",
                             headers=form)
        assert r.status_code == 400
        stale = site.stamp()
        site.clock.advance(days=2)
        r = site.client.post("/subscribe", data={"email": "slow@example.com", "stamp": stale})
        assert r.status_code == 400 and "open a long time" in r.text
        assert 'value="slow@example.com"' in r.text
        site.settle()
        assert smtp_server.arrived == [] and site.rows() == {}


def test_a_reader_who_unsubscribed_comes_back_only_by_confirming_again(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        with Store.open(site.config.database_path) as store:
            store.suppress("ada@example.com", "unsubscribed from list 'subscribers' by its link",
                           site.clock())
            assert "ada@example.com" not in {s.email for s in pipeline.subscribers(
                site.config, store)}
        site.subscribe("ada@example.com")
        path = site.confirm_link("ada@example.com").removeprefix(site.base)
        with Store.open(site.config.database_path) as store:
            assert store.suppression("ada@example.com") is not None
        site.press_confirm(path)
        with Store.open(site.config.database_path) as store:
            assert store.suppression("ada@example.com") is None
            assert "ada@example.com" in {s.email for s in pipeline.subscribers(
                site.config, store)}
    assert ENV


def test_no_method_but_post_changes_anything_on_any_signup_or_data_endpoint(
    project: Path, smtp_server: SmtpServer
) -> None:
    with signup_site(project, smtp_server) as site:
        site.subscribe("look@example.com")
        confirm = site.confirm_link("look@example.com").removeprefix(site.base)
        reader = "t=" + make_token(KEY, "subscribers", "ada@example.com")

        def snapshot() -> list[object]:
            with sqlite3.connect(site.config.database_path) as db:
                return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in (
                    "subscribers", "signups", "suppressions", "preferences", "forgotten")]

        site.settle()
        before = snapshot()
        paths = ["/", "/subscribe", confirm, f"/data?{reader}", f"/delete?{reader}",
                 f"/preferences?{reader}"]
        for path in paths:
            for method in ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"):
                r = site.client.request(method, path, headers={"Origin": site.base})
                assert r.status_code < 500, (method, path)
        site.settle()
        assert snapshot() == before
