"""The README is part of the product: every command, config key and the quick start hold."""

from __future__ import annotations

import dataclasses
import re

from conftest import REPO

from digest import cli, config

README = (REPO / "README.md").read_text()


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_every_command_is_documented() -> None:
    parser = cli._parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for name in commands:
        assert f"`digest {name}" in README, f"digest {name} is not in the README"


def test_every_config_key_is_documented() -> None:
    # The README's reference, or the page of docs/ that explains the part the key tunes.
    docs = README + "".join(p.read_text() for p in sorted((REPO / "docs").glob("*.md")))
    for table, cls in config._TABLES.items():
        for f in dataclasses.fields(cls):
            key = f.metadata.get("key", f.name)
            assert f"{table}.{key}" in docs, f"{table}.{key} is not in the README or docs/"
    for f in dataclasses.fields(config.FeedConfig):
        assert f"[[feeds]] {f.name}" in docs


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    install_and_demo, install_and_test = _quick_start()
    assert "\n" not in install_and_demo and install_and_demo.endswith("digest demo")
    assert "\n" not in install_and_test and "pytest" in install_and_test
    ci = (REPO / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()


def test_exit_codes_are_documented() -> None:
    for code in range(4):
        assert f"| {code} |" in README
