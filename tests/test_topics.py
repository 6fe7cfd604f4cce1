"""Topics are every section an edition can have: the feeds' sections and `[[sections]]`. A
subscriber row that is skipped is warned once per run and counted in the run's summary."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from conftest import SmtpServer, served_project, set_config
from test_editions_exact import ENV, NOW
from webserver import running_web

from digest import cli, pipeline
from digest.audience.subscribers import make_token
from digest.config import load_config
from digest.sink.server import free_port

KEY = ENV["DIGEST_SECRET"].encode()
SPORT = '\n[[sections]]\nname = "Sport"\ncategories = ["sport", "football"]\n'


def test_a_sections_table_names_a_topic_for_lists_the_command_and_the_page(
    project: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    config_path = project / "config.toml"
    set_config(config_path,
               {'base_url = "http://127.0.0.1:8080"': f'base_url = "http://127.0.0.1:{port}"'})
    with config_path.open("a") as f:
        f.write(SPORT)
    listed = project / "subscribers" / "subscribers.csv"
    with listed.open("a") as f:
        f.write("hans@example.de,Hans,World;sport,daily\n")
    config = load_config(config_path)
    assert config.topics == ("Featured", "World", "Politics", "Sport")

    with caplog.at_level(logging.WARNING):
        code = cli.main(["subscribers", "list", "--json", "--config", str(config_path)])
    out, _ = capsys.readouterr()
    assert code == 0 and '"topics": ["Sport", "World"]' in out and "row skipped" not in caplog.text

    code = cli.main(["subscribers", "add", "kim@example.com", "--topics", "SPORT",
                     "--config", str(config_path)])
    assert code == 0 and listed.read_text().splitlines()[-1] == "kim@example.com,,Sport,daily"

    with running_web(config, KEY, port) as base, httpx.Client(base_url=base) as client:
        page = client.get("/preferences",
                          params={"t": make_token(KEY, "subscribers", "hans@example.de")})
    assert page.status_code == 200
    assert 'value="Sport" checked' in page.text and 'value="World" checked' in page.text


def test_a_bad_row_is_warned_once_per_run_and_counted(
    project: Path, feed_server: tuple[str, Path], smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_path = served_project(project, feed_server, smtp_server, {
        'lists = ["subscribers/subscribers.csv"]':
            'lists = ["subscribers/subscribers.csv"]\nweekly_day = "monday"'})
    with (project / "subscribers" / "subscribers.csv").open("a") as f:
        f.write("wendy@example.com,Wendy,World,weekly\nbad@example.com,Bad,Curling,daily\n")
    config = load_config(config_path)

    with caplog.at_level(logging.WARNING):
        summary = pipeline.send(config, NOW, ENV)
    skips = [r.getMessage() for r in caplog.records if "row skipped" in r.getMessage()]
    assert len(skips) == 1 and "subscribers.csv:6: row skipped: unknown topic 'Curling'" in skips[0]
    assert summary.bad_rows == 1 and not summary.ok
    assert summary.count("sent") == 3 and summary.weekly is not None  # the rest went out

    monkeypatch.setenv("DIGEST_SECRET", ENV["DIGEST_SECRET"])
    capsys.readouterr()
    code = cli.main(["send", "--config", str(config_path), "--now", NOW.isoformat()])
    out, _ = capsys.readouterr()
    assert code == 1 and "1 subscriber row was skipped" in out


@pytest.mark.parametrize(("table", "key"), [
    ('\n[[sections]]\nname = "Arts; Culture"\n', "sections[0].name"),
    ('\n[[feeds]]\nurl = "samples/feeds/world-wire.xml"\nsection = "A;B"\n', "feeds[3].section"),
])
def test_a_section_name_with_the_topic_separator_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, key: str
) -> None:
    config_path = project / "config.toml"
    with config_path.open("a") as f:
        f.write(table)
    assert cli.main(["rank", "--config", str(config_path)]) == 2
    assert f"{key}: must not contain ';'" in capsys.readouterr().err
