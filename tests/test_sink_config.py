"""`digest sink` listens where the config sends (its `smtp.port`, when `smtp.host` is this
machine) and keeps each message with LF line endings, as a Maildir delivered by Postfix or
Dovecot does: mutt, run in tmux here, shows no "^M"."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import set_config

from digest import cli
from digest.sink.server import free_port

SECRET = "a-test-secret-of-enough-length"


def _mutt_screen(maildir: Path, home: Path) -> str:
    """What mutt shows with the first message of `maildir` open, read from a tmux pane."""
    session = f"digest-test-{os.getpid()}"
    (home / "Mail").mkdir(parents=True, exist_ok=True)  # else mutt asks to create it
    env = {**os.environ, "HOME": str(home), "TERM": "xterm"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
                    f"mutt -n -F /dev/null -R -f {maildir}"], env=env, check=True)
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while "Subject:" not in screen and time.monotonic() < deadline:
            if "1 N" in screen or "1 O" in screen:  # the index is drawn: open the message
                subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            time.sleep(0.3)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True, env=env).stdout
        return screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], env=env, check=False)


def test_the_sink_listens_on_the_configs_port_and_stores_lf(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    config = project / "config.toml"
    set_config(config, {"port = 1025": f"port = {port}"})
    maildir = tmp_path / "maildir"
    sink = subprocess.Popen(
        [sys.executable, "-m", "digest", "sink", "--config", str(config), "--maildir",
         str(maildir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        first = sink.stdout.readline()
        assert f"SMTP sink on 127.0.0.1:{port}," in first, (first, sink.stderr.read()
                                                           if sink.poll() is not None else "")
        monkeypatch.setenv("DIGEST_SECRET", SECRET)
        assert cli.main(["send", "--config", str(config), "--to", "editor@example.com",
                         "--now", "2023-11-22T23:00"]) == 0
        deadline = time.monotonic() + 10
        while not list((maildir / "new").glob("*")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sink.send_signal(signal.SIGINT)
        sink.communicate(timeout=10)
    (stored,) = (maildir / "new").iterdir()
    raw = stored.read_bytes()
    assert b"\r" not in raw
    head = raw.split(b"\n\n", 1)[0].decode()
    assert "\nSubject: " in head and "X-Sink-Envelope-To: editor@example.com" in head

    if not (shutil.which("mutt") and shutil.which("tmux")):
        pytest.skip("mutt and tmux are not installed (.ci/run installs them)")
    screen = _mutt_screen(maildir, tmp_path / "home")
    assert "Subject:" in screen and "^M" not in screen, screen
