"""A throwaway Postfix instance on loopback, for tests: its own config, queue and data folders
under a temporary folder, its own ports, stopped when the block ends.

Postfix is a system package; where it is not installed, or cannot start (not root, no
master.cf), the test that asks for it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digest.sink.server import free_port

MASTER_CF = Path("/etc/postfix/master.cf")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def postfix(relayhost_port: int, transports: dict[str, int]) -> Iterator[int]:
    """Postfix listening on a free loopback port (yielded) that relays `transports`' domains
    each to its loopback port and everything else (its own bounces included) to
    `relayhost_port`."""
    binary = shutil.which("postfix") or "/usr/sbin/postfix"
    if not Path(binary).exists():
        pytest.skip("Postfix is not installed (apt-get install postfix with debconf's "
                    "'No configuration'; .ci/run does it)")
    if os.geteuid() != 0:
        pytest.skip("starting a Postfix instance needs root")
    if not MASTER_CF.exists():
        pytest.skip(f"{MASTER_CF} is missing: the postfix package is incomplete")
    port = free_port()
    # not pytest's tmp_path: Postfix's user must reach the folders, and tmp_path is private
    root = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    root.chmod(0o755)
    etc, queue, data = root / "etc", root / "queue", root / "data"
    for folder in (etc, queue, data):
        folder.mkdir()
    shutil.chown(data, "postfix")
    shutil.copy(MASTER_CF, etc / "master.cf")
    routes = ", ".join(f"{domain}=smtp:[127.0.0.1]:{p}" for domain, p in transports.items())
    (etc / "main.cf").write_text(f"""compatibility_level = 3.6
myhostname = mx.test.invalid
mydestination = mx.test.invalid
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relayhost_port}
smtp_dns_support_level = disabled
relay_domains = {' '.join(transports)}
transport_maps = inline:{{ {routes} }}
queue_directory = {queue}
data_directory = {data}
maillog_file = {root / 'postfix.log'}
maillog_file_prefixes = {root}
""")
    config = str(etc)
    # no chroot (it would need copies of system files) and our own SMTP port
    _run("postconf", "-c", config, "-F", "*/*/chroot = n")
    _run("postconf", "-c", config, "-MX", "smtp/inet")
    _run("postconf", "-c", config, "-M",
         f"127.0.0.1:{port}/inet = 127.0.0.1:{port} inet n - n - - smtpd")
    started = _run(binary, "-c", config, "start")
    try:
        deadline = time.monotonic() + 15
        while not _listening(port):
            if time.monotonic() > deadline:
                log = (root / "postfix.log").read_text() if (root / "postfix.log").exists() \
                    else started.stderr
                pytest.skip(f"Postfix did not start: {log[-500:]}")
            time.sleep(0.1)
        yield port
    finally:
        _run(binary, "-c", config, "stop")
        deadline = time.monotonic() + 15
        while _run(binary, "-c", config, "status").returncode == 0 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
