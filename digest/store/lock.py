"""The run locks: OS file locks beside a SQLite state database, or PostgreSQL advisory locks
on a shared one; a crash releases either.

Two locks, two files:

- the **jobs** lock (`digest.sqlite3.lock`): held while a fetch or send runs, by `digest send`,
  `digest fetch`, `digest preview` and by each job of `digest run`, so two never overlap;
- the **scheduler** lock (`digest.sqlite3.scheduler.lock`): held by `digest run` for its whole
  life, so a second `digest run` on the same database exits 3 at once.

`digest run` takes the jobs lock per job, not for its life, so a cron `digest send` or a
hand-run `digest fetch` still works while the scheduler is idle; while a job runs they exit 3.
Each lock file holds the holder's PID (and what it is doing) for the message. On PostgreSQL
the lock is a session advisory lock on a connection of its own, named (host, PID, doing) in
`application_name`, so the holder is found in pg_stat_activity; the server releases it when
that connection closes: when the holder exits, dies, or its machine goes away.
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
from digest.model import DatabaseUrl
from digest.store.backend import Database, Location, connect, identity

LockKind = Literal["jobs", "scheduler"]
# Advisory lock keys: any numbers, the same in every digest, apart from the migration's.
_KEYS: dict[str, int] = {"jobs": 7_412_002, "scheduler": 7_412_003}
_APP = "digest lock "


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
def hold_lock(database: Location, doing: str = "", kind: LockKind = "jobs") -> Iterator[None]:
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
    if isinstance(database, DatabaseUrl):
        with _advisory(database, doing, kind, wait=False):
            yield
        return
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


def lock_holder(database: Location, kind: LockKind = "jobs") -> Holder | None:
    """Who holds the lock now, or None when it is free (for `digest status`).

    Probes with a non-blocking lock taken and released at once, so a process that starts at
    that very instant could find the lock held; it is never held for longer than the probe.
    """
    if isinstance(database, DatabaseUrl):
        db = connect(database, "digest status")
        try:
            return _advisory_holder(db, _KEYS[kind])
        finally:
            db.close()
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


@contextmanager
def _advisory(database: DatabaseUrl, doing: str, kind: LockKind,
              wait: bool) -> Iterator[None]:
    db = connect(database, f"{_APP}{identity()} {doing}".strip())
    try:
        # A holder whose machine vanishes sends no FIN: the server notices by keepalives
        # (about 25 s, not the OS's 2 hours) and frees the lock for another to take over.
        for setting, value in (("idle", 10), ("interval", 5), ("count", 3)):
            db.execute(f"SET tcp_keepalives_{setting} = {value}")
        key = _KEYS[kind]
        if wait:
            db.execute("SELECT pg_advisory_lock(?)", (key,))
        elif not db.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
            holder = _advisory_holder(db, key)
            what = "`digest run`" if kind == "scheduler" else "digest process"
            who = holder.describe() if holder else "a process that just left"
            raise LockHeld(f"another {what} ({who}) holds the {kind} lock of "
                           f"{database.url}; wait for it to finish")
        yield
    finally:
        db.close()  # closing the session releases its advisory locks


@contextmanager
def wait_for_lock(database: DatabaseUrl, doing: str, kind: LockKind) -> Iterator[None]:
    """Hold a PostgreSQL lock of `kind`, waiting for it as long as another holds it (the
    schedulers of several `digest run` that take over from each other)."""
    with _advisory(database, doing, kind, wait=True):
        yield


def _advisory_holder(db: Database, key: int) -> Holder | None:
    row = db.execute(
        "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.granted AND l.objid = ? AND l.classid = 0", (key,),
    ).fetchone()
    if row is None:
        return None
    name = str(row[1])
    # application_name is "digest lock HOST:PID doing": the holder's own PID on its machine.
    host, _, rest = name.removeprefix(_APP).partition(":")
    pid, _, doing = rest.partition(" ")
    return Holder(int(pid) if pid.isdigit() else None,
                  f"on {host}, {doing}".rstrip(", ") if name.startswith(_APP) else name)
