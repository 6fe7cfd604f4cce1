"""An installed wheel works on its own: `digest init` in an empty folder, then a send from there.

The wheel is built from this checkout and installed into a new virtual environment; the
dependencies come from the test environment's site-packages (a .pth line), so the test needs no
index, and the current directory is an empty folder, so nothing is imported from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, SmtpServer, set_config


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with digest installed from a freshly built wheel; its bin/."""
    if shutil.which("git") is None:
        pytest.skip("needs git to copy the tracked files")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # only what git tracks: no .venv, no caches in the wheel
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file() or (REPO / name).is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name, follow_symlinks=False)
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(work / "dist"), str(source)], work, dict(os.environ))
    if build.returncode != 0 and "hatchling" in build.stderr:
        pytest.skip("needs hatchling in the test environment (pip install -e '.[test]')")
    assert build.returncode == 0, build.stderr
    wheel = next((work / "dist").glob("digest-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    inside = subprocess.run([str(venv / "bin" / "python"), "-c",
                             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    (Path(inside) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--no-deps", "-q", str(wheel)], work, dict(os.environ))
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def test_init_in_an_empty_folder_then_send(installed: Path, tmp_path: Path,
                                           smtp_server: SmtpServer) -> None:
    env = {"PATH": f"{installed}:/usr/bin:/bin", "DIGEST_SECRET": "a-test-secret-of-enough-length"}
    where = _run([str(installed / "python"), "-c", "import digest; print(digest.__file__)"],
                 tmp_path, env)
    assert str(installed.parent) in where.stdout, "digest must come from the installed wheel"

    folder = tmp_path / "newsletter"
    feeds = sorted((REPO / "samples" / "feeds").glob("*.xml"))
    init = _run([str(installed / "digest"), "init", str(folder), "--templates",
                 *[arg for feed in feeds for arg in ("--feed", str(feed))]], tmp_path, env)
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "subscribers.csv",
                                                         "templates"]
    again = _run([str(installed / "digest"), "init", str(folder)], tmp_path, env)
    assert again.returncode == 2 and "never overwrites" in again.stderr

    set_config(folder / "config.toml", {"port = 1025": f"port = {smtp_server.port}"})
    # The operator's copy of one template wins; the others come from the package.
    (folder / "templates" / "subject.txt.j2").write_text("From my own template\n")
    for name in ("edition.html.j2", "edition.txt.j2", "macros.html.j2", "base.html.j2"):
        (folder / "templates" / name).unlink()
    send = _run([str(installed / "digest"), "send", "--now", "2023-11-22T12:00:00+00:00"],
                folder, env)
    assert send.returncode == 0, send.stdout + send.stderr
    [arrived] = smtp_server.arrived
    assert arrived.rcpt_tos == ["reader@example.com"]
    assert arrived.message["Subject"] == "From my own template"
    assert arrived.message.get_body(("html",)) is not None
