"""tomllib's errors in user-data words: the table or key by its dotted TOML name, with the line
where it was first defined.

    Cannot declare ('settings', 'kubernetes') twice (at line 3, column 21)
 -> table [settings.kubernetes] is declared twice: at line 3, first at line 1

    Cannot overwrite a value (at line 3, column 7)
 -> key settings.motd is set twice: at line 3, first at line 2

Anything else keeps tomllib's words, which already name the line and column.
"""

from __future__ import annotations

import ast
import re
import tomllib

__all__ = ["describe_toml_error"]

_WHERE = re.compile(r" \(at line (\d+), column (\d+)\)$")
_TUPLE = re.compile(r"\((?:'[^']*'|\"[^\"]*\"|, ?)*,?\)")
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*="""
)


def dotted(parts: tuple[str, ...] | list[str]) -> str:
    """`('settings', 'a.b')` -> `settings."a.b"`."""
    return ".".join(part if _BARE.fullmatch(part) else '"' + part.replace('"', '\\"') + '"' for part in parts)


def _split_key(text: str) -> list[str] | None:
    """A TOML dotted key's segments: `a."b.c".d` -> `["a", "b.c", "d"]`; None if it does not parse."""
    try:
        parsed = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts: list[str] = []
    node = parsed
    while isinstance(node, dict) and len(node) == 1:
        ((name, node),) = node.items()
        parts.append(name)
    return parts


def _definitions(lines: list[str], upto: int) -> tuple[dict[tuple[str, ...], int], list[tuple[str, ...]]]:
    """First line (1-based) of each table header and key assignment before line ``upto``, and the
    table each line is in."""
    first: dict[tuple[str, ...], int] = {}
    tables: list[tuple[str, ...]] = []
    table: tuple[str, ...] = ()
    for number, line in enumerate(lines[:upto], start=1):
        header = _HEADER.match(line)
        if header and "=" not in line.split("]", 1)[0]:
            parts = _split_key(header.group(2))
            if parts is not None:
                table = tuple(parts)
                first.setdefault(table, number)
        else:
            assign = _ASSIGN.match(line)
            if assign:
                parts = _split_key(assign.group(1))
                if parts is not None:
                    key = (*table, *parts)
                    for end in range(len(table) + 1, len(key) + 1):
                        first.setdefault(key[:end], number)
        tables.append(table)
    return first, tables


def describe_toml_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """The error's message with Python's tuples replaced by TOML names and the first definition's line."""
    message = str(exc)
    where = _WHERE.search(message)
    if where is None:
        return message
    line_number = int(where.group(1))
    reason = message[: where.start()]
    lines = text.splitlines()
    first, tables = _definitions(lines, line_number)
    declared = re.fullmatch(r"Cannot declare (.+) twice", reason)
    if declared and _TUPLE.fullmatch(declared.group(1)):
        parts = tuple(ast.literal_eval(declared.group(1)))
        earlier = first.get(parts)
        seen = f", first at line {earlier}" if earlier is not None and earlier != line_number else ""
        return f"table [{dotted(parts)}] is declared twice: at line {line_number}{seen}"
    immutable = re.fullmatch(r"Cannot mutate immutable namespace (.+)", reason)
    if immutable and _TUPLE.fullmatch(immutable.group(1)):
        parts = tuple(ast.literal_eval(immutable.group(1)))
        earlier = first.get(parts)
        seen = f" at line {earlier}" if earlier is not None else ""
        return (
            f"{dotted(parts)} was given whole as an inline table or array{seen} and cannot be added to "
            f"at line {line_number}"
        )
    redefined = re.fullmatch(r"Cannot redefine namespace (.+)", reason)
    if redefined and _TUPLE.fullmatch(redefined.group(1)):
        parts = tuple(ast.literal_eval(redefined.group(1)))
        earlier = first.get(parts)
        seen = f" at line {earlier}" if earlier is not None else ""
        return (
            f"table [{dotted(parts)}] was declared{seen} and cannot be added to by dotted keys "
            f"from another table at line {line_number}"
        )
    if reason == "Cannot overwrite a value" and 0 < line_number <= len(lines):
        line = lines[line_number - 1]
        table = tables[line_number - 2] if line_number >= 2 else ()
        header = _HEADER.match(line)
        assign = _ASSIGN.match(line)
        if header and not assign:
            segments = _split_key(header.group(2))
            key = None if segments is None else tuple(segments)
            kind = "table"
        elif assign:
            segments = _split_key(assign.group(1))
            key = None if segments is None else (*table, *segments)
            kind = "key"
        else:
            key = None
        if key is not None:
            earlier = next((first[key[:end]] for end in range(len(key), 0, -1) if key[:end] in first), None)
            if kind == "table":
                seen = f" set at line {earlier}" if earlier is not None else ""
                return f"table [{dotted(key)}] at line {line_number} redefines {dotted(key)}, a value{seen}"
            seen = f", first at line {earlier}" if earlier is not None else ""
            return f"key {dotted(key)} is set twice: at line {line_number}{seen}"
    return message
