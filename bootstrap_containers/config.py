"""Reading the files thar-be-settings renders from ``settings.bootstrap-containers`` and
``settings.bootstrap-commands`` (the variants' ``bootstrap-containers-toml`` and
``bootstrap-commands-toml`` templates), as Bottlerocket's programs read theirs.

Both files hold one table per entry, named for it (``["name"]``). A bootstrap-commands file
in the layout of Bottlerocket's template (``[bootstrap-commands."name"]``) is read too.
The values are checked as the API checked them (modes, names, types); a file that does not
pass is refused as a whole, as Bottlerocket's deserialization refuses it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "MODES",
    "BootstrapCommand",
    "BootstrapContainer",
    "load_commands",
    "load_containers",
]

MODES = ("off", "once", "always")
"""Bottlerocket's ``BootstrapMode``; ``off`` is the default."""

# Bottlerocket's Identifier (ASCII alphanumerics and '-', at most 76), not empty: a name
# becomes a file name and a systemd instance name.
_NAME = re.compile(r"[A-Za-z0-9-]{1,76}")


@dataclass(frozen=True)
class BootstrapContainer:
    """One ``settings.bootstrap-containers`` entry; ``source`` None when the setting is unset."""

    name: str
    source: str | None
    mode: str = "off"
    user_data: str | None = None
    essential: bool = False


@dataclass(frozen=True)
class BootstrapCommand:
    """One ``settings.bootstrap-commands`` entry: command lines whose first word is ``apiclient``."""

    name: str
    commands: tuple[tuple[str, ...], ...] = ()
    mode: str = "off"
    essential: bool = False


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, err.strerror or str(err)) from err
    except UnicodeDecodeError as err:
        raise ConfigError(path, f"not UTF-8: {err}") from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, f"not TOML: {err}") from err


def _entries(path: Path, document: dict[str, Any], allowed: set[str]) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in document.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(
                path, f"'{name}' is not a valid name (ASCII alphanumerics and hyphens, 1 to 76 characters)"
            )
        if not isinstance(entry, dict):
            raise ConfigError(path, f"'{name}' is not a table")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ConfigError(path, f"'{name}': unknown field '{unknown[0]}'")
        entries[name] = entry
    return entries


def _mode(path: Path, name: str, entry: dict[str, Any]) -> str:
    mode = entry.get("mode", "off")
    if mode not in MODES:
        raise ConfigError(path, f"'{name}': invalid bootstrap mode {mode!r} (expected off, once or always)")
    return str(mode)


def _essential(path: Path, name: str, entry: dict[str, Any]) -> bool:
    essential = entry.get("essential", False)
    if not isinstance(essential, bool):
        raise ConfigError(path, f"'{name}': essential must be true or false, not {essential!r}")
    return essential


def _string(path: Path, name: str, entry: dict[str, Any], field: str) -> str | None:
    value = entry.get(field)
    if value is not None and not isinstance(value, str):
        raise ConfigError(path, f"'{name}': {field} must be a string, not {value!r}")
    return value


def load_containers(path: Path) -> list[BootstrapContainer]:
    """The bootstrap containers of the rendered file, in the file's order. Raises ``ConfigError``."""
    entries = _entries(path, _read(path), {"source", "mode", "user-data", "essential"})
    return [
        BootstrapContainer(
            name=name,
            source=_string(path, name, entry, "source"),
            mode=_mode(path, name, entry),
            user_data=_string(path, name, entry, "user-data"),
            essential=_essential(path, name, entry),
        )
        for name, entry in entries.items()
    ]


def _is_wrapper(value: object) -> bool:
    """Bottlerocket's layout: one ``bootstrap-commands`` table whose values are the entries'
    tables (an entry of thar's layout always has scalar fields)."""
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())


def _commands(path: Path, name: str, entry: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    commands = entry.get("commands", [])
    if not isinstance(commands, list):
        raise ConfigError(path, f"'{name}': commands must be a list of command lines")
    lines = []
    for number, command in enumerate(commands):
        if not isinstance(command, list) or not all(isinstance(word, str) for word in command):
            raise ConfigError(path, f"'{name}': commands[{number}] is not a list of strings")
        if not command or command[0] != "apiclient":
            raise ConfigError(path, f"'{name}': commands[{number}] {command!r}: the first word must be apiclient")
        lines.append(tuple(command))
    return tuple(lines)


def load_commands(path: Path) -> list[BootstrapCommand]:
    """The bootstrap commands of the rendered file, sorted by name (their run order, as
    Bottlerocket's BTreeMap). Raises ``ConfigError``."""
    document = _read(path)
    if list(document) == ["bootstrap-commands"] and _is_wrapper(document["bootstrap-commands"]):
        document = document["bootstrap-commands"]
    entries = _entries(path, document, {"commands", "mode", "essential"})
    return [
        BootstrapCommand(
            name=name,
            commands=_commands(path, name, entry),
            mode=_mode(path, name, entry),
            essential=_essential(path, name, entry),
        )
        for name, entry in sorted(entries.items(), key=lambda item: item[0].encode())
    ]
