"""Model errors in words a user can act on: one line per problem, naming the dotted setting,
the value given and the rule broken.

    settings.ntp.time-servers[1] = "how are you": Unable to deserialize into Url: …
    settings.motdd: unknown field; did you mean settings.motd?
    settings.kernel.bogus: unknown field (allowed: lockdown, modules, sysctl)
    settings.kubernetes.max-pods = -1: out of range: input should be greater than or equal to 0
    settings.ntp.options[0] = "iburst\nserver evil": U+000A (line feed) is a control character: …

A refused control character is reported at the string that holds it (a list item, a map key or
value), not at the field.
"""

from __future__ import annotations

import difflib
import json
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .base import CONTROL_CHARACTER, find_control_character

__all__ = ["CLOSE", "ModelError", "format_errors"]

CLOSE = 0.7
"""How alike (difflib's ratio) a misspelled name and a real one must be for the real one to be
suggested: `motdd`/`motd`, `servers`/`time-servers`, but not `kubernetes`/`kernel`."""


class ModelError(ValueError):
    """Input does not fit the settings model; ``lines`` holds one message per problem."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def format_errors(exc: ValidationError, root: str = "settings", model: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic ValidationError into one line per error (see the module docstring)."""
    lines = []
    for error in exc.errors(include_url=False):
        path = _path(root, error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_fields(model, error["loc"][:-1])
            given = error["loc"][-1]
            guess = difflib.get_close_matches(given, allowed, n=1, cutoff=CLOSE) if isinstance(given, str) else []
            if guess:
                hint = f"; did you mean {_path(root, (*error['loc'][:-1], guess[0]))}?"
            else:
                hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{path}: unknown field{hint}")
            continue
        if kind == "missing":
            lines.append(f"{path}: required field missing")
            continue
        if kind == CONTROL_CHARACTER:
            ctx = error["ctx"]
            lines.append(f"{_path(root, (*error['loc'], *ctx['where']))} = {_show(ctx['value'])}: {error['msg']}")
            continue
        lines.append(f"{path} = {_show(error.get('input'))}: {_message(error)}")
    return lines


def _path(root: str, loc: tuple[int | str, ...]) -> str:
    text = root
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (map key)"
        elif find_control_character(part) is not None:  # shown escaped
            text += f".{_json(part)}" if text else _json(part)
        elif any(c in part for c in '.[] "'):
            text += f'."{part}"' if text else f'"{part}"'
        else:
            text += f".{part}" if text else part
    return text


_UNPRINTED = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json(value: Any) -> str:
    """JSON text with every control character escaped (json.dumps leaves DEL, C1, U+2028/9 as they are)."""
    return _UNPRINTED.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _show(value: Any) -> str:
    try:
        text = _json(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _message(error: Any) -> str:
    kind, msg, ctx = error["type"], error["msg"], error.get("ctx") or {}
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        return f"out of range: {msg[0].lower()}{msg[1:]}"
    if kind.endswith("_type") or kind == "int_from_float":
        expected = kind.removesuffix("_type").replace("int_from_float", "int")
        names = {
            "int": "an integer",
            "string": "a string",
            "bool": "true or false",
            "dict": "an object",
            "list": "a list",
            "model": "an object",
            "float": "a number",
        }
        return f"must be {names.get(expected, expected)} (no conversion from other types)"
    if ctx:
        return str(msg)
    return str(msg)


def _allowed_fields(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    """The field names accepted where an unknown field was found, when the path leads to a struct
    (through struct fields, map entries and list elements)."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    struct = _struct_of(current)
    if struct is not None:
        return sorted(f.alias or name for name, f in struct.model_fields.items())
    return []


def _step(annotation: Any, part: int | str) -> Any:
    """The type found one path step below ``annotation``."""
    struct = _struct_of(annotation)
    if struct is not None and isinstance(part, str):
        field = next((f for f in struct.model_fields.values() if f.alias == part), None)
        return None if field is None else field.annotation
    for candidate in _alternatives(annotation):
        origin = get_origin(candidate)
        if origin is dict and isinstance(part, str):
            return get_args(candidate)[1]
        if origin is list and isinstance(part, int):
            return get_args(candidate)[0]
    return None


def _alternatives(annotation: Any) -> list[Any]:
    """``annotation`` with Annotated and Optional unwrapped into its alternatives."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [alt for arg in get_args(annotation) for alt in _alternatives(arg)]
    return [annotation]


def _struct_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in _alternatives(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
