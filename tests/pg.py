"""A real PostgreSQL server for tests: Debian's package, a throwaway cluster in a temporary
folder, run as a non-root user on a free loopback port, started once per test session.

`postgres_server` skips (with the reason) where PostgreSQL is not installed; each test gets
a database of its own from `new_database`, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from digest.model import DatabaseUrl
from digest.sink.server import free_port


def postgres_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL's programs (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    """A running throwaway cluster; `url(name)` reaches one of its databases."""

    bin: Path
    folder: Path
    port: int
    user: list[str]  # the command prefix that runs a program as the cluster's owner
    names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> None:
        subprocess.run([*self.user, str(self.bin / program), *args], check=True,
                       capture_output=True, cwd=self.folder)

    def new_database(self) -> DatabaseUrl:
        """An empty database of its own (for one test)."""
        name = f"t{os.getpid()}_{next(self.names)}"
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return DatabaseUrl(self.url(name), "DIGEST_TEST_DB_PASSWORD")

    def sql(self, database: DatabaseUrl, statement: str) -> None:
        self.run("psql", "-q", "-d", database.url, "-c", statement)


@contextmanager
def running_postgres(max_connections: int = 200) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the block (tests and bench/scale.py).

    Raises:
        RuntimeError: PostgreSQL is not installed, or cannot be run as a non-root user.
    """
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
        user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    folder.chmod(0o700)
    server = PostgresServer(binaries, folder, free_port(), user)
    data = str(folder / "data")
    try:
        server.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--locale=C", "-E",
                   "UTF8", "--no-sync")
        server.run("pg_ctl", "-D", data, "-l", str(folder / "log"), "-w", "-o",
                   f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 "
                   f"-c fsync=off -c max_connections={max_connections}", "start")
        yield server
    finally:
        if (folder / "data" / "postmaster.pid").exists():
            server.run("pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session (start-up costs a few seconds)."""
    try:
        with running_postgres() as server:
            yield server
    except RuntimeError as e:
        pytest.skip(f"{e}; the PostgreSQL backend is not tested here")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> DatabaseUrl:
    """A fresh, empty PostgreSQL database for this test."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | DatabaseUrl:
    """The state database of a store test, once on each backend: a SQLite file under
    tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "state" / "digest.sqlite3"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()
