"""Done when: after an edition where one address does not exist and one reader marks it as
spam, both are suppressed with their evidence by `digest bounces scan`, the next edition skips
them, and `digest status` shows the rates. Real SMTP server, real SQLite file, real samples."""

from __future__ import annotations

import json
import mailbox
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from bounces import Sent, next_day_feeds, retarget, send_with_verp
from conftest import SmtpServer, set_config
from test_end_to_end import ENV, NOW

from digest import cli, pipeline
from digest.bounces.mailbox import ScanSummary
from digest.config import load_config
from digest.errors import ConfigError
from digest.pipeline.bounces import scan_bounces
from digest.service import schedule
from digest.store import Store

SECRET = ENV["DIGEST_SECRET"]
ADA, GRACE, ALAN = "ada@example.com", "grace@example.org", "alan@example.net"


def _maildir(root: Path, messages: dict[str, bytes]) -> Path:
    box = mailbox.Maildir(root, create=True)
    for data in messages.values():
        box.add(data)
    return root


def _what_came_back(sent: Sent) -> dict[str, bytes]:
    forged = "bounces+" + "a" * 32 + "@news.example.com"
    return {
        # Postfix's DSN for an address that does not exist, to ada's VERP address
        "hard": retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net", ADA,
                         envelope=sent.envelope[ADA]),
        # Yahoo's feedback loop: grace pressed "spam"; the ARF names our envelope sender
        "complaint": retarget("sisimai-arf-02.eml", "this-local-part-does-not-exist-on-yahoo"
                              "@yahoo.com", GRACE, "shironeko@example.com", sent.envelope[GRACE]),
        # alan is away: an auto-reply, ignored
        "autoreply": retarget("sisimai-rfc3834-01.eml", "nonexistent", "nonexistent",
                              envelope=sent.envelope[ALAN]),
        "unrecognised": retarget("sisimai-is-not-bounce-01.eml", "nonexistent", "nonexistent"),
        # a DSN naming alan, to a token we never signed: nothing done
        "forged": retarget("sisimai-lhost-postfix-03.eml", "kijitora@example.net", ALAN,
                           envelope=forged),
    }


def _scan(config: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = cli.main(["bounces", "scan", str(path), "--config", str(config), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert isinstance(out, dict)
    return out


def test_a_hard_bounce_and_a_complaint_are_suppressed_and_the_next_edition_skips_them(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    sent = send_with_verp(project, feed_server, smtp_server)
    assert sorted(sent.envelope) == sorted([ADA, GRACE, ALAN])
    maildir = _maildir(tmp_path / "Maildir", _what_came_back(sent))

    summary = _scan(sent.config.path, maildir, capsys)

    assert summary["counts"] == {"hard": 1, "complaint": 1, "autoreply": 1,
                                 "unrecognised": 1, "forged": 1}
    assert sorted(summary["suppressed"]) == [ADA, GRACE]  # type: ignore[call-overload]
    with Store.open(sent.config.database_path) as store:
        hard, complaint = store.evidence(ADA), store.evidence(GRACE)
        assert store.evidence(ALAN) is None and store.suppression(ALAN) is None
        assert store.bounce_counts(sent.edition) == {"hard": 1, "complaint": 1}
        suppressed = store.suppressed()
    assert hard is not None and complaint is not None
    assert (hard.kind, hard.edition_id, hard.status) == ("hard", sent.edition, "5.0.0")
    assert "550 Unknown user ada@example.com" in hard.evidence
    assert (complaint.kind, complaint.edition_id) == ("complaint", sent.edition)
    assert "Feedback-Type: abuse" in complaint.evidence
    assert {ADA, GRACE} <= suppressed
    # processed ones moved aside; the two a person should read kept apart
    assert len(list((maildir / ".processed" / "cur").iterdir())) == 3
    assert len(list((maildir / ".unrecognised" / "new").iterdir())) == 2
    assert not list((maildir / "new").iterdir())

    # the same messages again (a second copy of the mailbox): nothing changes
    again = _maildir(tmp_path / "Again", _what_came_back(sent))
    repeat = _scan(sent.config.path, again, capsys)
    assert repeat["counts"] == {"duplicate": 5} and repeat["suppressed"] == []
    with Store.open(sent.config.database_path) as store:
        assert store.bounce_counts(sent.edition) == {"hard": 1, "complaint": 1}

    # the next edition goes to alan only
    next_day_feeds(feed_server)
    before = len(smtp_server.arrived)
    tomorrow = pipeline.send(sent.config, NOW + timedelta(days=1), ENV)
    assert tomorrow.edition != sent.edition and tomorrow.count("sent") == 1, tomorrow
    assert [a.rcpt_tos for a in smtp_server.arrived[before:]] == [[ALAN]]

    # status: the first edition's rates, each against its line, and a warning
    code = cli.main(["status", "--config", str(sent.config.path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    first = next(e for e in report["editions"] if e["id"] == sent.edition)
    assert first["bounces"]["hard"] == 1 and first["bounces"]["complaint"] == 1
    assert first["bounces"]["delivered"] == 3 and first["bounces"]["soft"] == 0
    assert first["bounces"]["hard_rate"] == pytest.approx(1 / 3)
    assert first["bounces"]["complaint_rate"] == pytest.approx(1 / 3)
    assert {w["line"] for w in first["bounces"]["warnings"]} == {
        "hard bounces 2%", "complaints 0.1% (Gmail's target)", "complaints 0.3% (Gmail's limit)"}
    cli.main(["status", "--config", str(sent.config.path)])
    text = capsys.readouterr().out
    assert "hard bounces 33.3%" in text and "complaints 33.3%" in text and "WARNING" in text


def test_restore_lifts_a_bounce_but_a_complaint_only_with_force(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    sent = send_with_verp(project, feed_server, smtp_server)
    came_back = _what_came_back(sent)
    maildir = _maildir(tmp_path / "Maildir", {k: came_back[k] for k in ("hard", "complaint")})
    _scan(sent.config.path, maildir, capsys)
    config = str(sent.config.path)

    assert cli.main(["subscribers", "restore", ADA, "--yes", "--config", config]) == 0
    assert cli.main(["subscribers", "restore", GRACE, "--yes", "--config", config]) == 2
    assert "complaint" in capsys.readouterr().err
    assert cli.main(["subscribers", "restore", GRACE, "--yes", "--force",
                     "--config", config]) == 0
    with Store.open(sent.config.database_path) as store:
        assert store.suppression(ADA) is None and store.suppression(GRACE) is None
        assert store.evidence(GRACE) is None


def test_an_mbox_is_read_in_place_and_each_message_processed_once(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    sent = send_with_verp(project, feed_server, smtp_server)
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for data in _what_came_back(sent).values():
        box.add(data)
    box.close()
    copy = path.read_bytes()

    first = _scan(sent.config.path, path, capsys)
    second = _scan(sent.config.path, path, capsys)

    assert first["counts"] == {"hard": 1, "complaint": 1, "autoreply": 1, "unrecognised": 1,
                               "forged": 1}
    assert second["counts"] == {"duplicate": 5}
    assert path.read_bytes() == copy  # the mail system's file is never written


def test_scan_refuses_what_is_not_a_mailbox(project: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    config = str(project / "config.toml")
    assert cli.main(["bounces", "scan", str(tmp_path / "missing"), "--config", config]) == 2
    (tmp_path / "plain").mkdir()
    assert cli.main(["bounces", "scan", str(tmp_path / "plain"), "--config", config]) == 2
    assert "not a Maildir" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "plain")


def test_digest_run_scans_the_maildir_on_the_bounces_cron(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
) -> None:
    sent = send_with_verp(project, feed_server, smtp_server, 'maildir = "bounce-mail"\n')
    set_config(sent.config.path, {'fetch = "*/30 * * * *"':
                                  'fetch = "*/30 * * * *"\nbounces = "*/10 * * * *"'})
    config = load_config(sent.config.path)
    _maildir(project / "bounce-mail", {"hard": _what_came_back(sent)["hard"]})
    (job,) = [j for j in schedule.plan(config) if j.kind == "bounces"]
    assert job.expression == "*/10 * * * *"

    schedule.Jobs(config, ENV, lambda: NOW, threading.Event()).run(job)

    with Store.open(config.database_path) as store:
        assert store.evidence(ADA) is not None


def test_a_bounces_cron_without_a_maildir_is_a_config_error(project: Path) -> None:
    set_config(project / "config.toml", {'fetch = "*/30 * * * *"':
                                         'fetch = "*/30 * * * *"\nbounces = "0 * * * *"'})
    with pytest.raises(ConfigError, match="bounces.maildir"):
        load_config(project / "config.toml")


def test_soft_bounces_suppress_after_three_editions_in_a_row_not_three_copies(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer, tmp_path: Path,
) -> None:
    sent = send_with_verp(project, feed_server, smtp_server)
    full = "sisimai-lhost-exchange2007-02.eml"  # Exchange: 550 5.2.2 mailbox full
    envelopes = [sent.envelope[ADA]]
    for days in (1, 2):
        next_day_feeds(feed_server, days)
        before = len(smtp_server.arrived)
        later = pipeline.send(sent.config, NOW + timedelta(days=days), ENV)
        assert later.count("sent") == 3, later
        envelopes += [a.mail_from for a in smtp_server.arrived[before:] if a.rcpt_tos == [ADA]]
    assert len(set(envelopes)) == 3  # three editions, three tokens

    def scan_one(verp: str, name: str) -> dict[str, int]:
        box = mailbox.Maildir(tmp_path / name, create=True)
        box.add(f"X-Copy: {name}\n".encode()  # other bytes, the same Message-ID
                + retarget(full, "kijitora@example.edu", ADA, envelope=verp))
        summary = pipeline_scan(sent, tmp_path / name)
        return dict(summary.counts)

    # the first edition's bounce, three times (three copies, other bytes): counted once
    for copy in ("a", "b", "c"):
        assert scan_one(envelopes[0], f"first-{copy}") == {"soft": 1}
    with Store.open(sent.config.database_path) as store:
        assert store.suppression(ADA) is None
        assert len(store.history(ADA).events) == 1  # one bounce, by Message-ID and token
    assert scan_one(envelopes[1], "second") == {"soft": 1}
    with Store.open(sent.config.database_path) as store:
        assert store.suppression(ADA) is None
    assert scan_one(envelopes[2], "third") == {"soft": 1}
    with Store.open(sent.config.database_path) as store:
        evidence = store.evidence(ADA)
    assert evidence is not None and evidence.kind == "soft" and evidence.status == "5.2.2"
    assert "3 editions in a row" in evidence.evidence


def pipeline_scan(sent: Sent, path: Path) -> ScanSummary:
    return scan_bounces(sent.config, path, ENV, lambda: NOW + timedelta(days=3))
