"""`digest demo` as a user runs it: a subprocess in a copy of the repository."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_demo_delivers_one_message_per_sample_subscriber(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "digest", "demo", "--dir", "out"],
        cwd=project, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Delivered 3 messages to 3 subscribers" in result.stdout
    maildir = project / "out" / "maildir"
    assert str(maildir) in result.stdout
    messages = list(mailbox.Maildir(maildir, create=False))
    assert sorted(m["To"] for m in messages) == [
        "Ada Lovelace <ada@example.com>", "Alan Turing <alan@example.net>",
        "Grace Hopper <grace@example.org>",
    ]
    for m in messages:
        # The lead headline, not the newsletter's name (the From name says that).
        assert m["Subject"].startswith("Israel and Hamas agree to four-day truce")
        assert m["X-Digest-Edition"] == "daily-2023-11-22"
    preview = project / "out" / "preview.html"
    assert str(preview) in result.stdout
    assert "U.S. launches airstrikes on Iran-backed militants" in preview.read_text()
    # Nothing written outside the folder it names (and the state it keeps there).
    written = {p.name for p in project.iterdir()}
    assert written == {"config.toml", "samples", "subscribers", "out"}


def test_demo_twice_in_the_same_folder_sends_nothing_twice(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "digest", "demo", "--dir", "out"],
                                cwd=project, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert "Delivered 0 messages" in result.stdout
    assert len(list(mailbox.Maildir(project / "out" / "maildir", create=False))) == 3
