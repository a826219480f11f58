"""Which dotted names the settings model has: a typo is told apart from a setting that has no value.

    unknown_name(model, "settings.motdd")        -> "settings.motdd: no such setting; did you mean settings.motd?"
    unknown_name(model, "settings.motd")         -> None (the model has it, set or not)
    unknown_name(model, "settings.mo", prefix=True) -> None (a prefix of `settings.motd`)
    unknown_name(model, "settings.host-containers.admin.sorce")
        -> "...; did you mean settings.host-containers.admin.source?"

Names are walked segment by segment: a struct has its fields, a map (`node-labels`,
`host-containers`) takes any key and goes on into its values, anything else ends the name.
"""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from .errors import CLOSE, _alternatives, _struct_of

__all__ = ["nearest_field", "split_name", "unknown_name"]


def split_name(name: str) -> list[str]:
    """`settings.kernel.sysctl."a.b"` -> `["settings", "kernel", "sysctl", "a.b"]`; a trailing dot
    is dropped (`settings.` -> `["settings"]`)."""
    segments, current, quoted = [], "", False
    for char in name:
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            segments.append(current)
            current = ""
        else:
            current += char
    if current or not segments:
        segments.append(current)
    return segments


def nearest_field(given: str, names: list[str]) -> str | None:
    """The name among ``names`` closest to ``given`` (difflib), if any is close enough."""
    matches = difflib.get_close_matches(given, names, n=1, cutoff=CLOSE)
    return matches[0] if matches else None


def _show(segment: str) -> str:
    return f'"{segment}"' if any(c in segment for c in '.[] "') else segment


def _map_value(annotation: Any) -> tuple[bool, Any]:
    for candidate in _alternatives(annotation):
        if get_origin(candidate) is dict:
            return True, get_args(candidate)[1]
    return False, None


def unknown_name(model: type[BaseModel], name: str, *, prefix: bool = False, root: str = "settings") -> str | None:
    """None when ``name`` (``settings.…``) is in ``model`` — with ``prefix``, when some setting's
    name starts with it — else a message naming it and the nearest existing setting."""
    segments = split_name(name)
    if segments[0] != root:
        if prefix and root.startswith(name):
            return None
        return f"{name}: no such setting; settings are under '{root}.'"
    partial = prefix and not name.endswith(".")
    current: Any = model
    walked = root
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        is_map, value = _map_value(current)
        if is_map:
            current, walked = value, f"{walked}.{_show(segment)}"
            continue
        struct = _struct_of(current)
        if struct is None:
            return f"{name}: no such setting; {walked} holds a value, it has no settings below it"
        fields = {field.alias or key: field.annotation for key, field in struct.model_fields.items()}
        if segment in fields:
            current, walked = fields[segment], f"{walked}.{_show(segment)}"
            continue
        if last and partial and any(field.startswith(segment) for field in fields):
            return None
        guess = nearest_field(segment, sorted(fields))
        hint = (
            f"; did you mean {walked}.{_show(guess)}?"
            if guess
            else f" (known under {walked}: {', '.join(sorted(fields))})"
        )
        return f"{name}: no such setting{hint}"
    return None
