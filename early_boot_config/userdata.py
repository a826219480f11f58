"""User data: a TOML document whose `[settings]` table becomes the settings to PATCH.

TOML is read with the standard library's `tomllib` (TOML 1.0): a syntax error, a duplicate
key or table names its line and column; a duplicate names the table or key by its TOML name and
the line of its first definition. Every top-level entry other than `settings` is
ignored. A TOML date or time cannot be a setting; it is reported with its dotted key.
"""

from __future__ import annotations

import datetime
import tomllib
from typing import Any

from .errors import UserDataError
from .toml_errors import describe_toml_error

__all__ = ["find_datetime", "parse_user_data"]


def parse_user_data(text: str, source: str) -> dict[str, Any]:
    """The `settings` table of a user-data document (without the `settings` wrapper).

    Raises `UserDataError` for bad TOML (`… (at line L, column C)`), a missing `settings`
    table, a `settings` that is not a table, or a date/time value.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserDataError(source, f"Error parsing TOML user data: {describe_toml_error(exc, text)}") from None
    if "settings" not in document:
        raise UserDataError(source, "TOML data did not contain 'settings' section")
    settings = document["settings"]
    if not isinstance(settings, dict):
        raise UserDataError(source, f"'settings' must be a table, not a {_toml_type(settings)}")
    found = find_datetime(settings, "settings")
    if found is not None:
        key, value = found
        raise UserDataError(
            source,
            f"{key} = {value.isoformat()}: a TOML date/time cannot be a setting; quote it to make it a string",
        )
    return settings


def find_datetime(value: Any, key: str) -> tuple[str, datetime.date | datetime.time] | None:
    """The first date or time in a TOML value, with its dotted key (list items as `[i]`)."""
    if isinstance(value, datetime.date | datetime.time):
        return key, value
    if isinstance(value, dict):
        for name, inner in value.items():
            found = find_datetime(inner, f"{key}.{_segment(name)}")
            if found is not None:
                return found
    if isinstance(value, list):
        for index, inner in enumerate(value):
            found = find_datetime(inner, f"{key}[{index}]")
            if found is not None:
                return found
    return None


def _segment(name: str) -> str:
    return f'"{name}"' if "." in name or not name else name


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__
