"""The run locks: OS file locks beside the state database that a crash releases.

Two locks, two files:

- the **jobs** lock (`digest.sqlite3.lock`): held while a fetch or send runs, by `digest send`,
  `digest fetch`, `digest preview` and by each job of `digest run`, so two never overlap;
- the **scheduler** lock (`digest.sqlite3.scheduler.lock`): held by `digest run` for its whole
  life, so a second `digest run` on the same database exits 3 at once.

`digest run` takes the jobs lock per job, not for its life, so a cron `digest send` or a
hand-run `digest fetch` still works while the scheduler is idle; while a job runs they exit 3.
Each lock file holds the holder's PID (and what it is doing) for the message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from digest.errors import LockHeld

LockKind = Literal["jobs", "scheduler"]


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: a PID, and what it said it was doing."""

    pid: int | None
    doing: str = ""

    def describe(self) -> str:
        pid = f"PID {self.pid}" if self.pid else "PID unknown"
        return f"{pid}, {self.doing}" if self.doing else pid


def lock_path(database: Path, kind: LockKind = "jobs") -> Path:
    """The lock file of `kind` for the state database at `database`."""
    suffix = ".lock" if kind == "jobs" else ".scheduler.lock"
    return database.with_name(database.name + suffix)


@contextmanager
def hold_lock(database: Path, doing: str = "", kind: LockKind = "jobs") -> Iterator[None]:
    """Hold a lock beside the state database for as long as the block runs.

    An OS lock (flock) that the kernel releases when the process dies, so a crash never
    leaves a stale lock behind.

    Args:
        database: the state database the lock guards.
        doing: what the holder does (`digest send`), shown to whoever finds the lock held.
        kind: "jobs" (fetch and send) or "scheduler" (one `digest run`).
    Raises:
        LockHeld: another process holds it; the message names that process's PID.
    """
    path = lock_path(database, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            what = "`digest run`" if kind == "scheduler" else "digest process"
            raise LockHeld(
                f"another {what} ({holder.describe()}) holds {path}; wait for it to finish "
                f"(see it with: ps -p {holder.pid or '?'})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {doing}".strip().encode() + b"\n", 0)
        yield
    finally:
        os.close(fd)


def lock_holder(database: Path, kind: LockKind = "jobs") -> Holder | None:
    """Who holds the lock now, or None when it is free (for `digest status`).

    Probes with a non-blocking lock taken and released at once, so a process that starts at
    that very instant could find the lock held; it is never held for longer than the probe.
    """
    path = lock_path(database, kind)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> Holder:
    # The holder writes its PID just after taking the lock: a reader arriving in between sees
    # an empty file (or the previous holder's PID), so look again briefly.
    holder = Holder(None)
    for _ in range(5):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        pid, _, doing = text.partition(" ")
        holder = Holder(int(pid) if pid.isdigit() else None, doing)
        if holder.pid is not None and _alive(holder.pid):
            return holder
        time.sleep(0.02)
    return holder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
