"""The smaller holes from the same review, each closed for its whole class: plaintext SMTP
logins, addresses that differ only in case, formulas in exported CSV, tokens in the access
log, passwords in printed feed URLs, terminal escapes in names, and DOCTYPEs that hide."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import set_config
from scripted import Answer, feeds_config, rss, scripted_server

from digest import cli, pipeline
from digest.audience.subscribers import make_token
from digest.config import load_config
from digest.errors import ConfigError
from digest.ingest.feedbytes import prepare
from digest.sink.server import free_port
from digest.store import Store

NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)
PLAINTEXT = ("the SMTP password would travel unencrypted; set smtp.security to starttls or "
             "ssl, or smtp.allow_plaintext_auth = true for a server on this machine")


def subscribers(project: Path, capsys: pytest.CaptureFixture[str], *argv: str
                ) -> tuple[int, str, str]:
    code = cli.main(["subscribers", argv[0], "--config", str(project / "config.toml"),
                     *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_password_over_a_plaintext_connection_is_refused_at_start(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "config.toml"
    set_config(config, {'username = ""': 'username = "digest"'})
    with pytest.raises(ConfigError, match="smtp.security: " + PLAINTEXT.replace(".", r"\.")):
        load_config(config)
    assert cli.main(["send", "--dry-run", "--config", str(config)]) == 2
    assert PLAINTEXT in capsys.readouterr().err
    for fix in ('username = "digest"\nallow_plaintext_auth = true',
                'username = "digest"\nsecurity = "starttls"'):
        text = config.read_text().replace('security = "none"', "")
        config.write_text(text.replace('username = "digest"', fix, 1))
        assert load_config(config).smtp.username == "digest"
        config.write_text(text)


def test_addresses_differing_only_in_case_are_one_reader(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "subscribers" / "subscribers.csv").write_text(
        "email,name\nCaseTest@example.com,First\ncasetest@example.com,Second\n"
        "CASETEST@Example.COM,Third\nother@example.com,Other\n")
    config = load_config(project / "config.toml")
    with Store.open(config.database_path) as store:
        listed = list(pipeline.subscribers(config, store))
        assert [(s.email, s.name) for s in listed] == [("CaseTest@example.com", "First"),
                                                       ("other@example.com", "Other")]
        store.suppress("cAsEtEsT@example.com", "by hand", NOW)
        store.suppress("gone@example.com", "by hand", NOW)
        assert [s.email for s in pipeline.subscribers(config, store)] == ["other@example.com"]

    new = project / "new.csv"
    new.write_text("email\nOTHER@example.com\nFresh@example.com\nfresh@EXAMPLE.com\n"
                   "CASETEST@example.com\nGONE@Example.com\n")
    code, _, err = subscribers(project, capsys, "import", str(new))
    assert code == 0
    rows = (project / "subscribers" / "subscribers.csv").read_text().splitlines()
    assert [r for r in rows if r.lower().startswith("fresh")] == ["Fresh@example.com,"]
    assert not any(r.lower().startswith("gone") for r in rows)
    assert not any(r.startswith(("OTHER", "CASETEST@example.com")) for r in rows)
    assert "GONE@example.com is suppressed; not imported" in err


def test_exported_cells_never_start_a_formula(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["=HYPERLINK(\"http://x.example\")", "+1+2", "-3", "@SUM(A1)", "\tTab",
             "\rReturn", "Plain"]
    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerows(
        [("email", "name"), *((f"r{n}@example.com", name) for n, name in enumerate(names))])
    (project / "subscribers" / "subscribers.csv").write_text(written.getvalue())
    code, out, _ = subscribers(project, capsys, "export")
    assert code == 0
    exported = {r["email"]: r["name"] for r in csv.DictReader(io.StringIO(out))}
    assert exported["r6@example.com"] == "Plain"
    for n in range(4):
        assert exported[f"r{n}@example.com"] == "'" + names[n]
    for cell in exported.values():
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_names_with_terminal_escapes_are_listed_escaped(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "\x1b[31mRed\x1b]0;owned\x07\x9b2J"
    (project / "subscribers" / "subscribers.csv").write_text(
        f'email,name\nred@example.com,"{name}"\n', encoding="utf-8")
    code, out, _ = subscribers(project, capsys, "list")
    assert code == 0
    assert not any(c in out for c in "\x1b\x07\x9b")
    assert "\\x1b[31mRed" in out


def test_fetch_and_status_print_feed_urls_without_their_passwords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with scripted_server() as server:
        server.answers["/private"] = Answer(body=rss("private"))
        host = server.base.removeprefix("http://")
        config = feeds_config(tmp_path, {
            "Private": f"http://reader:s3cret-Pa55@{host}/private",
            "Broken": f"http://reader:0th3r-Pa55@{host}/missing"})
        for argv in (["fetch", "--json"], ["fetch"], ["status", "--json"], ["status"]):
            cli.main([*argv, "--config", str(config)])
            out, err = capsys.readouterr()
            assert "s3cret-Pa55" not in out + err and "0th3r-Pa55" not in out + err, argv
            if "--json" in argv:
                assert "reader:***@" in out, argv


def test_serve_verbose_never_logs_a_token(project: Path) -> None:
    key = "a-test-secret-of-enough-length"
    token = make_token(key.encode(), "subscribers", "ada@example.com")
    port = free_port()
    env = {**os.environ, "DIGEST_SECRET": key}
    server = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "-v", "--port", str(port), "--config",
         str(project / "config.toml")], env=env, cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/unsubscribe?t={token}")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert answered.status_code == 200
        httpx.get(f"http://127.0.0.1:{port}/preferences?t={token}&x=1")
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "GET /unsubscribe" in output  # the access log was on
    assert token not in output and token[:20] not in output


PROLOGS = [
    "<!-- a comment first -->", "<!-- <rss> inside a comment --> ",
    "<?xml-stylesheet href='x.xsl'?>\n", " " * 70_000, "<!--" + "x" * 70_000 + "-->",
    "<!-- one --><!-- two -->\n<?pi?>", "stray text ", "<!-- <!DOCTYPE decoy> -->",
]


def test_a_doctype_is_removed_wherever_it_stands_in_the_prolog() -> None:
    bomb = ('<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x SYSTEM "file:///etc/passwd">]>')
    for before in PROLOGS:
        body = ('<?xml version="1.0" encoding="utf-8"?>' + before + bomb
                + '<rss version="2.0"><channel><title>&c; &x;</title></channel></rss>')
        text = prepare(body.encode()).text
        assert "ENTITY" not in text and "<!DOCTYPE rss" not in text, before[:40]
        assert "&c;" not in text and "&x;" not in text and "aaaaaaaaaa" not in text
    # After the root element starts, a DOCTYPE is no DTD to any parser: it stays.
    body = '<rss version="2.0"><!DOCTYPE x [<!ENTITY a "b">]><channel/></rss>'
    assert prepare(body.encode()).text == body


def test_status_json_is_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = feeds_config(tmp_path, {"A": "http://user:pw-123456@127.0.0.1:1/x"})
    cli.main(["status", "--json", "--config", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert report["feeds"][0]["url"] == "http://user:***@127.0.0.1:1/x"
