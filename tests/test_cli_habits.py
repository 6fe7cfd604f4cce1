"""Command-line habits: quiet on a closed pipe, this run's counts first, a time of day for
--send-at, no blank preview, and a demo that says what it fetches."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SmtpServer, served_project

from digest import cli
from digest.cli.run import send_at_from
from digest.config import load_config
from digest.errors import InputError

SECRET = "a-test-secret-of-enough-length"


@pytest.mark.parametrize("command", [["subscribers", "list"], ["subscribers", "export"]])
def test_a_closed_pipe_ends_the_command_quietly(project: Path, command: list[str]) -> None:
    rows = "".join(f"reader{i}@example.com,Reader {i},,daily\n" for i in range(20000))
    (project / "subscribers" / "subscribers.csv").write_text(
        "email,name,topics,frequency\n" + rows)
    digest = subprocess.Popen(
        [sys.executable, "-m", "digest", *command, "--config", str(project / "config.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=digest.stdout, stdout=subprocess.PIPE)
    assert digest.stdout is not None and digest.stderr is not None
    digest.stdout.close()  # only head reads it now
    first, _ = head.communicate(timeout=60)
    err = digest.stderr.read().decode()
    assert digest.wait(timeout=60) == 0
    assert first.count(b"\n") == 1
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err


def test_the_send_summary_shows_this_runs_counts_first(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = served_project(project, feed_server, smtp_server)
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    send = ["send", "--config", str(config), "--now", "2023-11-22T23:00"]
    assert cli.main(send) == 0
    assert capsys.readouterr().out.startswith(
        "Edition daily-2023-11-22: 3 sent now; 3 sent in all for this edition.")
    with (project / "subscribers" / "subscribers.csv").open("a") as f:
        f.write("kim@example.com,Kim,,daily\n")
    assert cli.main(send) == 0
    assert capsys.readouterr().out.startswith(
        "Edition daily-2023-11-22: 1 sent now; 4 sent in all for this edition.")
    assert cli.main([*send, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "every reader of this edition has had it" in out and "messages built" not in out


def test_send_at_a_time_of_day_is_today_in_the_newsletters_zone(project: Path) -> None:
    config = load_config(project / "config.toml")  # America/New_York
    now = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # still the 2nd in New York
    assert send_at_from("10:52", config, now) == datetime(2026, 12, 2, 15, 52, tzinfo=UTC)
    assert send_at_from("7:05:30", config, now) == datetime(2026, 12, 2, 12, 5, 30,
                                                           tzinfo=UTC)
    assert send_at_from("now", config, now) == now
    for bad in ("25:00", "10:61", "tomorrow"):
        with pytest.raises(InputError, match="time of day such as 10:52"):
            send_at_from(bad, config, now)


def test_a_preview_with_no_story_says_so_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = project / "out"
    code = cli.main(["preview", "--config", str(project / "config.toml"), "--out", str(out),
                     "--now", "2030-01-02T09:00"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "nothing to send: 0 stories since 2029-12-31 21:00 EST" in printed
    assert not (out / "preview.html").exists() and not (out / "preview.eml").exists()


def test_the_demo_says_it_fetches_the_configs_feeds(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = served_project(project, feed_server, smtp_server)
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "config's feeds" in " ".join(capsys.readouterr().out.split())
    assert cli.main(["demo", "--config", str(config), "--dir", str(project / "demo")]) == 0
    err = capsys.readouterr().err
    assert "Fetching 3 feeds" in err and "3 over the network" in err
