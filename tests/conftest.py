"""Real parts for tests: an aiosmtpd server that records what arrives, a local HTTP server for
feeds, a copy of the sample project under tmp_path, and the real-world corpus (when present)."""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from browser import CHROMIUM_ARGS, chromium_path

from digest.sink.server import free_port

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "feeds"


def pytest_configure(config: pytest.Config) -> None:
    """Under libfaketime (the check that no test depends on today's date), its 0.9.10 fakes
    CLOCK_MONOTONIC but not sem_clockwait, so every timed wait of a thread (Event, Condition,
    queue) would wait for ever. Only the calendar is under test: run again with the monotonic
    clock real. Its clock_nanosleep then fails with EINVAL, so time.sleep waits on an event,
    here and in every Python the tests start (the sink, the CLI): subprocess.run(timeout=)
    sleeps while it waits for its child."""
    if "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return
    if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") != "1":
        os.environ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=True)  # hand the terminal back before exec
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    site = Path(tempfile.mkdtemp(prefix="digest-faketime-"))
    patch = site / "sitecustomize.py"  # Python imports it at start, from PYTHONPATH
    patch.write_text("import threading, time\n"
                     "time.sleep = lambda seconds: threading.Event().wait(seconds) and None\n")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    runpy.run_path(str(patch))  # and this process, already started


@dataclass
class Arrived:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class RecordingHandler:
    """Answers 250 to everything and keeps each message, parsed."""

    arrived: list[Arrived] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw))
        return "250 2.0.0 Ok: queued"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Any

    @property
    def arrived(self) -> list[Arrived]:
        return list(self.handler.arrived)


@contextmanager
def serving_smtp(handler: Any) -> Iterator[SmtpServer]:
    """A real aiosmtpd server with `handler` on a free loopback port, for the block."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real aiosmtpd server on a free loopback port that records every message."""
    with serving_smtp(RecordingHandler()) as server:
        yield server


def served_project(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer,
                   more: dict[str, str] | None = None) -> Path:
    """The sample project with its feeds served over HTTP and its SMTP port set to `smtp`'s;
    `more` are further config line replacements (see `set_config`). Returns the config path."""
    base, root = feed_server
    for feed in (project / "samples" / "feeds").iterdir():
        shutil.copy(feed, root / feed.name)
    config = project / "config.toml"
    set_config(config, {
        'url = "samples/feeds/': f'url = "{base}/',
        "port = 1025": f"port = {smtp.port}",
        **(more or {}),
    })
    return config


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over a folder; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the sample project (config, templates, feeds, subscribers) under tmp_path."""
    target = tmp_path / "project"
    target.mkdir()
    for name in ("samples", "subscribers"):
        shutil.copytree(REPO / name, target / name)
    shutil.copy(REPO / "config.toml", target / "config.toml")
    return target


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright Browser); skips when Chromium or Playwright is absent.

    Function-scoped: Playwright's sync API keeps an event loop running in the test's thread
    while it is open, which would break asyncio.run in later tests.
    """
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Under libfaketime the browser and its driver keep the real clock: Chromium's timers
    # stall on a faked one, and the page under test reads no date.
    preload = os.environ.pop("LD_PRELOAD", None)
    try:
        playwright = sync_api.sync_playwright().start()
    finally:
        if preload is not None:
            os.environ["LD_PRELOAD"] = preload
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              env={k: v for k, v in os.environ.items()
                                                   if k != "LD_PRELOAD"})
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def corpus() -> Path:
    """The real-world feed corpus beside the repository; skips the test when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    return CORPUS


def set_config(config: Path, replacements: dict[str, str]) -> None:
    """Rewrite lines of a config file: each key is an exact line, each value its replacement."""
    text = config.read_text()
    for old, new in replacements.items():
        assert old in text, f"{old!r} not in {config}"
        text = text.replace(old, new)
    config.write_text(text)


# A real PostgreSQL (once per session) and the store tests' backend parameter.
pytest_plugins = ["pg"]
