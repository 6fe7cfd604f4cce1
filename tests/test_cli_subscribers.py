"""`digest subscribers …` and `digest serve` from the command line: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from digest import cli
from digest.sink.server import free_port
from digest.store import Store


def _run(project: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["subscribers", argv[0], "--config", str(project / "config.toml"),
                     *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_validates_like_the_loader_and_writes_the_list(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = project / "subscribers" / "subscribers.csv"
    code, out, _ = _run(project, capsys, "add", "Bob@Example.COM", "--name", "Bob",
                        "--topics", "world;politics", "--frequency", "weekly")
    assert code == 0 and "Added Bob@example.com" in out
    assert listed.read_text().splitlines()[-1] == "Bob@example.com,Bob,Politics;World,weekly"

    code, _, err = _run(project, capsys, "add", "bob@example.com")
    assert code == 1 and f"already listed at {listed}:5" in err  # one reader, any case
    code, _, err = _run(project, capsys, "add", "Bob@EXAMPLE.com")
    assert code == 1 and f"already listed at {listed}:5" in err
    code, _, err = _run(project, capsys, "add", "not an address")
    assert code == 2 and "not a valid address" in err
    code, _, err = _run(project, capsys, "add", "x@example.com", "--topics", "Sports")
    assert code == 2 and "unknown topic 'Sports'" in err
    assert "x@example.com" not in listed.read_text()


def test_list_export_remove_suppressed_and_restore(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(project, capsys, "list", "--json")
    assert code == 0 and [json.loads(line)["email"] for line in out.splitlines()] == [
        "ada@example.com", "grace@example.org", "alan@example.net"]
    assert "3 active subscribers" in err

    with Store.open(project / "state" / "digest.sqlite3") as store:
        store.suppress("ada@example.com", "unsubscribed by its link", datetime.now(UTC))
    code, out, _ = _run(project, capsys, "export")
    assert out.splitlines() == ["email,name,topics,frequency",
                                "grace@example.org,Grace Hopper,Politics;World,daily",
                                "alan@example.net,Alan Turing,,daily"]
    code, out, _ = _run(project, capsys, "add", "ada@example.com")
    assert code == 1

    code, out, _ = _run(project, capsys, "remove", "alan@EXAMPLE.net", "--suppress")
    assert code == 0 and "Removed alan@example.net from" in out and "subscribers.csv:4" in out
    assert "alan" not in (project / "subscribers" / "subscribers.csv").read_text()
    code, _, err = _run(project, capsys, "remove", "nobody@example.com")
    assert code == 1 and "in none of the lists" in err

    code, out, _ = _run(project, capsys, "suppressed", "--json")
    assert sorted(r["email"] for r in json.loads(out)) == ["ada@example.com", "alan@example.net"]
    code, _, err = _run(project, capsys, "restore", "ada@example.com")
    assert code == 2 and "unsubscribed by its link" in err and "--yes" in err
    code, out, _ = _run(project, capsys, "restore", "ada@example.com", "--yes")
    assert code == 0 and "Restored" in out
    code, _, err = _run(project, capsys, "restore", "ada@example.com", "--yes")
    assert code == 1 and "not suppressed" in err
    code, out, _ = _run(project, capsys, "list")
    assert "ada@example.com" in out


def test_import_adds_new_valid_rows_and_reports_the_rest(
    project: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    incoming = project / "incoming.csv"
    incoming.write_bytes(b"\xef\xbb\xbfname,email,frequency\nNew,new@example.com,weekly\n"
                         b"Dup,ada@EXAMPLE.com,daily\nBad,nope,daily\n"
                         b"Again,new@EXAMPLE.com,daily\n" + "Zo\xeb,z@example.com,daily\n"
                         .encode("latin-1"))
    code, out, _ = _run(project, capsys, "import", str(incoming))
    assert code == 1  # bad rows were skipped: finished with failures
    assert "1 added" in out and "2 already listed" in out and "2 bad rows skipped" in out
    assert any(f"{incoming}:4: row skipped" in r.getMessage() for r in caplog.records)
    lines = (project / "subscribers" / "subscribers.csv").read_text().splitlines()
    assert lines[-1] == "new@example.com,New,,weekly"
    code, _, err = _run(project, capsys, "import", str(project / "missing.csv"))
    assert code == 2


def test_serve_refuses_to_start_without_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    code = cli.main(["serve", "--config", str(project / "config.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "DIGEST_SECRET is unset" in err and "export DIGEST_SECRET" in err


def test_serve_listens_on_the_port_given(project: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--config", str(project / "config.toml"),
         "--port", str(port)],
        env={"PATH": "/usr/bin:/bin", "DIGEST_SECRET": "a-test-secret-of-enough-length"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200 and r.text == "ok\n"
        code = subprocess.run(  # the same port again: a clear error, exit 2
            [sys.executable, "-m", "digest", "serve", "--config",
             str(project / "config.toml"), "--port", str(port)],
            env={"PATH": "/usr/bin:/bin", "DIGEST_SECRET": "a-test-secret-of-enough-length"},
            capture_output=True, text=True, timeout=60)
        assert code.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in code.stderr
    finally:
        process.terminate()
        process.wait(10)
