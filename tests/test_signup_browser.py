"""The whole journey in headless Chromium: the form, the confirmation email, the Confirm
button, the welcome email, then a `digest send` that includes the new reader's topics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from browser import SCREENSHOTS
from conftest import SmtpServer
from signupkit import ENV, START, signup_site

from digest import pipeline
from digest.store import Store


def test_a_reader_signs_up_in_chromium_and_gets_the_next_edition(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, browser: Any
) -> None:
    base, root = feed_server
    for feed in (project / "samples" / "feeds").iterdir():
        shutil.copy(feed, root / feed.name)
    more = {'url = "samples/feeds/': f'url = "{base}/', "min_stories = 3": "min_stories = 1"}
    SCREENSHOTS.mkdir(exist_ok=True)
    with signup_site(project, smtp_server, more) as site:
        page = browser.new_page(viewport={"width": 320, "height": 640})
        try:
            page.goto(f"{site.base}/subscribe")
            assert page.evaluate("document.documentElement.scrollWidth") <= 320
            # a typo first: the form comes back with the error announced and the focus on it
            page.get_by_label("Email address").fill("reader@example")
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_selector("[role=alert]")
            assert page.evaluate("document.activeElement.id") == "email"
            assert page.get_by_label("Email address").input_value() == "reader@example"
            page.screenshot(path=str(SCREENSHOTS / "subscribe-error-320.png"), full_page=True)
            page.get_by_label("Email address").fill("reader@example.org")
            page.keyboard.press("Tab")  # focus order: the address, then the name
            assert page.evaluate("document.activeElement.id") == "name"
            page.keyboard.type("Rosalind Franklin")
            page.get_by_label("World").check()
            trap = page.get_by_label("Leave this empty").bounding_box()
            assert trap is None or trap["x"] + trap["width"] <= 0  # off the screen
            page.screenshot(path=str(SCREENSHOTS / "subscribe-320.png"), full_page=True)
            site.clock.advance(seconds=8)  # a person takes a few seconds
            page.get_by_role("button", name="Subscribe").click()
            page.wait_for_selector("text=Check your inbox")
            link = site.confirm_link("reader@example.org")
            page.goto(link)
            page.wait_for_selector("text=Confirm your subscription")
            assert site.rows() == {"reader@example.org": "pending"}  # opening changed nothing
            page.screenshot(path=str(SCREENSHOTS / "confirm-320.png"), full_page=True)
            site.clock.advance(seconds=3)
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_selector("text=You are subscribed")
        finally:
            page.close()
        (welcome,) = site.mails_to("reader@example.org", "welcome")
        assert "Rosalind Franklin" in welcome.message.get_body(("plain",)).get_content()
        for kind, mail in (("welcome", welcome),
                           ("confirm", site.mails_to("reader@example.org", "confirm")[0])):
            email_page = browser.new_page(viewport={"width": 320, "height": 640})
            try:  # the notice as a phone's mail app shows it: no sideways scrolling
                email_page.set_content(mail.message.get_body(("html",)).get_content())
                assert email_page.evaluate("document.documentElement.scrollWidth") <= 320
                email_page.screenshot(path=str(SCREENSHOTS / f"{kind}-email-320.png"),
                                      full_page=True)
            finally:
                email_page.close()
        assert site.rows() == {"reader@example.org": "active"}

    summary = pipeline.send(site.config, START, ENV)
    assert summary.count("sent") == 4  # the three listed readers and the new one
    edition = [a.message for a in smtp_server.arrived
               if a.rcpt_tos == ["reader@example.org"] and a.message["X-Digest-Edition"]]
    assert len(edition) == 1 and edition[0]["X-Digest-Edition"] == summary.edition
    with Store.open(site.config.database_path) as store:
        readers = {s.email: s for s in pipeline.subscribers(site.config, store)}
    assert readers["reader@example.org"].topics == ("World",)
