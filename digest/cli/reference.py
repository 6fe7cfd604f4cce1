"""The configuration and command references, as Markdown generated from the code.

Part of the command line because it reads the parser of every command and the config
that all of them take; the docs build calls it, digest itself never does.

In: the config dataclasses of `digest.config` (each field's type, default, and the `# comment`
beside it in the source) and the argparse parser of `digest.cli`. Out: Markdown that the
documentation's MkDocs hook (docs/hooks.py) puts in place of a marker. The code is the one
source of truth, so a key or a command added there is in the docs at the next build, and a
field without a comment is an error here rather than a blank in the reference.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import json
import tokenize
import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from digest import cli
from digest import config as config_module


class UndocumentedError(Exception):
    """A config field has no comment to say what it means."""


@dataclass(frozen=True)
class Key:
    """One key of config.toml, as the reference shows it."""

    key: str  # how it is written: `smtp.port`, or `[[feeds]] url` in an array of tables
    type: str
    default: str  # a TOML value, or "(required)"
    meaning: str


@dataclass(frozen=True)
class Table:
    """One `[table]` or `[[array of tables]]` of config.toml."""

    heading: str  # `[smtp]` or `[[feeds]]`
    intro: str  # the dataclass's docstring, if it has one
    keys: tuple[Key, ...]


def config_tables() -> tuple[Table, ...]:
    """Every table of config.toml in the order of `Config`'s fields, with every key.

    Raises:
        UndocumentedError: a field has no `# comment` (trailing, or on the lines just above).
    """
    source = inspect.getsource(config_module)
    comments = _field_comments(source)
    arrays = _array_classes(source)
    tables = []
    for f in dataclasses.fields(config_module.Config):
        if f.name == "path":  # where the file was read from, not a key in it
            continue
        if f.name in config_module._TABLES:
            cls, array = config_module._TABLES[f.name], False
        elif f.name in arrays:
            cls, array = arrays[f.name], True
        else:
            raise UndocumentedError(
                f"Config.{f.name}: neither in config._TABLES nor read with "
                f"read_table(..., f\"{f.name}[{{i}}]\", SomeClass, ...); the reference cannot "
                "tell which dataclass holds its keys")
        tables.append(_table(f.name, cls, array, comments))
    # the single tables first, then the arrays, as a config file is usually written
    return tuple(sorted(tables, key=lambda t: t.heading.startswith("[[")))


def config_markdown() -> str:
    """The configuration reference: one Markdown table per TOML table."""
    out = []
    for table in config_tables():
        out.append(f"## `{table.heading}`\n")
        if table.intro:
            out.append(f"{table.intro}\n")
        out.append("| key | type | default | meaning |\n|---|---|---|---|")
        for k in table.keys:
            value = k.default.replace("|", "\\|")  # a pipe would end the cell
            default = value if k.default == "(required)" else f"`{value}`"
            out.append(f"| `{k.key}` | {_cell(k.type)} | {default} | {_cell(k.meaning)} |")
        out.append("")
    return "\n".join(out)


def _table(name: str, cls: type, array: bool,
           comments: dict[tuple[str, str], str]) -> Table:
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        meaning = comments.get((cls.__name__, f.name), "")
        if not meaning:
            raise UndocumentedError(
                f"digest/config.py: {cls.__name__}.{f.name} has no comment; add a `# comment` "
                "after it saying what it means to the operator")
        key = f.metadata.get("key", f.name)
        keys.append(Key(key=f"[[{name}]] {key}" if array else f"{name}.{key}",
                        type=_type_name(hints[f.name]), default=_default(f), meaning=meaning))
    return Table(heading=f"[[{name}]]" if array else f"[{name}]",
                 intro=_docstrings(inspect.getsource(config_module)).get(cls.__name__, ""),
                 keys=tuple(keys))


def _field_comments(source: str) -> dict[tuple[str, str], str]:
    """(class, field) -> its comment: the one after it on its line(s), else the comment
    lines right above it (for a meaning too long to share the line)."""
    lines = source.splitlines()
    by_line: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            by_line[token.start[0]] = token.string.lstrip("#").strip()
    found: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            end = item.end_lineno or item.lineno
            trailing = [by_line[n] for n in range(item.lineno, end + 1) if n in by_line]
            above: list[str] = []
            n = item.lineno - 1
            while n in by_line and lines[n - 1].lstrip().startswith("#"):
                above.insert(0, by_line[n])
                n -= 1
            text = " ".join(trailing or above)
            if text:
                found[(node.name, item.target.id)] = text
    return found


def _docstrings(source: str) -> dict[str, str]:
    """Class name -> its docstring, unwrapped (dataclasses invent one when there is none)."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc:
                out[node.name] = " ".join(doc.split())
    return out


def _array_classes(source: str) -> dict[str, type]:
    """Arrays of tables -> their dataclass, from the calls that read them:
    `read_table(path, text, f"feeds[{i}]", FeedConfig, raw)` reads `[[feeds]]`."""
    found: dict[str, type] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "read_table" and len(node.args) >= 4):
            continue
        where, cls = node.args[2], node.args[3]
        if (isinstance(where, ast.JoinedStr) and where.values
                and isinstance(where.values[0], ast.Constant)
                and isinstance(where.values[0].value, str) and isinstance(cls, ast.Name)):
            name = where.values[0].value.split("[", 1)[0]
            found[name] = getattr(config_module, cls.id)
    return found


def _type_name(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Literal:
        choices = [json.dumps(c) for c in get_args(hint)]
        return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    if origin is list:
        (item,) = get_args(hint)
        return f"list of {_type_name(item)}s"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return _toml(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _toml(f.default_factory())
    return "(required)"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no pipes or line ends, and outside code spans
    no `<`, which Markdown would take for an HTML tag (`<selector>._domainkey`)."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


# The command reference ------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command as `digest COMMAND --help` describes it."""

    name: str  # "send", or "subscribers add"
    summary: str
    description: str
    usage: str
    options: tuple[argparse.Action, ...]


def commands(parser: argparse.ArgumentParser | None = None) -> tuple[Command, ...]:
    """Every command of the parser, subcommands of a group (`subscribers add`) included."""
    if parser is None:
        parser = cli._parser()
    return tuple(_walk(parser, ""))


def _walk(parser: argparse.ArgumentParser, prefix: str) -> typing.Iterator[Command]:
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{prefix}{name}"
            yield Command(
                name=full, summary=helps.get(name, ""),
                description=inspect.cleandoc(sub.description or ""),
                usage=_usage(sub), options=tuple(
                    a for a in sub._actions
                    if a.help != argparse.SUPPRESS and not isinstance(
                        a, argparse._HelpAction | argparse._SubParsersAction)))
            yield from _walk(sub, f"{full} ")


def _usage(parser: argparse.ArgumentParser) -> str:
    # A fixed width, so the page does not change with the terminal that builds it.
    formatter = argparse.HelpFormatter(parser.prog, width=96)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        if isinstance(action.metavar, tuple):
            metavar = " " + " ".join(action.metavar)
        elif action.metavar:
            metavar = f" {action.metavar}"
        elif action.choices:
            metavar = " {" + ",".join(str(c) for c in action.choices) + "}"
        else:
            metavar = f" {action.dest.upper()}"
    return ", ".join(f"`{o}{metavar}`" for o in action.option_strings)


def _option_help(action: argparse.Action) -> str:
    text = (action.help or "").replace("%(default)s", str(action.default))
    return text.replace("%%", "%")


def commands_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The command reference: the options every command shares once, then each command with
    its description, usage and its own options."""
    found = commands(parser)
    leaves = [c for c in found if not any(o.name.startswith(c.name + " ") for o in found)]
    shared = [a for a in leaves[0].options if all(
        any(a.option_strings == b.option_strings for b in c.options) for c in leaves)
    ] if leaves else []
    shared_names = [a.option_strings for a in shared]
    out = ["## Options of every command\n", "| option | meaning |", "|---|---|"]
    out += [f"| {_option_names(a)} | {_cell(_option_help(a))} |" for a in shared]
    out.append("")
    out += ["## The commands\n", "| command | does |", "|---|---|"]
    out += [f"| [`digest {c.name}`](#{_anchor(c.name)}) | {_cell(c.summary)} |" for c in found]
    out.append("")
    for c in found:
        depth = "###" if " " in c.name else "##"
        out.append(f"{depth} digest {c.name} {{#{_anchor(c.name)}}}\n")
        if c.description:
            out.append(f"{c.description}\n")
        out.append(f"```text\n{c.usage}\n```\n")
        own = [a for a in c.options if a.option_strings not in shared_names]
        if own:
            out += ["| option | meaning | default |", "|---|---|---|"]
            for a in own:
                said = "default" in (a.help or "")  # the help text already tells it
                if not a.option_strings:
                    default = "(required)" if a.nargs not in ("?", "*") else ""
                elif said or a.default in (None, False, argparse.SUPPRESS):
                    default = ""
                else:
                    default = f"`{a.default}`"
                out.append(f"| {_option_names(a)} | {_cell(_option_help(a))} | {default} |")
            out.append("")
    return "\n".join(out)


def _anchor(name: str) -> str:
    return "digest-" + name.replace(" ", "-")

