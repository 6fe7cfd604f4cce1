"""The tree reads as the pipeline: stages import only the stages below them, no module is past
~400 lines, every stage says what it takes and gives, and no comment names an issue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "digest"
VOCABULARY = {"model", "errors", "config", "configrules", "tomltables", "logs", "cron", "colors",
              "__init__"}
# Lowest first: a module may import its own layer and the layers before it. The sink is a tool of
# its own beside the pipeline (it talks SMTP like any server), so it may use only the vocabulary.
LAYERS = ["vocabulary", "store", "ingest", "rank", "render", "audience", "bounces", "deliver",
          "pipeline", "service", "cli"]
MAX_LINES = 400


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "__main__":
        return "cli"  # `python -m digest` is the command line
    if len(parts) == 1 or parts[1] in VOCABULARY or not _is_module(parts[1]):
        return "vocabulary"  # the package itself, or a name it defines (__version__)
    return parts[1]


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("digest")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "digest":
                found |= {f"digest.{a.name}" for a in node.names}
            elif node.module.startswith("digest."):
                found.add(node.module)
    return found


def _name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_stages_import_only_what_is_below_them() -> None:
    wrong = []
    for path in _modules():
        here = _layer(_name(path))
        for imported in _imports(path):
            there = _layer(imported)
            if here == there or there == "vocabulary":
                continue
            if "sink" in (here, there):
                if here == "sink" or here not in ("pipeline", "service", "cli"):
                    wrong.append(f"{_name(path)} ({here}) imports {imported} (the sink)")
            elif there not in LAYERS or here not in LAYERS:
                wrong.append(f"{_name(path)} ({here}) imports {imported}: a stage not in LAYERS")
            elif LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{_name(path)} ({here}) imports {imported} ({there}), a later stage")
    assert not wrong, "\n".join(wrong)


def test_the_vocabulary_imports_no_stage() -> None:
    for path in _modules():
        if _layer(_name(path)) == "vocabulary":
            stages = {i for i in _imports(path) if _layer(i) != "vocabulary"}
            assert not stages, f"{_name(path)} imports {stages}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_module_is_past_the_size_where_it_becomes_two(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines; split it by noun"


def test_every_stage_says_what_it_takes_and_gives() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 60, f"{init.relative_to(REPO)} needs a docstring"


def test_no_comment_names_an_issue() -> None:
    pattern = re.compile(r"\(issue \d+\)|\bissue #?\d+\b", re.I)
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in [*_modules(), *PACKAGE.rglob("*.j2")]
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
