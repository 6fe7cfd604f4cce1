"""The email checkers from npm that the tests run (package.json at the top; `npm ci` installs
them, .ci/run does): caniemail's data through @jsx-email/doiuse-email, and axe-core for
Chromium. Outside CI a test skips, naming what to install, when node or the packages are
missing; in CI (CI set) it fails instead, so a missing install step cannot pass for green.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from digest.config import load_config
from digest.pipeline.rehearse import demo

NODE_MODULES = REPO / "node_modules"
DOIUSE = NODE_MODULES / "@jsx-email" / "doiuse-email"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SUPPORT_SCRIPT = Path(__file__).resolve().parent / "email_support.js"


def demo_preview(folder: Path) -> Path:
    """The demo edition's HTML as `digest demo` writes it, from a copy of the sample project
    made under `folder`."""
    for name in ("templates", "samples", "subscribers"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / "config.toml", folder / "config.toml")
    return demo(load_config(folder / "config.toml"), folder / "demo", {}).preview


def missing(what: str) -> None:
    """Skip (or in CI fail) because `what` is not installed."""
    message = f"{what}; run `npm ci` at the repository's top (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def node() -> str:
    found = shutil.which("node")
    if found is None:
        missing("node is not installed (apt-get install nodejs npm)")
    assert found is not None
    if not DOIUSE.is_dir():
        missing(f"{DOIUSE} is missing")
    return found


def axe_source() -> str:
    if not AXE.is_file():
        missing(f"{AXE} is missing")
    return AXE.read_text(encoding="utf-8")


def email_support(page: Path) -> dict[str, dict[str, Any]]:
    """doiuse-email's findings on one HTML file: {client: {"errors": [...], "warnings": N}}."""
    result = subprocess.run([node(), str(SUPPORT_SCRIPT), str(page)], capture_output=True,
                            text=True, timeout=300, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return report


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on an open Playwright page, every rule axe runs by default
    (WCAG A and AA and its best practices), whatever their impact."""
    page.add_script_tag(content=axe_source())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = result["violations"]
    return violations
