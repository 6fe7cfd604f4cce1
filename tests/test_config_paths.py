"""What the config names on disk (templates, lists, the database file) and the environment
variables it names are checked when the config is read: exit 2 naming the key and its line,
before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, set_config

from digest import cli

# The sample config's templates line, commented out: the bundled templates are the default.
SAMPLE_TEMPLATES_LINE = next(line for line in (REPO / "config.toml").read_text().splitlines()
                             if "templates =" in line)


def _line(config: Path, starts: str) -> int:
    return next(n for n, line in enumerate(config.read_text().splitlines(), 1)
                if line.startswith(starts))


@pytest.mark.parametrize(("change", "key", "says"), [
    ({SAMPLE_TEMPLATES_LINE: 'templates = "my-templates"'}, "newsletter.templates",
     "no such folder"),
    ({'lists = ["subscribers/subscribers.csv"]': 'lists = ["subscribers/subscriber.csv"]'},
     "subscribers.lists", "'subscribers/subscriber.csv'"),
    ({'password_env = "DIGEST_SMTP_PASSWORD"': 'password_env = "hunter2 is my password"'},
     "smtp.password_env", "the name of an environment variable"),
    ({'database = "state/digest.sqlite3"': 'database = "state"'}, "state.database",
     "is a folder"),
])
def test_a_config_naming_what_is_not_there_exits_2_before_anything_runs(
    project: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], key: str,
    says: str,
) -> None:
    config = project / "config.toml"
    set_config(config, change)
    (project / "state").mkdir()
    line = _line(config, next(iter(change.values())).split(" =")[0])
    out = project / "out"

    code = cli.main(["preview", "--config", str(config), "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"config.toml:{line}: {key}: " in err and says in err
    assert not out.exists()


def test_a_templates_folder_needs_only_the_templates_it_changes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "config.toml"
    mine = project / "mine"
    mine.mkdir()
    (mine / "subject.txt.j2").write_text("Mine\n")
    set_config(config, {SAMPLE_TEMPLATES_LINE: 'templates = "mine"'})
    assert cli.main(["rank", "--config", str(config)]) == 0, capsys.readouterr().err
