"""``toml_encode``: a JSON value as one inline TOML value, as Bottlerocket prints it (spec §6.2).

Bottlerocket converts the JSON value to a TOML value and prints it with the toml crate's value
display. This module reproduces that text:

* strings pick their quoting style the way the printer infers it - a string holding ``"`` or
  ``\\`` is written as a literal string (``'…'``, ``'''…'''``) when a literal can hold it,
  otherwise as a basic string with escapes;
* integers must fit in i64; floats print as plain decimals, integral ones with ``.0``;
* arrays print as ``[a, b]``, objects as inline tables ``{ k = v }``. Inside a table the printer
  emits plain values first, then arrays holding tables, then tables (a TOML rule it enforces);
  within each group keys keep the object's order;
* ``null`` anywhere is an error (TOML has no null).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["TomlEncodeError", "encode_key", "encode_string", "encode_value"]

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class TomlEncodeError(ValueError):
    """The value has no TOML form (null, an integer outside i64, a non-finite float)."""


def _is_control(ch: str) -> bool:
    return ch <= "\x1f" or ch == "\x7f"


def _infer_style(value: str) -> tuple[bool, bool]:
    """``(multiline, literal)`` as the TOML printer infers them for a string value."""
    multiline = "\n" in value
    prefer_literal = False
    can_be_pretty = True
    run = 0
    for ch in value:
        if ch == "'":
            run += 1
            if run >= 3:
                can_be_pretty = False
        else:
            run = 0
        if ch in '\\"':
            prefer_literal = True
        elif ch not in "\t\n" and _is_control(ch):
            can_be_pretty = False
    if value.endswith("'"):
        # a literal string cannot end with its own delimiter
        can_be_pretty = False
    return multiline, can_be_pretty and prefer_literal


def _basic(value: str, multiline: bool) -> str:
    out = []
    for ch in value:
        if ch == "\b":
            out.append("\\b")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\n" if multiline else "\\n")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\r":
            out.append("\\r")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif _is_control(ch):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    body = "".join(out)
    return f'"""\n{body}"""' if multiline else f'"{body}"'


def encode_string(value: str) -> str:
    """A TOML string value: ``'a"b'``, ``'''it's "x"'''``, ``"plain"``, ``\"\"\"⏎two⏎lines\"\"\"``."""
    multiline, literal = _infer_style(value)
    if literal:
        if multiline:
            return f"'''\n{value}'''"
        if "'" in value:
            return f"'''{value}'''"
        return f"'{value}'"
    return _basic(value, multiline)


def encode_key(key: str) -> str:
    """A key of an inline table: bare when it can be, else a one-line quoted string."""
    if _BARE_KEY.fullmatch(key):
        return key
    literal = (
        any(ch in '\\"' for ch in key) and "'" not in key and not any(_is_control(ch) and ch != "\t" for ch in key)
    )
    return f"'{key}'" if literal else _basic(key, multiline=False)


def _encode_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise TomlEncodeError(f"cannot encode the float {value} (JSON has no such number)")
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if value.is_integer():
        return f"{int(value)}.0"
    return format(Decimal(repr(value)), "f")


def _has_table(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def encode_value(value: Any) -> str:
    """The inline TOML text of a JSON value; raises TomlEncodeError for null or an out-of-range integer."""
    if value is None:
        raise TomlEncodeError("TOML has no null value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _I64_MIN <= value <= _I64_MAX:
            raise TomlEncodeError(f"integer {value} is outside the TOML (i64) range")
        return str(value)
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(encode_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = list(value.items())
        ordered = (
            [(k, v) for k, v in items if not isinstance(v, dict) and not _has_table(v)]
            + [(k, v) for k, v in items if _has_table(v)]
            + [(k, v) for k, v in items if isinstance(v, dict)]
        )
        return "{ " + ", ".join(f"{encode_key(str(k))} = {encode_value(v)}" for k, v in ordered) + " }"
    raise TomlEncodeError(f"cannot encode a {type(value).__name__}")
