"""A week of editions replayed through `digest run`'s jobs on a test clock, against a real
SMTP server that answers 451 to one reader for the first two days: every reader gets exactly
their variant of every edition, once; the deferred reader gets every edition too; a reader
whose topics have no story gets nothing; a reader who joins mid-week gets the editions made
after they joined; the weekly reader gets the weekly once."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from conftest import RecordingHandler, served_project, serving_smtp

from digest.config import load_config
from digest.service import schedule
from digest.store import Store

ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 11, 30, tzinfo=NEW_YORK)
FEEDS = {"political-iq-featured.xml": "Featured", "world-wire.xml": "World",
         "capitol-ledger.xml": "Politics"}
SYLLABLES = ["ka", "lo", "mi", "ru", "te", "va", "zo", "bi", "ne", "pu", "sa", "do", "fe",
             "gu", "ho", "ji", "ly", "qa", "wo", "xe"]


class DeferringHandler(RecordingHandler):
    """Records what arrives; answers 451 to one address while the replay's clock is early."""

    def __init__(self, address: str, until: datetime, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.address, self.until, self.clock = address, until, clock
        self.refused = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address == self.address and self.clock() < self.until:
            self.refused += 1
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


def _word(n: int) -> str:
    """A made-up word, distinct for each n: headlines that share no word never cluster."""
    return "".join(SYLLABLES[(n // 20 ** k) % 20] for k in range(3)).capitalize()


def _write_feeds(root: Path, day: int, at: datetime) -> dict[str, str]:
    """Three new stories a feed for `day`, published the hour before `at`. Returns each
    story's URL → its section."""
    sections = {}
    for f, (name, section) in enumerate(FEEDS.items()):
        items = []
        for i in range(3):
            url = f"https://{section.lower()}.example.org/day{day}/{i}"
            n = (day * 3 + f) * 3 + i
            title = " ".join(_word(n * 5 + k) for k in range(5))
            items.append(f"<item><title>{escape(title)}</title><link>{url}</link>"
                         f"<guid>{url}</guid><pubDate>"
                         f"{format_datetime(at - timedelta(minutes=60 - 10 * i))}</pubDate>"
                         f"<description>{escape(title)}.</description></item>")
            sections[url] = section
        path = root / name
        path.write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                        f"<title>{section}</title><link>https://{section.lower()}.example.org/"
                        f"</link><description>d</description>{''.join(items)}</channel></rss>")
        # The file's date is the replay's, so the server's Last-Modified moves with the clock.
        os.utime(path, (at.timestamp(), at.timestamp()))
    return sections


def test_a_week_of_editions_through_the_run_jobs(
    project: Path, feed_server: tuple[str, Path]
) -> None:
    now = [MONDAY]
    handler = DeferringHandler("dora@example.com", MONDAY + timedelta(days=2), lambda: now[0])
    with serving_smtp(handler) as smtp:
        config_path = served_project(project, feed_server, smtp, {
            'fetch = "*/30 * * * *"': 'fetch = "30 6 * * *"\nretry = "0 * * * *"',
            "retry_backoff_seconds = [60, 300, 900]": "retry_backoff_seconds = []",
        })
        base, root = feed_server
        (root / "tech.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Tech</title>'
            "<link>https://tech.example.org/</link><description>x</description></channel></rss>")
        with config_path.open("a") as f:
            f.write(f'\n[[feeds]]\nurl = "{base}/tech.xml"\nname = "Tech"\nsection = "Tech"\n')
        readers = project / "subscribers" / "subscribers.csv"
        readers.write_text("email,name,topics,frequency\n"
                           "ada@example.com,Ada,,daily\n"
                           "grace@example.org,Grace,World;Politics,daily\n"
                           "hans@example.de,Hans,Tech,daily\n"
                           "dora@example.com,Dora,,daily\n"
                           "wendy@example.com,Wendy,World,weekly\n")
        config = load_config(config_path)
        jobs = schedule.Jobs(config, ENV, lambda: now[0], threading.Event())
        planned = schedule.plan(config)
        assert [j.id for j in planned] == ["fetch", "send-daily", "retry"]

        # Every time a job fires in the week, in order (at one time: in the plan's order).
        end = MONDAY + timedelta(days=7)
        events: list[tuple[datetime, int, schedule.Job]] = []
        for order, job in enumerate(planned):
            at = schedule.next_run(job, MONDAY - timedelta(seconds=1))
            while at is not None and at < end:
                events.append((at, order, job))
                at = schedule.next_run(job, at)
        events.sort(key=lambda e: (e[0], e[1]))
        section_of: dict[str, str] = {}
        written: set[int] = set()
        joined = MONDAY + timedelta(days=2, hours=12)  # Wednesday noon
        for at, _, job in events:
            now[0] = at
            day = (at.astimezone(NEW_YORK).date() - MONDAY.date()).days
            if at.astimezone(NEW_YORK).hour >= 6 and day not in written:
                section_of.update(_write_feeds(root, day, at))
                written.add(day)
            if at >= joined and "joe@" not in readers.read_text():
                with readers.open("a") as f:
                    f.write("joe@example.com,Joe,World,daily\n")
            jobs.run(job)

    dailies = [f"daily-2026-{d:%m-%d}" for d in (MONDAY + timedelta(days=i) for i in range(7))]
    got: Counter[tuple[str, str]] = Counter()
    for arrived in smtp.arrived:
        (rcpt,) = arrived.rcpt_tos
        edition = arrived.message["X-Digest-Edition"]
        got[rcpt, edition] += 1
        text = arrived.message.get_body(("plain",)).get_content()
        shown = {section_of[u] for u in section_of if u in text}
        wanted = {"grace@example.org": {"World", "Politics"}, "wendy@example.com": {"World"},
                  "joe@example.com": {"World"}}.get(rcpt, {"Featured", "World", "Politics"})
        assert shown and shown <= wanted, (rcpt, edition, shown)
        if rcpt in ("ada@example.com", "dora@example.com"):
            assert shown == wanted  # the whole edition
    expected = Counter(
        {**{("ada@example.com", e): 1 for e in dailies},
         **{("grace@example.org", e): 1 for e in dailies},
         **{("dora@example.com", e): 1 for e in dailies},
         **{("joe@example.com", e): 1 for e in dailies[3:]},
         ("wendy@example.com", "weekly-2026-W49"): 1})
    assert got == expected
    assert handler.refused >= 2  # the first two days' editions were deferred, then sent
    with Store.open(config.database_path) as store:
        for edition in dailies:
            statuses = store.delivery_status(edition)
            assert set(statuses.values()) == {"sent"}, (edition, statuses)
            assert "hans@example.de" not in statuses
        assert store.suppressed() == set()
        for edition in dailies[:2]:  # deferred at first, then sent by a later run
            (dora,) = [d for d in store.deliveries(edition) if d.email == "dora@example.com"]
            assert dora.status == "sent" and dora.attempts > 2
