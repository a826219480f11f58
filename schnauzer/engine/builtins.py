"""The value-returning built-in helpers: ``eq ne gt gte lt lte and or not len``.

Each takes a fixed number of leading parameters (extra ones are ignored, as handlebars-rust's
helper macro does) and returns a JSON value. The engine checks the parameter count and, in strict
mode, that no parameter is missing before calling them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thar.schnauzer.engine.values import json_equal, truthy

__all__ = ["VALUE_BUILTINS", "BuiltinTypeError", "ValueBuiltin"]


class BuiltinTypeError(Exception):
    """A built-in received a parameter of the wrong JSON type (e.g. a string for ``gt``)."""


@dataclass(frozen=True, slots=True)
class ValueBuiltin:
    name: str
    arg_names: tuple[str, ...]
    fn: Callable[..., Any]


def _as_i64(name: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        shown = json.dumps(value)
        raise BuiltinTypeError(f"`{name}` helper: parameter {arg} must be an integer, got {shown}")
    return value


def _compare(name: str, op: Callable[[int, int], bool]) -> ValueBuiltin:
    def fn(x: Any, y: Any) -> bool:
        return op(_as_i64(name, "x", x), _as_i64(name, "y", y))

    return ValueBuiltin(name, ("x", "y"), fn)


def _len(x: Any) -> int:
    if isinstance(x, str):
        return len(x.encode("utf-8"))
    if isinstance(x, (list, tuple, dict)):
        return len(x)
    return 0


VALUE_BUILTINS: dict[str, ValueBuiltin] = {
    "eq": ValueBuiltin("eq", ("x", "y"), json_equal),
    "ne": ValueBuiltin("ne", ("x", "y"), lambda x, y: not json_equal(x, y)),
    "gt": _compare("gt", lambda x, y: x > y),
    "gte": _compare("gte", lambda x, y: x >= y),
    "lt": _compare("lt", lambda x, y: x < y),
    "lte": _compare("lte", lambda x, y: x <= y),
    "and": ValueBuiltin("and", ("x", "y"), lambda x, y: truthy(x) and truthy(y)),
    "or": ValueBuiltin("or", ("x", "y"), lambda x, y: truthy(x) or truthy(y)),
    "not": ValueBuiltin("not", ("x",), lambda x: not truthy(x)),
    "len": ValueBuiltin("len", ("x",), _len),
}
