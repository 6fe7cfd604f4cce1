"""Helpers for the bounce tests: a project that sends with VERP to a recording SMTP server,
and real-world bounce samples re-addressed to one of its deliveries."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO, SmtpServer, served_project
from test_end_to_end import ENV, NOW

from digest import pipeline
from digest.config import Config, load_config

SAMPLES = REPO / "tests" / "data" / "bounces"
BOUNCES = "bounces@news.example.com"


@dataclass(frozen=True)
class Sent:
    """An edition sent with VERP: each subscriber's envelope sender as the server saw it."""

    config: Config
    edition: str
    envelope: dict[str, str]  # subscriber address -> MAIL FROM


def send_with_verp(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer,
                   extra: str = "") -> Sent:
    path = served_project(project, feed_server, smtp)
    with path.open("a") as f:
        f.write(f'\n[bounces]\naddress = "{BOUNCES}"\n{extra}')
    config = load_config(path)
    summary = pipeline.send(config, NOW, ENV)
    assert summary.count("sent") == len(smtp.arrived) > 0
    return Sent(config, summary.edition, {a.rcpt_tos[0]: a.mail_from for a in smtp.arrived})


def retarget(sample: str, recipient: str, email: str, old_sender: str = "",
             verp: str = "", envelope: str = "") -> bytes:
    """A real sample, its original recipient replaced by `email` and its original sender by
    `verp`; with `envelope`, a Delivered-To line on top as a delivery agent writes it."""
    raw = (SAMPLES / sample).read_bytes()
    raw = raw.replace(recipient.encode(), email.encode())
    if old_sender:
        raw = raw.replace(old_sender.encode(), verp.encode())
    if envelope:
        raw = f"Delivered-To: {envelope}\n".encode() + raw
    return raw


def next_day_feeds(feed_server: tuple[str, Path], days: int = 1) -> None:
    """Serve the sample feeds `days` later, as new stories, for a later edition."""
    root = feed_server[1]
    for sample in (REPO / "samples" / "feeds").glob("*.xml"):
        text = re.sub(r"\b(\d\d) Nov 2023",
                      lambda m: f"{int(m.group(1)) + days} Nov 2023", sample.read_text())
        text = text.replace("</guid>", f"-{days}</guid>").replace("</link>", f"?{days}</link>")
        served = root / sample.name
        before = served.stat().st_mtime if served.exists() else 0.0
        served.write_text(text)
        # a later Last-Modified than the file had: two rewrites within a second would
        # otherwise look unchanged to the fetch's conditional request
        stamp = max(served.stat().st_mtime, before + 10)
        os.utime(served, (stamp, stamp))
