"""Read TOML tables into frozen dataclasses, and say where in the file a bad key is.

Used by config.py: the dataclasses' type hints are the schema (str, int, float, bool, lists
and Literal choices), a dataclass field's `metadata["key"]` renames a TOML key (`from`), and
every error names the file, the line and the dotted key, for the operator.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from digest.errors import ConfigError


def read_table(path: Path, text: str, where: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        fail(path, text, where, "must be a table")
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            fail(path, text, f"{where}.{key}", f"unknown key; expected one of {', '.join(fields)}")
        f = fields[key]
        problem = _type_problem(value, hints[f.name])
        if problem:
            fail(path, text, f"{where}.{key}", problem)
        values[f.name] = value
    for key, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and f.name not in values:
            fail(path, text, f"{where}.{key}", "missing; this key is required")
    return cls(**values)


def _type_problem(value: Any, hint: Any) -> str | None:
    """Why `value` does not fit the annotation `hint`, or None when it does."""
    origin = get_origin(hint)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            return f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}"
        return None
    if origin is list:
        if not isinstance(value, list):
            return f"must be a list, not {_kind(value)}"
        (item,) = get_args(hint)
        for v in value:
            problem = _type_problem(v, item)
            if problem:
                return f"every item {problem}"
        return None
    if origin in (typing.Union, types.UnionType):
        return None if any(_type_problem(value, h) is None for h in get_args(hint)) else (
            f"has the wrong type ({_kind(value)})"
        )
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, not {_kind(value)}"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"must be a whole number, not {_kind(value)}"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"must be a number, not {_kind(value)}"
    if hint is str:
        return None if isinstance(value, str) else f"must be a string, not {_kind(value)}"
    return None


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def fail(path: Path, text: str, dotted: str, problem: str) -> typing.NoReturn:
    line = line_of(text, dotted)
    where = f"{path}:{line}" if line else str(path)
    raise ConfigError(f"{where}: {dotted}: {problem}")


def line_of(text: str, dotted: str) -> int | None:
    """Best-effort line number of a dotted key such as `feeds[2].url` or `smtp.port`."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", dotted)
    lines = text.splitlines()
    table, index, key = parts[0], None, None
    rest = parts[1:]
    if rest and rest[0].startswith("["):
        index = int(rest[0][1:-1])
        rest = rest[1:]
    if rest:
        key = rest[0]
    header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]\]?\s*(#.*)?$")
    seen, start = -1, None
    for n, line in enumerate(lines):
        if header.match(line):
            seen += 1
            if index is None or seen == index:
                start = n
                break
    if start is None:
        return None
    if key is None:
        return start + 1
    assignment = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for n in range(start + 1, len(lines)):
        if lines[n].lstrip().startswith("["):
            break
        if assignment.match(lines[n]):
            return n + 1
    return start + 1
