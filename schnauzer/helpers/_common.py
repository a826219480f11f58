"""Shared plumbing of the helpers: parameter counts, JSON type tests and error messages.

Every helper error names the helper, the parameter (position and name) and the offending value,
e.g. ``goarch: parameter 1 (arch) = "x86" (from os.arch): unknown architecture, expected one of
x86_64, amd64, aarch64, arm64``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..helper_api import HelperError, Param

__all__ = [
    "Signature",
    "describe",
    "is_integer",
    "is_number",
    "json_type",
]

_MAX_SHOWN = 200


def is_integer(value: Any) -> bool:
    """A JSON integer (``True``/``False`` are booleans, not numbers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number: an integer or a float (never a boolean)."""
    return is_integer(value) or isinstance(value, float)


def json_type(value: Any) -> str:
    """The JSON type name of a value: ``null``, ``boolean``, ``number``, ``string``, ``array``, ``object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe(param: Param) -> str:
    """A parameter's value for an error message: its JSON text (shortened) and where it came from."""
    if param.missing:
        text = "missing"
    else:
        try:
            text = json.dumps(param.value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(param.value)
        if len(text) > _MAX_SHOWN:
            text = text[: _MAX_SHOWN - 3] + "..."
    if param.path is not None:
        text += f" (from {param.path})"
    return text


@dataclass(frozen=True, slots=True)
class Signature:
    """A helper's name and the names of its positional parameters.

    ``check(params)`` enforces the exact count; ``fail(params, index, reason)`` builds the
    ``HelperError`` for one bad parameter.
    """

    helper: str
    names: tuple[str, ...]

    def check(self, params: Sequence[Param]) -> None:
        if len(params) != len(self.names):
            raise HelperError(
                f"{self.helper}: incorrect number of parameters, {len(self.names)} expected "
                f"({' '.join(self.names)}), {len(params)} received"
            )

    def check_at_least(self, params: Sequence[Param]) -> None:
        """For macro-style helpers: extra parameters are ignored, too few is an error."""
        if len(params) < len(self.names):
            missing = self.names[len(params)]
            raise HelperError(f"{self.helper}: couldn't read parameter {len(params) + 1} ({missing})")

    def fail(self, params: Sequence[Param], index: int, reason: str) -> HelperError:
        return HelperError(
            f"{self.helper}: parameter {index + 1} ({self.names[index]}) = {describe(params[index])}: {reason}"
        )

    def string(self, params: Sequence[Param], index: int) -> str:
        """The parameter's value, which must be a string."""
        value = params[index].value
        if not isinstance(value, str):
            raise self.fail(params, index, f"expected a string, got {json_type(value)}")
        return value
