"""Parsing a request's JSON body, refusing what is not JSON a settings document could be.

``parse_json`` accepts what Bottlerocket's extractor accepts (RFC 8259 JSON in UTF-8) and
refuses, with a 400 that names the cause, what would otherwise fail deep inside the server or
be stored silently: nesting deeper than ``MAX_DEPTH``, lone UTF-16 surrogates (``"\\ud800"``, in
a value or a key), a key given twice in one object, ``NaN``/``Infinity`` and numbers no JSON
implementation holds (``1e999``, integers of more than 4300 digits), and bytes that
are not UTF-8. A UTF-8 byte order mark is ignored (RFC 8259 §8.1 allows it).

Examples (each raises ``JsonDeserialize``; ``str(exc)`` is the response body)::

    b'{"motd":"a","motd":"b"}'   ->  duplicate key 'motd' in the object at /
    b'{"motd":"\\\\ud800"}'       ->  lone UTF-16 surrogate \\ud800 in the string at /motd ...
    b'[[[ … 100000 deep … ]]]'   ->  arrays and objects nested more than 64 levels deep ...
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from .errors import JsonDeserialize

__all__ = ["MAX_DEPTH", "parse_json", "shown"]

MAX_DEPTH = 64  # settings documents nest about 5 levels (keypair and JSON Patch bodies add 2)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # the only way a lone surrogate gets in


class _Refused(Exception):
    """Raised by the parser's hooks; becomes ``JsonDeserialize``."""


def shown(text: str) -> str:
    """``text`` safe to put in a message: lone surrogates as ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def parse_json(data: bytes) -> Any:
    """The JSON value of a request body; raises ``JsonDeserialize`` naming what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonDeserialize(
            f"the body is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); JSON must be UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except RecursionError:
        raise JsonDeserialize(_too_deep()) from None
    except _Refused as exc:
        raise JsonDeserialize(str(exc)) from None
    except json.JSONDecodeError as exc:
        reason = "EOF while parsing a value at line 1 column 0" if not text else str(exc)
        raise JsonDeserialize(reason) from None
    except ValueError:  # int() refused a literal of more than sys.get_int_max_str_digits() digits
        digits = sys.get_int_max_str_digits()
        raise JsonDeserialize(f"an integer of more than {digits} digits is out of range") from None
    # Cheap tests first: most bodies have few containers and no surrogate escapes at all.
    if text.count("[") + text.count("{") > MAX_DEPTH and isinstance(value, dict | list):
        _check_depth(value)
    if _SURROGATE_ESCAPE.search(text):  # most often a pair (an ensure_ascii client's emoji)
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone one: find where, to say so
            _surrogates(value)
    return value


def _too_deep() -> str:
    return f"arrays and objects nested more than {MAX_DEPTH} levels deep (settings need a handful)"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key '{shown(key)}' in an object; give each key once")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value (numbers must be finite)")


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused(f"number {literal[:40]}{'…' if len(literal) > 40 else ''} is out of range")
    return value


def _check_depth(value: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``; level by level, without recursion."""
    level, depth = [value], 0
    while level:
        below: list[Any] = []
        for node in level:
            below += node.values() if isinstance(node, dict) else node
        level = [node for node in below if isinstance(node, dict | list)]
        depth += 1
        if level and depth == MAX_DEPTH:
            raise JsonDeserialize(_too_deep())


def _surrogates(value: Any) -> None:
    """Raise for the first lone surrogate in ``value``'s strings and keys, naming where it is (a
    JSON Pointer from the body's root). Iterative: the value may be deep."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, str):
            _text(node, f"the string at {pointer or '/'}")
        elif isinstance(node, dict):
            for key, child in node.items():
                _text(key, f"a key of the object at {pointer or '/'}")
                stack.append((child, f"{pointer}/{_escape(key)}"))
        elif isinstance(node, list):
            stack.extend((child, f"{pointer}/{index}") for index, child in enumerate(node))


def _text(text: str, where: str) -> None:
    if not text.isascii():
        found = _SURROGATE.search(text)
        if found is not None:
            raise JsonDeserialize(
                f"lone UTF-16 surrogate {shown(found.group())} in {shown(where)}: a JSON string must be "
                "Unicode text (\\uD800-\\uDBFF must be followed by \\uDC00-\\uDFFF)"
            )


def _escape(key: str) -> str:
    """A key as a JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
