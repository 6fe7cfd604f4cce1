"""The state database's two backends behind one small connection API.

In: a SQLite file's path or a PostgreSQL URL. Out: a `Database` whose `execute` and
`executemany` take SQL written for SQLite (`?` placeholders, `INSERT OR IGNORE`) and give
cursors with `fetchone`, `fetchall`, iteration and `rowcount`, whose rows are read by column
name or by position, on both backends. Every store module writes its SQL once, against this
API; the few SQLite spellings PostgreSQL lacks are translated here, in one place, so a new
table needs no work of its own to run on PostgreSQL. psycopg never leaves this package.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from digest.errors import StoreError
from digest.model import DatabaseUrl

Kind = Literal["sqlite", "postgresql"]
Location = Path | DatabaseUrl


class Cursor(Protocol):
    """What a statement gives back (sqlite3's and psycopg's cursors both are one)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """One connection to the state database, in autocommit mode between transactions."""

    kind: Kind
    where: str  # the file or the URL (never with a password), for messages

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


class SqliteDatabase:
    """SQLite through the standard library, as digest always used it."""

    kind: Kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self.path = path
        # check_same_thread=False: delivery's SMTP workers record their answers through
        # this connection, one at a time under delivery's own lock.
        self.raw = sqlite3.connect(path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self.raw.row_factory = sqlite3.Row
        self.raw.execute("PRAGMA journal_mode=WAL")
        self.raw.execute("PRAGMA synchronous=NORMAL")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        return self.raw.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE: take the write lock at BEGIN, so two writers queue instead of one
        # failing with "database is locked" at its first write.
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


class Row:
    """A PostgreSQL row read like `sqlite3.Row`: by column name or by position."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values = values
        self._names = names

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


class PostgresDatabase:
    """PostgreSQL through psycopg 3, in autocommit mode like the SQLite connection."""

    kind: Kind = "postgresql"

    def __init__(self, url: DatabaseUrl, application: str = "digest") -> None:
        import psycopg  # imported here: a SQLite-only install never loads it

        self.where = url.url
        password = os.environ.get(url.password_env) or None
        try:
            self.raw = psycopg.connect(
                url.url, password=password, autocommit=True, row_factory=_row_factory,
                connect_timeout=10, application_name=application[:63],
            )
        except psycopg.Error as e:
            raise StoreError(
                f"{url.url}: cannot connect to the PostgreSQL state database: "
                f"{str(e).strip()}; check that the server is up, the URL, and the password in "
                f"${url.password_env}") from e

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.raw.execute(translate(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), rows)
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.raw.transaction():
            yield

    def close(self) -> None:
        self.raw.close()


def _row_factory(cursor: Any) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return functools.partial(Row, names=names)


def connect(location: Location, application: str = "digest") -> Database:
    """Open a connection to the state database at `location`.

    Args:
        location: a SQLite file, or a PostgreSQL URL with its password's variable.
        application: shown by PostgreSQL in pg_stat_activity (who holds what).
    Raises:
        StoreError: the file cannot be opened, or the server cannot be reached or refuses us.
    """
    if isinstance(location, DatabaseUrl):
        return PostgresDatabase(location, application)
    try:
        location.parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(location)
    except (OSError, sqlite3.Error) as e:
        raise StoreError(f"{location}: cannot open the state database: {e}") from e


def database_errors() -> tuple[type[BaseException], ...]:
    """The exceptions either backend raises for a failed statement (for `Store.open`)."""
    errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)
    try:
        import psycopg
    except ImportError:
        return errors
    return (*errors, psycopg.Error)


def describe(url: str) -> str:
    """A URL fit for a message or a log line: any password in it is masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def identity() -> str:
    """This process as other machines see it: host and PID."""
    return f"{socket.gethostname()}:{os.getpid()}"


_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's spelling of a statement in PostgreSQL's (through psycopg).

    `?` becomes `%s` and a literal `%` becomes `%%` (psycopg's placeholders), outside quoted
    strings for the `?`; `INSERT OR IGNORE INTO` becomes `INSERT INTO ... ON CONFLICT DO
    NOTHING`. Anything else must already be portable SQL (see docs/scaling.md).
    """
    if _IGNORE.match(sql):
        sql = _IGNORE.sub("INSERT INTO", sql, count=1).rstrip().rstrip(";")
        sql += " ON CONFLICT DO NOTHING"

    def mark(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "?":
            return "%s"
        return text.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(mark, sql)


_DDL = [
    # SQLite's REAL is 8 bytes; PostgreSQL's is 4 (a weight of 1.3 would come back 1.2999).
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    # SQLite numbers such a key itself (the rowid); PostgreSQL needs an identity column.
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
]


def translate_ddl(sql: str) -> str:
    """A migration step's SQLite column types in PostgreSQL's (the same schema on both)."""
    for pattern, replacement in _DDL:
        sql = pattern.sub(replacement, sql)
    return sql
