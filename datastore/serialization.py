"""Values and the two shapes of settings: nested JSON and flat ``{Key: stored string}``.

Stored values are compact JSON written exactly as Bottlerocket's ``serde_json`` writes them
(``to_json``), so files written by thar are byte-identical to Bottlerocket's.

``to_pairs`` flattens a nested value: each object member becomes one key segment (quoted in
the name when it contains ``.``), scalars and whole lists become values, nulls and empty
objects produce nothing::

    to_pairs_with_prefix("settings", {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}})
    -> {settings.kernel.sysctl."net.ipv4.ip_forward": '"1"'}

``from_map_with_prefix`` is the inverse: it strips the prefix's segments and nests by segment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import Deserialization, InvalidKey, Serialization
from .key import Key, KeyType, valid_segment

__all__ = ["from_json", "from_map", "from_map_with_prefix", "to_json", "to_pairs", "to_pairs_with_prefix"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def to_json(value: Any) -> str:
    """Compact JSON as ``serde_json::to_string`` writes it.

    Only ``"``, ``\\`` and control characters are escaped; non-ASCII and ``/`` stay raw.
    Floats use Rust's shortest form (``1e20``, ``1e-7``, ``0.00001``), where Python's differs;
    NaN and infinities become ``null``, as in serde_json.
    """
    if _has_float(value):
        return _encode_with_floats(value)
    return _dumps(value)


def from_json(text: str) -> Any:
    """Parse a stored value (lenient about whitespace, as serde_json is)."""
    return json.loads(text)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    return False


def _encode_with_floats(value: Any) -> str:
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dumps(str(k))}:{_encode_with_floats(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode_with_floats(v) for v in value) + "]"
    return _dumps(value)


def _format_float(f: float) -> str:
    """Format like ryu's ``format64``: same shortest digits as Python, different layout."""
    if not math.isfinite(f):
        return "null"
    sign, digit_tuple, exp = Decimal(repr(f)).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    if not digits:  # zero
        return ("-" if sign else "") + "0.0"
    exp += len(digit_tuple) - len(digits)  # account for the stripped zeros
    length = len(digits)
    kk = length + exp  # position of the decimal point relative to the digits
    if exp >= 0 and kk <= 16:
        text = digits + "0" * exp + ".0"
    elif 0 < kk <= 16:
        text = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        text = "0." + "0" * -kk + digits
    elif length == 1:
        text = f"{digits}e{kk - 1}"
    else:
        text = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return ("-" if sign else "") + text


def to_pairs(value: Any) -> dict[Key, str]:
    """Flatten ``value`` with no prefix; a scalar or list at the root has no key and fails."""
    return _to_pairs(value, None)


def to_pairs_with_prefix(prefix: str | Key, value: Any) -> dict[Key, str]:
    """Flatten ``value`` under ``prefix`` (a data key name such as ``settings``)."""
    if isinstance(prefix, str):
        try:
            prefix = Key(prefix, KeyType.DATA)
        except InvalidKey as exc:
            raise Serialization(f"Error creating valid datastore key: {exc}") from exc
    return _to_pairs(value, prefix)


def _to_pairs(value: Any, prefix: Key | None) -> dict[Key, str]:
    out: dict[Key, str] = {}
    _walk(value, prefix.segments if prefix is not None else (), out)
    return out


def _walk(value: Any, segments: tuple[str, ...], out: dict[Key, str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for name, member in value.items():
            if not isinstance(name, str):
                raise Serialization(f"Error creating valid datastore key: map key {name!r} is not a string")
            if not valid_segment(name):  # checked even when the value produces no key
                try:
                    Key.from_segments((*segments, name))
                except InvalidKey as exc:
                    raise Serialization(f"Error creating valid datastore key: {exc}") from exc
            if member is not None:  # null means "not given"
                _walk(member, (*segments, name), out)
        return
    if not segments:
        raise Serialization("Cannot serialize a scalar or list without a prefix (MissingPrefix)")
    try:
        key = Key.from_segments(segments)
    except InvalidKey as exc:
        raise Serialization(f"Error creating valid datastore key: {exc}") from exc
    if isinstance(value, (list, tuple)):
        out[key] = to_json(list(value))
    elif isinstance(value, (str, bool, int, float)):
        out[key] = to_json(value)
    else:
        raise Serialization(f"Cannot store value of type {type(value).__name__} at '{key.name}'")


def from_map(pairs: Mapping[Key, str]) -> dict[str, Any]:
    """Nest ``pairs`` under the default prefix ``settings`` (Bottlerocket's untyped default)."""
    return from_map_with_prefix(pairs, "settings")


def from_map_with_prefix(pairs: Mapping[Key, str], prefix: str | Key | None) -> dict[str, Any]:
    """Strip ``prefix``'s segments from every key and nest the parsed values by segment.

    ``{x.boolean: "true"}`` with prefix ``x`` gives ``{"boolean": True}``. A key outside the
    prefix, a key equal to it, or a key that is both a value and a prefix of another key is a
    Deserialization error (Bottlerocket's results there depend on hash order).
    """
    if prefix is None:
        raise Deserialization("Cannot deserialize a map at the root without a prefix (BadRoot)")
    pkey = prefix if isinstance(prefix, Key) else Key(prefix, KeyType.DATA)
    n = len(pkey.segments)
    root: dict[str, Any] = {}
    for key, raw in pairs.items():
        if key.segments[:n] != pkey.segments or len(key.segments) == n:
            raise Deserialization(f"Key '{key.name}' is not below the prefix '{pkey.name}'")
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise Deserialization(f"Value of '{key.name}' is not valid JSON: {exc}") from exc
        node = root
        rest = key.segments[n:]
        for i, seg in enumerate(rest[:-1]):
            child = node.setdefault(seg, {})
            if not isinstance(child, dict) or _is_leaf(child):
                raise Deserialization(_conflict(key, pkey, rest[: i + 1]))
            node = child
        leaf = rest[-1]
        if leaf in node and isinstance(node[leaf], dict) and not _is_leaf(node[leaf]):
            raise Deserialization(_conflict(key, pkey, rest))
        node[leaf] = _Leaf(value) if isinstance(value, dict) else value
    result: dict[str, Any] = _unwrap(root)
    return result


class _Leaf(dict):  # type: ignore[type-arg]
    """A stored JSON object value, kept apart from the objects made by nesting."""


def _is_leaf(node: dict[str, Any]) -> bool:
    return isinstance(node, _Leaf)


def _unwrap(node: Any) -> Any:
    if isinstance(node, _Leaf):
        return dict(node)
    if isinstance(node, dict):
        return {k: _unwrap(v) for k, v in node.items()}
    return node


def _conflict(key: Key, prefix: Key, segments: tuple[str, ...]) -> str:
    other = Key.from_segments((*prefix.segments, *segments)).name
    return f"Key '{key.name}' conflicts with '{other}': a key cannot both hold a value and be a prefix"
