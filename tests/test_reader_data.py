"""A reader downloads their data and deletes it, through `digest serve` on a real port, with
the token from their welcome email; a deleted address stays out of every send and import."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import SmtpServer
from signupkit import signup_site

from digest import cli, pipeline
from digest.model import Delivery
from digest.store import Store
from digest.store.subscribers import FORGOTTEN_PREFIX, address_hash


def test_download_then_delete_leaves_only_a_hash_that_keeps_lists_from_adding_it_back(
    project: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    email = "grace@example.org"  # also on the CSV list
    with signup_site(project, smtp_server) as site:
        site.subscribe(email, name="Grace", topics=["World"])
        path = site.confirm_link(email).removeprefix(site.base)
        site.press_confirm(path)
        (welcome,) = site.mails_to(email, "welcome")
        link = re.search(r"(http://\S+/preferences\?t=\S+)",
                         welcome.message.get_body(("plain",)).get_content())
        assert link
        token = link[1].split("t=", 1)[1]
        with Store.open(site.config.database_path) as store:
            store.record_deliveries([(Delivery("daily-2023-11-23", email, "sent",
                                               "250 2.0.0 Ok", "<m@x>"), None)], site.clock())
        prefs = site.client.get("/preferences", params={"t": token}).text
        assert "Download my data" in prefs and f"delete?t={token}" in prefs

        saved = {"topics": "Politics", "frequency": "weekly"}
        r = site.client.post("/preferences", params={"t": token}, data=saved,
                             headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        with Store.open(site.config.database_path) as store:
            assert store.preference(email) == (("World",), "daily")
        r = site.client.post("/preferences", params={"t": token}, data=saved,
                             headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200 and "Saved" in r.text
        assert site.client.get("/data", params={"t": token}).status_code == 405
        cross = site.client.post("/data", params={"t": token},
                                 headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        r = site.client.post("/data", params={"t": token}, headers={"Origin": site.base})
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        data = json.loads(r.text)
        assert data["address"] == email and data["subscription"]["status"] == "active"
        assert data["subscription"]["topics"] == ["World"] and data["lists"] == [
            "subscribers.csv"]
        (signup,) = data["signups"]
        assert signup["consent"] == site.config.signup.consent and signup["confirmed"]
        assert signup["client"] == "127.0.0.1" and signup["page"].startswith("hosted form")
        assert data["preferences"]["topics"] == ["Politics"]
        assert data["deliveries"][0]["edition_id"] == "daily-2023-11-23"

        for method in ("GET", "HEAD"):
            r = site.client.request(method, "/delete", params={"t": token})
            assert r.status_code == 200
        assert site.rows() == {email: "active"}  # looking changed nothing
        assert site.client.post("/delete", params={"t": token},
                                headers={"Origin": "https://evil.example"}).status_code == 403
        r = site.client.post("/delete", params={"t": token}, headers={"Origin": site.base})
        assert r.status_code == 200 and "Deleted" in r.text
        assert site.rows() == {}
        with Store.open(site.config.database_path) as store:
            held = store.data_of(email)
            assert held["subscription"] is None and held["signups"] == []
            assert held["deliveries"] == [] and held["preferences"] is None
            assert email not in {s.email for s in pipeline.subscribers(site.config, store)}
        with sqlite3.connect(site.config.database_path) as db:
            rows = db.execute("SELECT email, reply FROM deliveries").fetchall()
        assert rows == [(FORGOTTEN_PREFIX + address_hash(email), "")]
        # an import naming the address again does not bring it back
        incoming = project / "again.csv"
        incoming.write_text(f"email\n{email}\nnew@example.com\n")
        assert cli.main(["subscribers", "import", str(incoming), "--database",
                         "--config", str(site.config.path)]) == 0
        with Store.open(site.config.database_path) as store:
            emails = {s.email for s in pipeline.subscribers(site.config, store)}
        assert email not in emails and "new@example.com" in emails
        capsys.readouterr()
        assert cli.main(["subscribers", "add", email, "--config", str(site.config.path)]) == 1
        assert "deleted at its owner's request" in capsys.readouterr().err

        # signing up again is theirs to do, and needs a confirmation again
        site.clock.advance(minutes=20)
        site.subscribe(email)
        again = site.mails_to(email, "confirm", 2)
        assert len(again) == 2
        path = site.confirm_link_at(email, -1).removeprefix(site.base)
        site.press_confirm(path)
        with Store.open(site.config.database_path) as store:
            assert email in {s.email for s in pipeline.subscribers(site.config, store)}
