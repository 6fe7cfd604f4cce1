"""Inbox quality: a real edition (the corpus's 2023-11-24 NYT, NPR and Japan Times feeds), sent
through a real SMTP server, scores under 1.0 with SpamAssassin's local rules.

Skips where `spamassassin` is not installed (Debian package `spamassassin`; .ci/run installs
it). Network tests are off (-L), so the score is the content's alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, SmtpServer
from editions import sample_edition

from digest import pipeline
from digest.config import load_config
from digest.deliver.message import Sender, build_message
from digest.model import Subscriber
from digest.render.budget import render_within_budget

NOW = datetime(2023, 11, 24, 20, 0, tzinfo=UTC)
FEEDS = [
    ("nytimes-topstories-rss2.xml", "The New York Times", "Top stories"),
    ("npr-news-rss2.xml", "NPR", "Top stories"),
    ("japantimes-latest-rss2.xml", "The Japan Times", "Asia"),
]
LIMIT = 1.0


def corpus_project(tmp_path: Path, corpus: Path, smtp_port: int) -> Path:
    """A project whose feeds are the corpus's 2023-11-24 files, read from disk."""
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    (tmp_path / "subscribers").mkdir()
    (tmp_path / "subscribers" / "subscribers.csv").write_text(
        "email,name\nada.lovelace@example.com,Ada Lovelace\n")
    feeds = "".join(
        f'\n[[feeds]]\nurl = "{corpus / name}"\nname = "{title}"\nsection = "{section}"\n'
        for name, title, section in FEEDS
    )
    config = tmp_path / "config.toml"
    config.write_text(f"""
[newsletter]
name = "Morning Brief"
from = "Morning Brief <news@morningbrief.example.com>"
base_url = "https://morningbrief.example.com"

[schedule]
timezone = "America/New_York"

[smtp]
host = "127.0.0.1"
port = {smtp_port}

[ranking]
max_stories = 20
max_per_section = 10
{feeds}""")
    return config


def spam_score(raw: bytes, home: Path) -> tuple[float, str]:
    """SpamAssassin's score of one message with local tests only, and its report."""
    spamassassin = shutil.which("spamassassin")
    assert spamassassin
    result = subprocess.run(
        [spamassassin, "-L", "-t"], input=raw, capture_output=True, timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, check=True,
    )
    report = result.stdout.decode("utf-8", "replace")
    found = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
    assert found, report[-2000:]
    return float(found.group(1)), report[report.index("Content analysis details"):]


@pytest.mark.skipif(shutil.which("spamassassin") is None,
                    reason="spamassassin is not installed (apt-get install spamassassin)")
def test_real_edition_scores_under_one(
    tmp_path: Path, corpus: Path, smtp_server: SmtpServer
) -> None:
    config = load_config(corpus_project(tmp_path, corpus, smtp_server.port))
    summary = pipeline.send(config, NOW, {"DIGEST_SECRET": "spamassassin-test-secret-key"})
    assert summary.count("sent") == 1, summary
    (arrived,) = smtp_server.arrived
    text = arrived.message.get_body(("plain",)).get_content()
    assert len(re.findall(r"^https://", text, re.M)) >= 10

    score, report = spam_score(arrived.raw, tmp_path)
    assert score < LIMIT, report


@pytest.mark.skipif(shutil.which("spamassassin") is None,
                    reason="spamassassin is not installed (apt-get install spamassassin)")
def test_edition_with_clusters_and_pictures_scores_under_one(tmp_path: Path) -> None:
    """Multi-source clusters, thumbnails, RTL text: the parts the corpus edition may lack."""
    fitted = render_within_budget(sample_edition(), REPO / "templates", ZoneInfo("UTC"),
                                  "0123456789abcdef", {"base_url": "https://brief.example.com"})
    sender = Sender("Morning Brief", "Morning Brief <news@brief.example.com>",
                    "https://brief.example.com", b"spamassassin-test-secret-key")
    message = build_message(fitted.rendered, Subscriber("ada@example.com", "Ada Lovelace"),
                            sender, NOW)
    score, report = spam_score(bytes(message), tmp_path)
    assert score < LIMIT, report
