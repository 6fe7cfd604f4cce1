"""The documentation is part of the product: the references list every config key and command
(they are generated from the code, and checked here), the README's quick start holds, the docs
build strictly, and the systemd unit and crontab lines of docs/operations.md work as written."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, SmtpServer, served_project

from digest import cli, config
from digest.cli import reference
from digest.cron import cron_trigger
from digest.errors import ConfigError, DigestError, InputError, LockHeld

README = (REPO / "README.md").read_text()
DOCS = REPO / "docs"
OPERATIONS = (DOCS / "operations.md").read_text()
SUBSCRIBERS = ["ada@example.com", "grace@example.org", "alan@example.net"]


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def _command_names(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every command of the parser, read from argparse itself rather than the generator."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.append(prefix + name)
                names += _command_names(sub, f"{prefix}{name} ")
    return names


# The references ---------------------------------------------------------------------------


def test_every_config_key_is_in_the_reference() -> None:
    markdown = reference.config_markdown()
    for table, cls in config._TABLES.items():
        assert f"## `[{table}]`" in markdown
        for f in dataclasses.fields(cls):
            key = f.metadata.get("key", f.name)
            assert f"| `{table}.{key}` |" in markdown, f"{table}.{key} is not in the reference"
    for array, cls in (("feeds", config.FeedConfig), ("sections", config.SectionRule)):
        for f in dataclasses.fields(cls):
            assert f"| `[[{array}]] {f.name}` |" in markdown
    # A table or an array added to Config in any way still gets its section.
    for f in dataclasses.fields(config.Config):
        if f.name != "path":
            assert f"## `[{f.name}]`" in markdown or f"## `[[{f.name}]]`" in markdown, f.name


def test_every_config_key_says_what_it_means_type_and_default() -> None:
    # Raises UndocumentedError, naming the field, when a field has no `# comment`.
    tables = reference.config_tables()
    keys = {k.key: k for t in tables for k in t.keys}
    assert all(k.meaning and k.type and k.default for k in keys.values())
    assert keys["smtp.port"].type == "integer" and keys["smtp.port"].default == "1025"
    assert keys["smtp.security"].type == '"none", "starttls" or "ssl"'
    assert keys["newsletter.from"].default == "(required)"
    assert keys["subscribers.lists"].default == '["subscribers/subscribers.csv"]'
    assert keys["smtp.retry_backoff_seconds"].meaning.startswith("waits between tries of a 4xx")


def test_a_field_comment_is_read_from_its_line_or_the_lines_above() -> None:
    source = (
        "class Example:\n"
        "    commented: int = 1  # on its line\n"
        "    # a meaning too long\n"
        "    # for one line\n"
        "    above: list[str] = field(\n"
        "        default_factory=list)\n"
        "\n"
        "    bare: str = ''\n"
    )
    comments = reference._field_comments(source)
    assert comments == {("Example", "commented"): "on its line",
                        ("Example", "above"): "a meaning too long for one line"}


def test_every_command_and_option_is_in_the_reference() -> None:
    parser = cli._parser()
    markdown = reference.commands_markdown(parser)
    names = _command_names(parser)
    assert "send" in names and "subscribers add" in names
    for name in names:
        assert re.search(rf"^##+ digest {name} \{{#", markdown, re.M), f"digest {name}"
    for command in reference.commands(parser):
        for action in command.options:
            for option in action.option_strings:
                assert f"`{option}" in markdown, f"digest {command.name} {option}"
        assert command.summary, f"digest {command.name} has no help text"


def test_the_readme_lists_every_command() -> None:
    parser = cli._parser()
    top = [n for n in _command_names(parser) if " " not in n]
    table = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    for name in top:
        assert f"`digest {name}" in table, f"digest {name} is not in the README's table"


# The README --------------------------------------------------------------------------------


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    install_and_demo, install_and_test = _quick_start()
    assert "\n" not in install_and_demo and install_and_demo.endswith("digest demo")
    assert "\n" not in install_and_test and "pytest" in install_and_test
    ci = (REPO / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()


def test_readme_is_a_short_front_door_with_a_real_screenshot() -> None:
    assert len(README.splitlines()) < 200
    for image in re.findall(r'src="([^"]+\.png)"', README):
        assert (REPO / image).read_bytes().startswith(b"\x89PNG"), image
    for width in (375, 1024):
        for scheme in ("light", "dark"):
            assert (DOCS / "images" / f"edition-{width}-{scheme}.png").is_file()
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (REPO / link).exists(), link


def test_exit_codes_are_documented_as_the_code_has_them() -> None:
    commands_page = (DOCS / "commands.md").read_text()
    meanings = {0: "done", 1: "finished with failures", 2: "bad config or input",
                3: "another run holds the lock"}
    assert DigestError.exit_code == 1
    assert ConfigError.exit_code == InputError.exit_code == 2 and LockHeld.exit_code == 3
    for text in (README, commands_page):
        for code, meaning in meanings.items():
            assert re.search(rf"^\| {code} \| {meaning}", text, re.M), (code, meaning)


def test_sample_config_loads() -> None:
    loaded = config.load_config(REPO / "config.toml")
    assert loaded.feeds and loaded.newsletter.name


def test_docs_build_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec(
            "material") is None:
        pytest.skip("MkDocs is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, env={"NO_MKDOCS_2_WARNING": "1",
                                                         "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    # The hook filled the markers: the generated references are on the built pages.
    assert "smtp.rate_per_second" in (site / "configuration" / "index.html").read_text()
    assert "digest-subscribers-restore" in (site / "commands" / "index.html").read_text()


def test_the_hook_fills_markers_and_refuses_unknown_ones() -> None:
    errors = pytest.importorskip("mkdocs.exceptions", reason="MkDocs is not installed")
    spec = importlib.util.spec_from_file_location("hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = SimpleNamespace(file=SimpleNamespace(src_path="example.md"))
    filled = hooks.on_page_markdown("# Keys\n\n<!-- reference:config -->\n", page, None, None)
    assert "| `smtp.port` |" in filled and "<!--" not in filled
    with pytest.raises(errors.PluginError, match="example.md: unknown marker"):
        hooks.on_page_markdown("<!-- reference:confg -->", page, None, None)


# docs/operations.md -----------------------------------------------------------------------


def _block(language: str) -> str:
    blocks = re.findall(rf"^```{language}[^\n]*\n(.*?)^```", OPERATIONS, re.S | re.M)
    assert len(blocks) == 1, f"expected one ```{language} block in docs/operations.md"
    return str(blocks[0])


def _exec_start(unit: str) -> list[str]:
    (line,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_systemd_unit_runs_digest_run_with_its_config(tmp_path: Path) -> None:
    unit = _block("ini")
    argv = _exec_start(unit)
    assert argv[0].endswith("/.venv/bin/digest")
    args = cli._parser().parse_args(argv[1:])  # exits (fails the test) on an unknown option
    assert args.command == "run" and args.handler.__name__ == "cmd_run"
    assert str(args.config).endswith("config.toml")
    assert "RestartPreventExitStatus=2" in unit  # a bad config: restarting will not help
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; checked the ExecStart command only")
    # The unit as written, with /srv/digest here and digest the one installed beside pytest.
    venv = Path(sys.prefix)
    if not (venv / "bin" / "digest").exists():
        pytest.skip(f"no digest script in {venv}/bin to stand for /srv/digest/.venv/bin/digest")
    (tmp_path / ".venv").symlink_to(venv)
    path = tmp_path / "digest.service"
    path.write_text(unit.replace("/srv/digest", str(tmp_path)))
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                          timeout=120)
    about_ours = [x for x in (done.stdout + done.stderr).splitlines() if "digest.service" in x]
    assert done.returncode == 0 and not about_ours, done.stdout + done.stderr


def _crontab() -> list[tuple[str, str]]:
    """(schedule, command) for each line of the crontab block."""
    lines = [x for x in _block("crontab").splitlines() if x.strip() and not x.startswith("#")]
    return [(" ".join(x.split()[:5]), x.split(None, 5)[5]) for x in lines]


def test_crontab_lines_are_cron_and_name_digest_commands() -> None:
    entries = _crontab()
    assert [e[1].split(".venv/bin/digest ")[1].split()[0] for e in entries] == ["fetch", "send"]
    for schedule, command in entries:
        cron_trigger(schedule, ZoneInfo("UTC"))  # raises on what cron would not read
        assert "%" not in command  # cron reads % as a line end


def test_crontab_commands_fetch_and_send_as_written(
    tmp_path: Path, project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer
) -> None:
    # The sample project stands for /srv/digest, with its feeds on a local HTTP server and its
    # SMTP port on a real aiosmtpd server. Its 2023 stories stay inside a lookback window this
    # wide whatever today is, so the test does not depend on the date it runs.
    served_project(project, feed_server, smtp_server,
                   {"lookback_hours = 36": "lookback_hours = 1000000"})
    venv = Path(sys.prefix)
    if not (venv / "bin" / "digest").exists():
        pytest.skip(f"no digest script in {venv}/bin to stand for /srv/digest/.venv/bin/digest")
    (project / ".venv").symlink_to(venv)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("DIGEST_SECRET=a-test-secret-of-enough-length\n")
    for _, command in _crontab():
        written = command.replace("/srv/digest", str(project)).replace(
            "/etc/digest/secrets.env", str(secrets))
        # cron runs each line with /bin/sh and hardly any environment
        done = subprocess.run(["/bin/sh", "-c", written], capture_output=True, text=True,
                              timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert done.returncode == 0, (written, done.stdout, done.stderr,
                                      (project / "cron.log").read_text())
    assert sorted(a.rcpt_tos[0] for a in smtp_server.arrived) == sorted(SUBSCRIBERS)
    log = (project / "cron.log").read_text()
    assert "3 sent" in log, log
    for line in log.splitlines():
        if line.startswith("{"):
            json.loads(line)  # --log-format json: every log line is one object
