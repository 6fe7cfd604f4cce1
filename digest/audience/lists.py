"""Lists: the operator's subscriber CSV files, edited by `digest subscribers add/remove/import`.

In: a list file and subscribers (already validated by `subscribers.parse_subscriber`) or an
address. Out: the file with rows appended, or with an address's rows removed. Every other byte
of the file is kept as it was (bad rows included: they are the operator's to fix), and a
rewrite goes to a temporary file first and replaces the list in one rename, so a crash leaves
either the old list or the new one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from digest.audience.subscribers import COLUMNS, normalize_address
from digest.errors import SubscriberError
from digest.model import Subscriber


def header_of(path: Path) -> list[str]:
    """The list's columns (lower-cased), or the standard ones for a file not yet made.

    Raises:
        SubscriberError: the file exists but has no readable header with an `email` column.
    """
    if not path.exists():
        return list(COLUMNS)
    try:
        with path.open("rb") as f:
            first = f.readline().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SubscriberError(f"{path}: cannot read its header row ({e}); save the list as "
                              "UTF-8 CSV") from e
    header = [h.strip().lower() for h in next(csv.reader([first]), [])]
    if "email" not in header:
        raise SubscriberError(f"{path}:1: no 'email' column in the header row")
    return header


def append(path: Path, subscribers: Iterable[Subscriber]) -> int:
    """Add one row per subscriber at the end of the list, in the list's own columns.

    Returns:
        How many rows were written.
    Raises:
        SubscriberError: the file cannot be written, or a subscriber has topics or a
            frequency the list has no column for.
    """
    header = header_of(path)
    new_file = not path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = not new_file and path.stat().st_size > 0 and _last_byte(path) != b"\n"
        count = 0
        with path.open("a", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            if new_file:
                writer.writerow(header)
            elif needs_newline:
                f.write("\n")
            for s in subscribers:
                writer.writerow(_row(path, header, s))
                count += 1
    except OSError as e:
        raise SubscriberError(f"{path}: cannot write the list: {e.strerror}") from e
    return count


def remove(path: Path, email: str) -> list[int]:
    """Remove every row of `email` from the list.

    Returns:
        The line numbers removed (none: the file is left untouched).
    Raises:
        SubscriberError: the file cannot be read or replaced.
    """
    if not path.exists():
        return []
    header = header_of(path)
    column = header.index("email")
    removed: list[int] = []
    try:
        with path.open("rb") as source, tempfile.NamedTemporaryFile(
            "wb", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as target:
            for number, raw in enumerate(source, 1):
                if number > 1 and _address(raw, column) == email:
                    removed.append(number)
                    continue
                target.write(raw)
        if removed:
            os.replace(target.name, path)
        else:
            os.unlink(target.name)
    except OSError as e:
        raise SubscriberError(f"{path}: cannot rewrite the list: {e.strerror}") from e
    return removed


def _address(raw: bytes, column: int) -> str | None:
    """The normalized address of one physical line, or None when it has none."""
    try:
        cells = next(csv.reader(io.StringIO(raw.decode("utf-8"))), [])
        return normalize_address(cells[column]) if len(cells) > column else None
    except (UnicodeDecodeError, csv.Error, SubscriberError):
        return None


def _row(path: Path, header: list[str], s: Subscriber) -> list[str]:
    if s.topics and "topics" not in header:
        raise SubscriberError(f"{path}: the list has no 'topics' column for {s.email}'s topics")
    if s.frequency != "daily" and "frequency" not in header:
        raise SubscriberError(f"{path}: the list has no 'frequency' column for {s.email}")
    values = {"email": s.email, "name": s.name, "topics": ";".join(s.topics),
              "frequency": s.frequency}
    return [values.get(column, "") for column in header]


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)
