"""What the signup tests share: `digest serve` on a free port with a clock the test moves,
the config's SMTP pointed at a real aiosmtpd server, and helpers to read what arrived."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from conftest import Arrived, SmtpServer, set_config
from webserver import running_web

from digest.config import Config, load_config
from digest.sink.server import free_port
from digest.store import Store

KEY = b"a-test-secret-of-enough-length"
ENV = {"DIGEST_SECRET": KEY.decode()}
START = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)


class Clock:
    """The app's clock: moves only when the test says."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    base: str
    config: Config
    client: httpx.Client
    clock: Clock
    smtp: SmtpServer

    def rows(self) -> dict[str, str]:
        """Each database subscriber's status."""
        with Store.open(self.config.database_path) as store:
            return {r.email: r.status for r in store.subscriber_rows()}

    def stamp(self) -> str:
        """The stamp of a freshly served hosted form, then a person's few seconds."""
        page = self.client.get("/subscribe").text
        stamp = re.search(r'name="stamp" value="([^"]+)"', page)
        assert stamp, page
        self.clock.advance(seconds=5)
        return stamp[1]

    def subscribe(self, email: str, hosted: bool = True, **fields: object) -> httpx.Response:
        data: dict[str, object] = {"email": email, "frequency": "daily", **fields}
        if hosted:
            data["stamp"] = self.stamp()
        return self.client.post("/subscribe", data=data)

    def mails_to(self, email: str, kind: str, count: int = 1, wait: float = 10) -> list[Arrived]:
        """The notices of `kind` that reached `email`, waiting for `count` of them."""
        deadline = time.monotonic() + wait
        while True:
            found = [a for a in self.smtp.arrived if a.rcpt_tos == [email]
                     and a.message["X-Digest-Notice"] == kind]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def confirm_link(self, email: str) -> str:
        """The link of the one confirmation email that reached `email`."""
        (mail,) = self.mails_to(email, "confirm")
        return _link(mail)

    def confirm_link_at(self, email: str, index: int) -> str:
        """The link of one of several confirmation emails (-1: the latest)."""
        return _link(self.mails_to(email, "confirm", abs(index) if index < 0 else index + 1)
                     [index])

    def press_confirm(self, path: str, headers: dict[str, str] | None = None
                      ) -> httpx.Response:
        """Open the confirmation page, wait as a person would, press its button."""
        page = self.client.get(path).text
        stamp = re.search(r'name="stamp" value="([^"]+)"', page)
        assert stamp, page
        self.clock.advance(seconds=3)
        return self.client.post(path, data={"stamp": stamp[1]},
                                headers=headers or {"Origin": self.base})

    def settle(self) -> None:
        """Let the app's background mail tasks finish (they run after each answer)."""
        time.sleep(0.3)


@contextmanager
def signup_site(project: Path, smtp: SmtpServer,
                more: dict[str, str] | None = None) -> Iterator[Site]:
    port = free_port()
    set_config(project / "config.toml", {
        'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"',
        "port = 1025": f"port = {smtp.port}",
        **(more or {}),
    })
    config = load_config(project / "config.toml")
    clock = Clock()
    with running_web(config, KEY, port, clock) as base, \
            httpx.Client(base_url=base, timeout=10) as client:
        yield Site(base, config, client, clock, smtp)


def _link(mail: Arrived) -> str:
    text = mail.message.get_body(("plain",)).get_content()
    link = re.search(r"(http://\S+/confirm\?t=\S+)", text)
    assert link, text
    return link[1]
