"""The run lock: one digest send, fetch or run at a time per state database."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import LockHeld


@contextmanager
def hold_lock(database: Path) -> Iterator[None]:
    """Hold the run lock beside the state database for as long as the block runs.

    An OS lock (flock) that the kernel releases when the process dies, so a crash never
    leaves a stale lock behind.

    Raises:
        LockHeld: another process holds it; the message names that process.
    """
    lock_path = database.with_name(database.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeld(
                f"another digest run (PID {holder}) holds {lock_path}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
