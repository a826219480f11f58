"""The contract between the Handlebars engine (``schnauzer.engine``) and the helpers.

A template calls a helper as ``{{name p1 p2 k=v}}``, ``{{#name p1}}…{{else}}…{{/name}}`` or in a
subexpression ``(name p1)``. The engine evaluates the parameters and calls ``Helper.fn``; what it
does with the result depends on the helper's kind (spec/schnauzer.md §6.1):

``STRING``
    ``fn(params, hash) -> str``. The text is written raw (never HTML-escaped), also inside
    ``{{ }}``; as a subexpression it is a JSON string. A missing parameter arrives as ``None``
    (``Param.missing`` tells it apart from a present ``null``). Block-calling it runs it and
    ignores the block.
``VALUE``
    ``fn(params, hash) -> Any`` returning a JSON value (bool, number, str, list, dict, None). In
    ``{{ }}`` it is displayed like a path value and HTML-escaped; as a subexpression it stays
    typed. ``strict_params`` is the number of leading parameters the helper declares (as
    handlebars-rust's macro helpers do): if one of those is missing, the engine raises the
    strict-mode error before calling ``fn``; extra parameters and, with ``strict_params = 0``,
    all parameters arrive as ``None`` when missing.
``CONDITION``
    A block helper with no scope change (``if_not_null``): ``fn(params, hash) -> bool`` chooses
    the main block (True) or the ``{{else}}`` block (False, renders nothing if there is none).
    Used as a non-block expression it renders nothing.

A helper signals a failure by raising ``HelperError``; the engine turns it into a render error
that names the helper. Helpers never see the render context beyond their parameters.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Helper", "HelperError", "HelperKind", "Param"]


class HelperKind(enum.Enum):
    STRING = "string"
    VALUE = "value"
    CONDITION = "condition"


@dataclass(frozen=True, slots=True)
class Param:
    """One evaluated positional parameter.

    ``value`` is the JSON value (``None`` for null *and* for missing); ``missing`` is true when the
    parameter was a path that resolved to nothing; ``path`` is the path expression as written in
    the template (``settings.oci-defaults.capabilities``), or ``None`` for literals and
    subexpressions.
    """

    value: Any
    missing: bool = False
    path: str | None = None


class HelperError(Exception):
    """A helper rejected its input; the message says what was wrong (e.g. the parameter and its value)."""


@dataclass(frozen=True, slots=True)
class Helper:
    name: str
    kind: HelperKind
    fn: Callable[[list[Param], Mapping[str, Any]], Any]
    strict_params: int = 0
