"""Logging: `--log-format json` on every command, and no secret in anything digest writes.

The send runs as a real process at full verbosity against a real SMTP server that demands a
login, so the password really is used; then every byte the process printed is searched for
the password, the token key and their base64 forms (as they travel in AUTH PLAIN / LOGIN).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import RecordingHandler, SmtpServer, set_config
from test_run import environ, fresh_project

from digest import logs
from digest.cli import _parser
from digest.sink.server import free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "s3cret-Pa55word-for-smtp"
SECRET = "a-test-secret-of-enough-length"  # the token key test_run.environ() sets
USER = "digest-mailer"


def _forms(secret: str) -> list[str]:
    plain = base64.b64encode(f"\0{USER}\0{secret}".encode()).decode()
    return [secret, base64.b64encode(secret.encode()).decode(), plain]


@pytest.fixture
def auth_smtp() -> Iterator[SmtpServer]:
    """A real SMTP server that accepts mail only after AUTH with USER and PASSWORD."""
    handler = RecordingHandler()
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False,
                            auth_required=True, authenticator=authenticator)
    controller.start()
    handler.logins = logins  # type: ignore[attr-defined]
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


def _send(project: Path, password: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = environ() | {"DIGEST_SMTP_PASSWORD": password}
    return subprocess.run([sys.executable, "-m", "digest", "send", "--config",
                           str(project / "config.toml"), *flags], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_send_with_a_password_never_writes_it(
    project: Path, auth_smtp: SmtpServer, log_format: str
) -> None:
    fresh_project(project, auth_smtp)
    set_config(project / "config.toml",
               {'username = ""': f'username = "{USER}"\nallow_plaintext_auth = true'})

    done = _send(project, PASSWORD, "-vv", "--log-format", log_format)

    assert done.returncode == 0, done.stderr
    assert len(auth_smtp.arrived) == 3
    assert (USER.encode(), PASSWORD.encode()) in auth_smtp.handler.logins  # it was used
    output = done.stdout + done.stderr
    assert "DEBUG" in output  # the most verbose logging was on
    for form in _forms(PASSWORD) + _forms(SECRET):
        assert form not in output
    state = b"".join(p.read_bytes() for p in (project / "state").rglob("*") if p.is_file())
    for form in _forms(PASSWORD) + _forms(SECRET):
        assert form.encode() not in state
    if log_format == "json":
        records = [json.loads(line) for line in done.stderr.splitlines()]
        assert records and all({"time", "level", "logger", "message"} <= r.keys()
                               for r in records)


def test_a_refused_login_names_the_user_and_the_variable_not_the_password(
    project: Path, auth_smtp: SmtpServer
) -> None:
    fresh_project(project, auth_smtp)
    set_config(project / "config.toml",
               {'username = ""': f'username = "{USER}"\nallow_plaintext_auth = true'})
    wrong = "wrong-Pa55word-typed-in"

    done = _send(project, wrong, "-vv", "--debug")

    assert done.returncode == 1 and auth_smtp.arrived == []
    output = done.stdout + done.stderr
    assert USER in output and "DIGEST_SMTP_PASSWORD" in output
    for form in _forms(wrong) + _forms(SECRET):
        assert form not in output


def test_every_command_takes_log_format() -> None:
    def leaves(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, Any]]:
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not groups:
            yield name, parser
        for group in groups:  # a command group (`digest subscribers add`): its commands
            for sub_name, sub in group.choices.items():
                yield from leaves(sub, f"{name} {sub_name}".strip())

    commands = list(leaves(_parser(), ""))
    assert len(commands) >= 8
    for name, sub in commands:
        assert any("--log-format" in a.option_strings for a in sub._actions), name


def test_what_reaches_a_logger_is_masked_anyway() -> None:
    stream = io.StringIO()
    env = {"DIGEST_SMTP_PASSWORD": PASSWORD, "MAIL_PW": "hunter2-but-longer",
           "API_TOKEN": "tok-123456789", "HOME": "/home/digest"}
    secrets = logs.secret_values(env, ["MAIL_PW"])
    for log_format in ("text", "json"):
        logs.configure(logging.DEBUG, log_format, secrets, stream)  # type: ignore[arg-type]
        log = logging.getLogger("digest.test")
        log.warning("login with %s failed; also hunter2-but-longer and tok-123456789", PASSWORD)
        log.info("fetching https://reader:feed-pass@feeds.example.org/x.xml",
                 extra={"edition": "daily-2026-11-26"})
        try:
            raise RuntimeError(f"boom {PASSWORD}")
        except RuntimeError:
            log.exception("failed")
    text = stream.getvalue()
    for leaked in (PASSWORD, "hunter2-but-longer", "tok-123456789", "feed-pass"):
        assert leaked not in text
    assert "/home/digest" not in secrets
    assert "https://reader:***@feeds.example.org/x.xml" in text
    json_lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert {"edition": "daily-2026-11-26"}.items() <= json_lines[1].items()
    assert "RuntimeError" in json_lines[2]["exception"]
    logs.configure(logging.WARNING, "text", (), sys.stderr)
