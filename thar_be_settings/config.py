"""Services and configuration files as the API describes them, and where they live on disk.

`Service` and `ConfigFile` are parsed from the API's `/services` and `/configuration-files`
answers (spec/thar-be-settings.md §9). `resolve` places a configured absolute path under the
sandbox root (`THAR_ROOT` / `--root`): `/etc/motd` becomes `$THAR_ROOT/etc/motd`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thar.thar_be_settings.errors import ApiError

__all__ = ["ConfigFile", "Service", "parse_files", "parse_services", "resolve"]


def resolve(root: Path | None, path: str) -> Path:
    """`path` under `root` (None or `/` = the real root). `..` cannot climb out of the root."""
    if root is None or str(root) == "/":
        return Path(path)
    inside = os.path.normpath("/" + path).lstrip("/")
    return root / inside


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """One configuration file: where it is written, its template, and its mode text (None = 0644)."""

    name: str
    path: str
    template_path: str
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """One service: the configuration files it reads and the commands that restart it."""

    name: str
    configuration_files: tuple[str, ...]
    restart_commands: tuple[str, ...]


def _strings(owner: str, field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(f"'{owner}' has a '{field}' that is not a list of strings: {value!r}")
    return tuple(value)


def parse_services(answer: Mapping[str, Any]) -> dict[str, Service]:
    """`{name: {"configuration-files": [...], "restart-commands": [...]}}` → `{name: Service}`."""
    parsed = {}
    for name, entry in answer.items():
        if not isinstance(entry, dict):
            raise ApiError(f"Service '{name}' is not an object: {entry!r}")
        files = _strings(name, "configuration-files", entry.get("configuration-files", []))
        commands = _strings(name, "restart-commands", entry.get("restart-commands", []))
        parsed[name] = Service(name, files, commands)
    return parsed


def parse_files(answer: Mapping[str, Any]) -> dict[str, ConfigFile]:
    """`{name: {"path", "template-path", "mode"?}}` → `{name: ConfigFile}`."""
    parsed = {}
    for name, entry in answer.items():
        if not isinstance(entry, dict):
            raise ApiError(f"Configuration file '{name}' is not an object: {entry!r}")
        path, template, mode = entry.get("path"), entry.get("template-path"), entry.get("mode")
        if not isinstance(path, str) or not isinstance(template, str):
            raise ApiError(f"Configuration file '{name}' needs string 'path' and 'template-path': {entry!r}")
        if mode is not None and not isinstance(mode, str):
            raise ApiError(f"Configuration file '{name}' has a 'mode' that is not a string: {mode!r}")
        parsed[name] = ConfigFile(name, path, template, mode)
    return parsed
