"""Config errors name the file, the dotted key and its line, and say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, set_config

from digest.config import load_config
from digest.errors import ConfigError


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_the_sample_config_loads(project: Path) -> None:
    config = load_config(project / "config.toml")
    assert config.newsletter.name == "Political IQ Daily"
    assert [f.name for f in config.feeds] == ["Political IQ", "World Wire", "Capitol Ledger"]
    assert config.feeds[0].featured and config.feeds[0].weight == 1.5
    assert all(Path(f.url).is_file() for f in config.feeds)  # resolved against the file
    assert config.database_path == (project / "state" / "digest.sqlite3").resolve()


def test_toml_syntax_error_names_the_line(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, {"port = 1025": "port = = 1025"})
    line = config.read_text().splitlines().index("port = = 1025") + 1
    message = _error(config)
    assert str(config) in message and f"line {line}" in message and "not valid TOML" in message


def test_unknown_key_names_the_dotted_key_and_line(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, {"port = 1025": "prot = 1025"})
    line = config.read_text().splitlines().index("prot = 1025") + 1
    message = _error(config)
    assert f"{config}:{line}: smtp.prot: unknown key" in message
    assert "port" in message  # lists the keys it expected


def test_wrong_type_names_the_key(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, {"max_stories = 20": 'max_stories = "twenty"'})
    line = config.read_text().splitlines().index('max_stories = "twenty"') + 1
    assert _error(config) == (
        f"{config}:{line}: ranking.max_stories: must be a whole number, not a string"
    )


def test_bad_feed_url_names_the_feed(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, {'url = "samples/feeds/capitol-ledger.xml"': 'url = "ftp://x/feed"'})
    message = _error(config)
    assert "feeds[2].url: 'ftp://x/feed' is not an http(s) URL or an existing file" in message


def test_bad_choice_and_time_zone(project: Path) -> None:
    config = project / "config.toml"
    set_config(config, {'security = "none"': 'security = "tls"'})
    assert "smtp.security: must be one of 'none', 'starttls', 'ssl', not 'tls'" in _error(config)
    set_config(config, {'security = "tls"': 'security = "none"',
                        'timezone = "America/New_York"': 'timezone = "Mars/Olympus"'})
    assert "schedule.timezone: 'Mars/Olympus' is not an IANA time zone" in _error(config)


def test_missing_file(tmp_path: Path) -> None:
    message = _error(tmp_path / "nope.toml")
    assert f"{tmp_path / 'nope.toml'}: no such file" in message and "--config" in message


def test_cli_prints_one_line_and_exits_2(project: Path) -> None:
    set_config(project / "config.toml", {"port = 1025": "port = 99999"})
    result = subprocess.run(
        [sys.executable, "-m", "digest", "preview"], cwd=project, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "smtp.port: must be a port number" in result.stderr
    assert "Traceback" not in result.stderr
