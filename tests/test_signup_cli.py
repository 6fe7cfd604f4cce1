"""The operator's side of signups: `digest form`, `digest subscribers list/pending/import
--database`, and the signup counts of `digest status`, on the real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import cli
from digest.config import load_config
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
