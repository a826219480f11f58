"""JSON value semantics of the engine: display, HTML escaping, truthiness and equality."""

from __future__ import annotations

import sys
from typing import Any, Final

from thar.schnauzer.display import display_scalar

__all__ = [
    "MISSING",
    "Missing",
    "display_value",
    "escape_html",
    "json_equal",
    "truthy",
]


class Missing:
    """The result of a path that resolves to nothing (distinct from a present JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = Missing()

_MIN_NORMAL: Final = sys.float_info.min

_ESCAPES: Final = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)


def escape_html(text: str) -> str:
    """The default Handlebars escape: ``& < > " ' ` =`` become entities."""
    return text.translate(_ESCAPES)


def display_value(value: Any) -> str:
    """Text of any JSON value as ``{{expr}}`` prints it (before escaping).

    Arrays print every element followed by ``", "`` inside brackets (``[a, b, ]``, ``[]``) and
    objects print ``[object]``; a present null (or a missing value in non-strict mode) is empty.
    """
    if value is MISSING:
        return ""
    if isinstance(value, (list, tuple)):
        return "[" + "".join(display_value(item) + ", " for item in value) + "]"
    if isinstance(value, dict):
        return "[object]"
    return display_scalar(value)


def truthy(value: Any, include_zero: bool = False) -> bool:
    """Handlebars truthiness as handlebars-rust 4.x defines it.

    Numbers are truthy when they are non-zero *normal* floats (0, -0 and subnormals are falsy),
    or any non-NaN number with ``include_zero``; empty strings, arrays and objects are falsy
    (``{}`` too), as are null and missing values.
    """
    if value is True or value is False:
        return bool(value)
    if value is None or value is MISSING:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, int):
        return include_zero or value != 0
    if isinstance(value, float):
        if include_zero:
            return value == value
        return _MIN_NORMAL <= abs(value) < float("inf")
    if isinstance(value, (list, tuple, dict)):
        return len(value) > 0
    return bool(value)


def json_equal(left: Any, right: Any) -> bool:
    """serde_json ``Value`` equality: types must match, so ``1 != 1.0`` and ``true != 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int) and isinstance(right, int):
        return left == right
    if isinstance(left, float) and isinstance(right, float):
        return left == right
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        return False
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    return False
