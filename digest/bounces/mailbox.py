"""Mailboxes: the durable spool `bounces serve` writes, and the scan of a Maildir or mbox.

In: a Maildir (new/, cur/, tmp/) or an mbox file, and a processor. Out: every message
processed once, and a `ScanSummary`. In a Maildir, a processed message moves to the
`processed` folder (Maildir++: `.processed/cur/`), one a person should read (unrecognised, for
an unknown delivery, with a forged token) to `.unrecognised/new/`, and one whose processing
failed (the database was unavailable) stays where it is, for the next scan. An mbox belongs
to the mail system and is only read: the database remembers which messages were processed.

`spool` writes like a Maildir delivery agent, durably: the bytes go to tmp/, are fsynced,
then renamed into new/, and the folder is fsynced; only then does `bounces serve` answer 250.
"""

from __future__ import annotations

import logging
import mailbox
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.bounces.process import Outcome, Processor
from digest.errors import InputError, StoreError

log = logging.getLogger(__name__)

PROCESSED, UNRECOGNISED = ".processed", ".unrecognised"


@dataclass
class ScanSummary:
    """What one scan did."""

    counts: Counter[str] = field(default_factory=Counter)  # outcome -> messages
    suppressed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # files left for a person
    failed: list[str] = field(default_factory=list)  # not processed: tried again next scan
    seconds: float = 0.0

    @property
    def messages(self) -> int:
        return sum(self.counts.values()) + len(self.failed)

    def add(self, name: str, outcome: Outcome) -> None:
        self.counts[outcome.outcome] += 1
        self.suppressed += outcome.suppressed
        if outcome.keep:
            self.kept.append(name)


class Spool:
    """A Maildir that received messages are written to, each durably before it counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._count = 0
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")

    def add(self, data: bytes) -> Path:
        """Write one message into new/; on disk (fsynced) when this returns.

        Raises:
            OSError: the disk refused (full, read-only): the message is not stored.
        """
        with self._lock:
            self._count += 1
            name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.{self._host}"
        tmp, new = self.path / "tmp" / name, self.path / "new" / name
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, new)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(new.parent)
        return new


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scan(path: Path, processor: Processor, stop: threading.Event | None = None,
         max_bytes: int | None = None) -> ScanSummary:
    """Process every message of a Maildir or an mbox file not processed before.

    Args:
        path: a Maildir folder (with new/ and cur/) or an mbox file.
        processor: what each message is handed to.
        stop: set to stop after the message in progress.
        max_bytes: a message file bigger than this is not read (kept, "unrecognised").
    Raises:
        InputError: `path` is neither a Maildir nor a readable mbox file.
    """
    started = time.monotonic()
    summary = ScanSummary()
    if path.is_dir():
        if not ((path / "new").is_dir() and (path / "cur").is_dir()):
            raise InputError(f"{path}: not a Maildir (no new/ and cur/ inside); give a "
                             "Maildir folder or an mbox file")
        _scan_maildir(path, processor, summary, stop, max_bytes)
    elif path.is_file():
        _scan_mbox(path, processor, summary, stop)
    else:
        raise InputError(f"{path}: no such Maildir or mbox file")
    summary.seconds = time.monotonic() - started
    return summary


def _maildir_files(path: Path) -> Iterator[Path]:
    for sub in ("new", "cur"):
        try:
            names = sorted(os.listdir(path / sub))
        except OSError as e:
            raise InputError(f"{path / sub}: cannot list it: {e}") from e
        for name in names:
            if not name.startswith("."):
                yield path / sub / name


def _scan_maildir(path: Path, processor: Processor, summary: ScanSummary,
                  stop: threading.Event | None, max_bytes: int | None) -> None:
    for file in _maildir_files(path):
        if stop is not None and stop.is_set():
            return
        try:
            size = file.stat().st_size
            if max_bytes is not None and size > max_bytes:  # not read into memory at all
                outcome = Outcome("unrecognised", f"{size:,} bytes: more than [bounces] "
                                  "max_message_bytes")
            else:
                outcome = processor.process(file.read_bytes())
        except FileNotFoundError:
            continue  # taken by another scan meanwhile
        except (StoreError, OSError) as e:
            log.error("%s: not processed, kept for the next scan: %s", file.name, e)
            summary.failed.append(str(file))
            continue
        folder = UNRECOGNISED if outcome.keep else PROCESSED
        try:
            _move(file, path / folder, seen=not outcome.keep)
        except OSError as e:  # processed, so the next scan finds it a duplicate and moves it
            log.error("%s: processed but not moved to %s: %s", file.name, path / folder, e)
            summary.suppressed += outcome.suppressed
            summary.failed.append(str(file))
            continue
        summary.add(file.name, outcome)
        if outcome.keep:
            log.warning("%s: %s: %s; kept in %s", file.name, outcome.outcome, outcome.detail,
                        path / folder)
        elif outcome.suppressed:
            log.info("%s: %s; suppressed %s", file.name, outcome.detail,
                     ", ".join(outcome.suppressed))


def _move(file: Path, folder: Path, seen: bool) -> None:
    """Into a Maildir++ folder: cur/ with the Seen flag, or new/ for a person to read."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = file.name.partition(":")[0]
    target = folder / "cur" / f"{name}:2,S" if seen else folder / "new" / name
    os.replace(file, target)


def _scan_mbox(path: Path, processor: Processor, summary: ScanSummary,
               stop: threading.Event | None) -> None:
    try:
        box = mailbox.mbox(path, create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as e:
        raise InputError(f"{path}: cannot read it as an mbox file: {e}") from e
    try:
        for key in keys:
            if stop is not None and stop.is_set():
                return
            raw = box.get_bytes(key)
            try:
                outcome = processor.process(raw)
            except StoreError as e:
                log.error("%s message %s: not processed: %s", path, key, e)
                summary.failed.append(f"{path}#{key}")
                continue
            summary.add(f"{path}#{key}", outcome)
    finally:
        box.close()
