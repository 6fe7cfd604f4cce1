"""Copy a SQLite state database into PostgreSQL (`digest migrate --to URL`).

In: the SQLite file and an empty PostgreSQL database. Out: every row of every table, in one
transaction, so the copy is whole or absent. Both are first brought to this digest's schema
by the same migrations, so the tables match column for column, whichever module made them.
"""

from __future__ import annotations

from pathlib import Path

from digest.errors import StoreError
from digest.model import DatabaseUrl
from digest.store.backend import Database, connect, database_errors
from digest.store.schema import migrate

_BATCH = 1000


def copy_to_postgres(source: Path, target: DatabaseUrl) -> dict[str, int]:
    """Copy every row of the SQLite database at `source` into the empty database `target`.

    Returns:
        Rows copied, by table.
    Raises:
        StoreError: the file is missing, the target is not empty, or a row is refused.
    """
    if not source.is_file():
        raise StoreError(f"{source}: no such state database; check [state] database in the "
                         "config you pass with --config")
    src, dst = connect(source), connect(target, "digest migrate")
    copied: dict[str, int] = {}
    try:
        migrate(src)
        migrate(dst)
        tables = [r[0] for r in src.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        for table in tables:
            if dst.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
                raise StoreError(f"{target.url}: table {table} already has rows; migrate "
                                 "into a new, empty database (createdb) so nothing is mixed")
        with dst.transaction():
            for table in tables:
                columns = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
                names = ", ".join(f'"{c}"' for c in columns)
                insert = (f'INSERT INTO "{table}" ({names}) VALUES '
                          f"({', '.join('?' for _ in columns)})")
                cursor = src.execute(f'SELECT {names} FROM "{table}"')
                copied[table] = 0
                while rows := cursor.fetchmany(_BATCH):
                    try:
                        dst.executemany(insert, [tuple(r) for r in rows])
                    except database_errors() as e:
                        raise StoreError(f"{source}: table {table}: a row was refused by "
                                         f"PostgreSQL: {e}") from e
                    copied[table] += len(rows)
            _restart_identities(dst)
    except database_errors() as e:
        raise StoreError(f"copying {source} to {target.url} failed: {e}") from e
    finally:
        src.close()
        dst.close()
    return copied


def _restart_identities(db: Database) -> None:
    """Numbered keys continue after the copied rows (they were copied with their numbers)."""
    for table, column in db.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        db.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                   f'COALESCE((SELECT max("{column}") FROM "{table}"), 0) + 1, false)')
