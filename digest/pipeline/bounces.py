"""Orchestrate what comes back: `bounces scan` and `bounces serve` wired to the config, the
environment's key and the state database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from digest.bounces.mailbox import ScanSummary, Spool, scan
from digest.bounces.process import Processor
from digest.bounces.server import BounceHandler, SpoolWorker, running_bounce_server
from digest.bounces.verp import verp_key
from digest.config import Config
from digest.errors import ConfigError
from digest.pipeline import token_key
from digest.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def bounce_key(config: Config, environ: Mapping[str, str]) -> bytes:
    """The VERP key, from the newsletter secret the config names.

    Raises:
        ConfigError: the secret is unset or too short.
    """
    return verp_key(token_key(config, environ))


def spool_path(config: Config) -> Path:
    """The Maildir `bounces serve` stores each message in before its 250: beside the state
    database, like the archive."""
    return config.state_folder / "bounces"


def scan_bounces(config: Config, path: Path, environ: Mapping[str, str], clock: Clock,
                 stop: threading.Event | None = None) -> ScanSummary:
    """Process every new message of a Maildir or mbox (`digest bounces scan PATH`).

    Raises:
        ConfigError: the newsletter secret is missing.
        InputError: `path` is not a Maildir or an mbox file.
        StoreError: the state database cannot be opened.
    """
    key = bounce_key(config, environ)
    with Store.open(config.database_path) as store:
        processor = Processor(store, key, config.bounces, clock)
        return scan(path, processor, stop, max_bytes=config.bounces.max_message_bytes)


def serve_bounces(config: Config, host: str, port: int, environ: Mapping[str, str],
                  clock: Clock, stop: threading.Event,
                  ready: Callable[[int], None] = lambda port: None,
                  retry_seconds: float = 30.0) -> None:
    """Run the bounce SMTP server until `stop` is set (`digest bounces serve`).

    Raises:
        ConfigError: [bounces] address or the newsletter secret is missing.
        InputError: the port cannot be bound.
    """
    if not config.bounces.address:
        raise ConfigError(f"{config.path}: [bounces] address is empty; set it (e.g. "
                          "\"bounces@news.example.com\") so that messages carry VERP senders "
                          "this server accepts")
    key = bounce_key(config, environ)
    spool_at = spool_path(config)
    try:
        spool = Spool(spool_at)
    except OSError as e:
        raise ConfigError(f"{config.path}: state.database: cannot keep the bounce spool at "
                          f"{spool_at} ({e}); give a folder digest can write to") from e

    def process(stopping: threading.Event) -> None:
        summary = scan_bounces(config, spool_at, environ, clock, stopping)
        if summary.messages:
            log.info("bounces: %s", ", ".join(f"{n} {k}" for k, n in summary.counts.items()))

    worker = SpoolWorker(process, stop, retry_seconds)
    handler = BounceHandler(config.bounces.address, key, spool, worker.wake)
    with running_bounce_server(handler, host, port, config.bounces.max_message_bytes):
        worker.start()
        ready(port)
        stop.wait()
    worker.join(timeout=30)
