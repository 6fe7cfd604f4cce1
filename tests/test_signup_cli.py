"""The operator's side of signups: `digest form`, `digest subscribers list/pending/import
--database`, and the signup counts of `digest status`, on the real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import SmtpServer, set_config

from digest import cli
from digest.config import load_config
from digest.sink.server import free_port
from digest.store import Store
from digest.store.signups import Signup

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)


def _run(project: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main([*argv, "--config", str(project / "config.toml")])
    out, err = capsys.readouterr()
    return code, out, err


def _signup(email: str, when: datetime, n: int = 0) -> Signup:
    return Signup(id=f"{email}-{n}", email=email, name="", topics=("World",), frequency="daily",
                  created=when, client="192.0.2.1", user_agent="test", page="hosted form",
                  consent="yes", outcome="mail")


def test_form_prints_a_plain_form_posting_to_subscribe(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(project, capsys, "form")
    assert code == 0 and out.startswith("<form")
    assert 'action="http://127.0.0.1:8080/subscribe"' in out and 'method="post"' in out
    assert 'name="website"' in out and 'tabindex="-1"' in out and "<script" not in out
    assert 'value="Politics"' in out and "unsubscribe at any time" in out
    assert 'name="stamp"' not in out  # a pasted form has no stamp
    code, out, _ = _run(project, capsys, "form", "--no-topics")
    assert 'name="topics"' not in out


def test_list_and_pending_show_status_and_source(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(project / "config.toml")
    with Store.open(config.database_path) as store:
        for email in ("waiting@example.com", "joined@example.com", "left@example.com"):
            assert store.admit_signup(_signup(email, NOW), 20, timedelta(minutes=10)) == "mail"
            store.signup_mailed(f"{email}-0", True, NOW)
        store.confirm_signup("joined@example.com-0", NOW, lift_suppression=False)
        store.confirm_signup("left@example.com-0", NOW, lift_suppression=False)
        store.suppress("left@example.com", "unsubscribed by its link", NOW)
    code, out, _ = _run(project, capsys, "subscribers", "list", "--json")
    rows = {r["email"]: (r["status"], r["source"]) for r in map(json.loads, out.splitlines())}
    assert rows == {"joined@example.com": ("active", "web"), "ada@example.com": ("active", "csv"),
                    "grace@example.org": ("active", "csv"), "alan@example.net": ("active", "csv"),
                    "waiting@example.com": ("pending", "web"),
                    "left@example.com": ("unsubscribed", "web")}
    code, out, _ = _run(project, capsys, "subscribers", "list")
    assert "joined@example.com\tactive\tweb\tdaily\tWorld" in out
    code, out, err = _run(project, capsys, "subscribers", "pending")
    assert code == 0 and out.startswith("waiting@example.com\t") and "1 pending" in err
    code, out, _ = _run(project, capsys, "subscribers", "pending", "--json")
    assert [json.loads(line)["email"] for line in out.splitlines()] == ["waiting@example.com"]


def test_import_into_the_database_skips_known_suppressed_and_bad_rows(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(project / "config.toml")
    with Store.open(config.database_path) as store:
        store.suppress("gone@example.com", "hard bounce", NOW)
    incoming = project / "incoming.csv"
    incoming.write_text("email,frequency\nfresh@example.com,weekly\nada@example.com,daily\n"
                        "gone@example.com,daily\nnope,daily\n")
    before = (project / "subscribers" / "subscribers.csv").read_text()
    code, out, _ = _run(project, capsys, "subscribers", "import", str(incoming), "--database")
    assert code == 1 and "1 added to the state database" in out and "1 suppressed" in out
    assert (project / "subscribers" / "subscribers.csv").read_text() == before
    with Store.open(config.database_path) as store:
        (row,) = store.subscriber_rows()
    assert (row.email, row.status, row.source, row.frequency) == (
        "fresh@example.com", "active", "csv", "weekly")


def test_status_counts_the_weeks_signups_confirmations_and_expiries(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(project / "config.toml")
    life = timedelta(hours=48)
    with Store.open(config.database_path) as store:
        for n, (email, ago) in enumerate([("a@example.com", 1), ("b@example.com", 3),
                                          ("c@example.com", 20)]):
            when = NOW - timedelta(days=ago)
            store.admit_signup(_signup(email, when, n), 20, timedelta(minutes=10))
            store.signup_mailed(f"{email}-{n}", True, when)
        store.confirm_signup("a@example.com-0", NOW - timedelta(hours=20), False)
        counts = store.signup_counts(NOW - timedelta(days=7), NOW, life)
    # b's link ran out 1 day ago; c's long before the week
    assert (counts.signups, counts.mailed, counts.confirmed, counts.expired) == (2, 2, 1, 1)
    code, out, _ = _run(project, capsys, "status", "--json")
    assert code == 0 and set(json.loads(out)["signups"]) == {
        "days", "signups", "mailed", "confirmed", "expired"}
    code, out, _ = _run(project, capsys, "status")
    assert "Signups (last 7 days):" in out


def test_digest_serve_mails_the_confirmation_of_a_pasted_form(
    project: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    set_config(project / "config.toml", {
        "port = 1025": f"port = {smtp_server.port}",
        'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"'})
    _, snippet, _ = _run(project, capsys, "form")
    assert f'action="http://127.0.0.1:{port}/subscribe"' in snippet
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--config", str(project / "config.toml"),
         "--port", str(port)],
        env={"PATH": "/usr/bin:/bin", "DIGEST_SECRET": "a-test-secret-of-enough-length"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                # what a browser sends from the publisher's page
                r = httpx.post(f"http://127.0.0.1:{port}/subscribe", timeout=5,
                               data={"email": "from-snippet@example.com", "website": "",
                                     "frequency": "weekly", "topics": "World"},
                               headers={"Origin": "https://publisher.example",
                                        "Sec-Fetch-Site": "cross-site"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200 and "Check your inbox" in r.text
        while not smtp_server.arrived and time.monotonic() < deadline:
            time.sleep(0.05)
        (mail,) = smtp_server.arrived
        assert mail.rcpt_tos == ["from-snippet@example.com"]
        assert mail.message["Subject"] == "Confirm your subscription to Political IQ Daily"
        assert f"http://127.0.0.1:{port}/confirm?t=c1." in mail.message.get_body(
            ("plain",)).get_content()
    finally:
        process.terminate()
        process.wait(10)


def test_what_nobody_confirmed_is_forgotten_and_consent_records_stay(tmp_path: Path) -> None:
    life, window = timedelta(hours=48), timedelta(minutes=10)
    with Store.open(tmp_path / "state.sqlite3") as store:
        store.admit_signup(_signup("stranger@example.com", NOW), 20, window, life)
        store.admit_signup(_signup("reader@example.com", NOW), 20, window, life)
        store.confirm_signup("reader@example.com-0", NOW, False)
        later = NOW + timedelta(hours=49)
        store.admit_signup(_signup("other@example.com", later), 20, window, life)
        assert {r.email for r in store.subscriber_rows()} == {
            "reader@example.com", "other@example.com"}
        assert store.signups_of("stranger@example.com") != []  # counted in digest status
        store.admit_signup(_signup("other@example.com", NOW + timedelta(days=31), 1), 20,
                           window, life)
        assert store.signups_of("stranger@example.com") == []
        assert len(store.signups_of("reader@example.com")) == 1
