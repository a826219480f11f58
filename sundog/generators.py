"""What sundog runs: setting generators from metadata, and which of them to skip.

`GET /metadata/setting-generators` answers `{"<data key>": <setting-generator metadata>}`.
The metadata is either a command string (Bottlerocket's form) or a table
`{command, skip-if-populated = true, strength = "strong"}` (the later upstream form); the
string form means `{command, skip-if-populated = true, strength = "strong"}`.

A generator is skipped when its setting is already populated in live: some live leaf key
starts with the generator's key segment-wise (`settings.boot` is populated by
`settings.boot.kernel.x`; `settings.network.hostname` is not populated by
`settings.network.hostname-override`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidCommand, InvalidGeneratorKey, InvalidGenerators

__all__ = [
    "Generator",
    "KeyPath",
    "flatten_leaves",
    "is_populated",
    "parse_generators",
    "place",
    "split_command",
    "split_key",
]

KeyPath = tuple[str, ...]
"""A data key as its segments: `settings.kernel.sysctl."a.b"` is `("settings", "kernel", "sysctl", "a.b")`."""

_TABLE_FIELDS = {"command", "skip-if-populated", "strength"}


@dataclass(frozen=True)
class Generator:
    """One setting generator: the data key it fills and how."""

    key: str
    path: KeyPath
    command: str
    skip_if_populated: bool = True
    strength: str = "strong"


def split_key(key: str) -> KeyPath:
    """Split a data key into segments: dots separate them, `"…"` quotes a segment holding dots.

    Raises `InvalidGeneratorKey` for an empty key or segment, or an unterminated quote.
    """
    segments: list[str] = []
    i, n = 0, len(key)
    if not key:
        raise InvalidGeneratorKey(key, "the key is empty")
    while True:
        if i < n and key[i] == '"':
            end = key.find('"', i + 1)
            if end < 0:
                raise InvalidGeneratorKey(key, "unterminated quoted segment")
            segment, i = key[i + 1 : end], end + 1
            if i < n and key[i] != ".":
                raise InvalidGeneratorKey(key, "a quoted segment must be followed by '.' or the end")
        else:
            end = key.find(".", i)
            end = n if end < 0 else end
            segment, i = key[i:end], end
            if '"' in segment:
                raise InvalidGeneratorKey(key, "a quote may only start a segment")
        if not segment:
            raise InvalidGeneratorKey(key, "empty segment")
        segments.append(segment)
        if i >= n:
            return tuple(segments)
        i += 1  # the dot
        if i >= n:
            raise InvalidGeneratorKey(key, "the key ends with '.'")


def parse_generators(value: Any) -> list[Generator]:
    """The generators of a `GET /metadata/setting-generators` answer, sorted by key.

    Raises `InvalidGenerators` when the answer is not a map, a value is neither a string nor a
    valid table, and `InvalidGeneratorKey` for a key that does not parse.
    """
    if not isinstance(value, Mapping):
        raise InvalidGenerators(f"expected a JSON object, got {type(value).__name__}")
    generators = []
    for key in sorted(value):
        meta = value[key]
        path = split_key(key)
        if len(path) < 2 or path[0] != "settings":
            raise InvalidGeneratorKey(key, "only settings (keys under 'settings.') can be generated")
        if isinstance(meta, str):
            generators.append(Generator(key, path, meta))
        elif isinstance(meta, Mapping):
            generators.append(_table_generator(key, path, meta))
        else:
            raise InvalidGenerators(
                f"the generator of '{key}' must be a command string or a table with 'command', "
                f"not {type(meta).__name__}"
            )
    return generators


def _table_generator(key: str, path: KeyPath, meta: Mapping[str, Any]) -> Generator:
    unknown = sorted(set(meta) - _TABLE_FIELDS)
    if unknown:
        raise InvalidGenerators(
            f"the generator of '{key}' has unknown field(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(_TABLE_FIELDS))})"
        )
    command = meta.get("command")
    if not isinstance(command, str):
        raise InvalidGenerators(f"the generator of '{key}' needs 'command', a string")
    skip = meta.get("skip-if-populated", True)
    if not isinstance(skip, bool):
        raise InvalidGenerators(f"'skip-if-populated' of the generator of '{key}' must be true or false")
    strength = meta.get("strength", "strong")
    if strength not in ("strong", "weak"):
        raise InvalidGenerators(f"'strength' of the generator of '{key}' must be 'strong' or 'weak'")
    return Generator(key, path, command, skip, strength)


def split_command(key: str, command: str) -> list[str]:
    """Split a command line into words as a POSIX shell would, without expanding anything:
    whitespace separates words, `'…'` is literal, `"…"` lets a backslash escape `$ ` \\ "` and
    newline, and outside quotes a backslash escapes any character.

    As upstream, splitting stops silently at an unbalanced quote or a trailing backslash (the
    words before it are used). No words at all raises `InvalidCommand`.
    """
    words: list[str] = []
    i, n = 0, len(command)
    while True:
        while i < n and command[i] in " \t\n":
            i += 1
        if i >= n:
            break
        word: list[str] = []
        complete = True
        while i < n and command[i] not in " \t\n":
            c = command[i]
            if c == "\\":
                if i + 1 >= n:
                    complete = False
                    break
                if command[i + 1] != "\n":
                    word.append(command[i + 1])
                i += 2
            elif c == "'":
                end = command.find("'", i + 1)
                if end < 0:
                    complete = False
                    break
                word.append(command[i + 1 : end])
                i = end + 1
            elif c == '"':
                i += 1
                while i < n and command[i] != '"':
                    if command[i] == "\\" and i + 1 < n and command[i + 1] in '$`"\\\n':
                        if command[i + 1] != "\n":
                            word.append(command[i + 1])
                        i += 2
                    else:
                        word.append(command[i])
                        i += 1
                if i >= n:
                    complete = False
                    break
                i += 1
            else:
                word.append(c)
                i += 1
        if not complete:
            break
        words.append("".join(word))
    if not words:
        raise InvalidCommand(key, command)
    return words


def flatten_leaves(value: Any, prefix: KeyPath = ()) -> set[KeyPath]:
    """Every key holding a present value in a nested JSON object (objects are walked, anything
    else, `null` aside, is a leaf)."""
    if isinstance(value, Mapping):
        found: set[KeyPath] = set()
        for name, inner in value.items():
            found |= flatten_leaves(inner, (*prefix, name))
        return found
    if value is None or not prefix:
        return set()
    return {prefix}


def is_populated(path: KeyPath, populated: Iterable[KeyPath]) -> bool:
    """True when some populated key is `path` or lies below it (compared by segments)."""
    size = len(path)
    return any(leaf[:size] == path for leaf in populated)


def place(target: dict[str, Any], path: KeyPath, value: Any) -> None:
    """Put `value` at `path` in a nested object, creating objects on the way (merging objects)."""
    node = target
    for segment in path[:-1]:
        inner = node.get(segment)
        if not isinstance(inner, dict):
            inner = node[segment] = {}
        node = inner
    last = path[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        _merge(node[last], value)
    else:
        node[last] = value


def _merge(left: dict[str, Any], right: Mapping[str, Any]) -> None:
    for name, value in right.items():
        if isinstance(value, dict) and isinstance(left.get(name), dict):
            _merge(left[name], value)
        else:
            left[name] = value
