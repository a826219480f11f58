"""The ``std`` extension's helpers: text, defaults, type tests, CIDRs and TOML (spec §6.1), and
thar's ``quote_string`` (a string quoted for JSON, TOML and YAML alike).

String helpers (``HelperKind.STRING``) return the text they write; value helpers return typed
JSON; ``if_not_null`` is a condition block helper. Missing parameters arrive as ``None`` except
for ``any_enabled``, ``is_ipv4`` and ``is_ipv6`` (``strict_params``: the engine reports a missing
parameter as a strict-mode error before calling them).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..display import display_scalar
from ..helper_api import Helper, HelperKind, Param
from ._common import Signature, is_integer, is_number, json_type
from ._models import canonical_ip, check_base64
from .toml_encode import TomlEncodeError, encode_value

__all__ = ["parse_cidr", "std_helpers"]


def _scalar_text(value: Any) -> str | None:
    """Scalar display of a bool/number/string, None for anything else."""
    if isinstance(value, (bool, str)) or is_number(value):
        return display_scalar(value)
    return None


# --- base64_decode ------------------------------------------------------------------------------

_BASE64_DECODE = Signature("base64_decode", ("s",))


def base64_decode(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _BASE64_DECODE.check(params)
    text = _BASE64_DECODE.string(params, 0)
    try:
        check_base64(text)
    except ValueError as exc:
        raise _BASE64_DECODE.fail(params, 0, str(exc)) from None
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BASE64_DECODE.fail(params, 0, f"decodes to invalid (non-UTF-8) text: {exc.reason}") from None


# --- join_map -----------------------------------------------------------------------------------

_JOIN_MAP = Signature("join_map", ("kv_sep", "pair_sep", "mode", "map"))
_MODES = {"fail-if-missing": True, "no-fail-if-missing": False}


def join_map(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _JOIN_MAP.check(params)
    kv_sep = _JOIN_MAP.string(params, 0)
    pair_sep = _JOIN_MAP.string(params, 1)
    mode = _JOIN_MAP.string(params, 2)
    if mode not in _MODES:
        raise _JOIN_MAP.fail(params, 2, 'expected "fail-if-missing" or "no-fail-if-missing"')
    mapping = params[3].value
    if not isinstance(mapping, dict):
        if _MODES[mode]:
            raise _JOIN_MAP.fail(params, 3, f"expected an object (fail-if-missing), got {json_type(mapping)}")
        return ""
    pairs = []
    for key, value in mapping.items():
        text = _scalar_text(value)
        if text is None:
            raise _JOIN_MAP.fail(
                params, 3, f"value of key {key!r} must be a boolean, number or string, got {json_type(value)}"
            )
        pairs.append(f"{key}{kv_sep}{text}")
    return pair_sep.join(pairs)


# --- join_array ---------------------------------------------------------------------------------

_JOIN_ARRAY = Signature("join_array", ("delim", "array"))


def join_array(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _JOIN_ARRAY.check(params)
    delim = _JOIN_ARRAY.string(params, 0)
    array = params[1].value
    if not isinstance(array, list):
        raise _JOIN_ARRAY.fail(params, 1, f"expected an array, got {json_type(array)}")
    parts = []
    for index, item in enumerate(array):
        if not isinstance(item, str):
            raise _JOIN_ARRAY.fail(params, 1, f"element {index} must be a string, got {json_type(item)}")
        parts.append(f'"{item}"')
    return delim.join(parts)


# --- default ------------------------------------------------------------------------------------

_DEFAULT = Signature("default", ("dflt", "value"))


def default(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _DEFAULT.check(params)
    fallback = _scalar_text(params[0].value)
    if fallback is None:
        raise _DEFAULT.fail(params, 0, f"expected a non-null scalar, got {json_type(params[0].value)}")
    value = params[1].value
    if value is None:
        return fallback
    text = _scalar_text(value)
    if text is None:
        raise _DEFAULT.fail(params, 1, f"expected a scalar or null, got {json_type(value)}")
    return text


# --- if_not_null --------------------------------------------------------------------------------

_IF_NOT_NULL = Signature("if_not_null", ("v",))


def if_not_null(params: list[Param], hash_: Mapping[str, Any]) -> bool:
    _IF_NOT_NULL.check(params)
    return params[0].value is not None


# --- toml_encode --------------------------------------------------------------------------------

_TOML_ENCODE = Signature("toml_encode", ("v",))


def toml_encode(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _TOML_ENCODE.check(params)
    try:
        return encode_value(params[0].value)
    except TomlEncodeError as exc:
        raise _TOML_ENCODE.fail(params, 0, f"cannot be encoded as TOML: {exc}") from None


# --- quote_string (thar) -------------------------------------------------------------------------

_QUOTE_STRING = Signature("quote_string", ("s",))
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _needs_unicode_escape(char: str) -> bool:
    # Controls, and what YAML does not print raw or reads as a line break (NEL, U+2028/9, BOM, U+FFFE/F).
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)


def quote_string(params: list[Param], hash_: Mapping[str, Any]) -> str:
    """A string as a double-quoted literal that reads back as the same text in JSON, TOML (a basic
    string: value or key) and YAML (a double-quoted scalar): ``a"b\\c`` -> ``"a\\"b\\\\c"``.

    Only escapes all three formats share are used (``\\" \\\\ \\b \\t \\n \\f \\r \\uXXXX``, never
    ``\\/`` or surrogate pairs); other characters are written as they are.
    """
    _QUOTE_STRING.check(params)
    text = _QUOTE_STRING.string(params, 0)
    out = []
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif _needs_unicode_escape(char):
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise _QUOTE_STRING.fail(params, 0, "holds a lone surrogate, which no file can hold")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# --- goarch -------------------------------------------------------------------------------------

_GOARCH = Signature("goarch", ("arch",))
_GOARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def goarch(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _GOARCH.check(params)
    arch = _GOARCH.string(params, 0)
    try:
        return _GOARCHES[arch]
    except KeyError:
        raise _GOARCH.fail(params, 0, f"unknown architecture, expected one of {', '.join(_GOARCHES)}") from None


# --- negate_or_else -----------------------------------------------------------------------------

_NEGATE_OR_ELSE = Signature("negate_or_else", ("fallback", "v"))


def negate_or_else(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _NEGATE_OR_ELSE.check(params)
    fallback = params[0].value
    if not isinstance(fallback, bool):
        raise _NEGATE_OR_ELSE.fail(params, 0, f"expected a boolean, got {json_type(fallback)}")
    value = params[1].value
    if value is None:
        result = fallback
    elif isinstance(value, bool):
        result = not value
    else:
        raise _NEGATE_OR_ELSE.fail(params, 1, f"expected a boolean or null, got {json_type(value)}")
    return "true" if result else "false"


# --- any_enabled --------------------------------------------------------------------------------

_ANY_ENABLED = Signature("any_enabled", ("x",))


def _enabled(item: Any) -> bool:
    """``item`` reads as ``{enabled: bool}`` with ``enabled`` true (a struct also reads from ``[bool]``)."""
    if isinstance(item, dict):
        return item.get("enabled") is True
    if isinstance(item, list):
        return len(item) == 1 and item[0] is True
    return False


def any_enabled(params: list[Param], hash_: Mapping[str, Any]) -> bool:
    _ANY_ENABLED.check_at_least(params)
    value = params[0].value
    if isinstance(value, list):
        return any(_enabled(item) for item in value)
    if isinstance(value, dict):
        return any(_enabled(item) for item in value.values())
    return False


# --- is_null is_bool is_number is_string is_array is_object -------------------------------------


def _type_test(name: str, test: Callable[[Any], bool]) -> Callable[[list[Param], Mapping[str, Any]], bool]:
    signature = Signature(name, ("x",))

    def fn(params: list[Param], hash_: Mapping[str, Any]) -> bool:
        signature.check(params)
        return test(params[0].value)

    fn.__name__ = name
    return fn


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "is_null": lambda v: v is None,
    "is_bool": lambda v: isinstance(v, bool),
    "is_number": is_number,
    "is_string": lambda v: isinstance(v, str),
    "is_array": lambda v: isinstance(v, list),
    "is_object": lambda v: isinstance(v, dict),
}


# --- CIDRs: is_ipv4 is_ipv6 cidr_to_ipaddr replace_ipv4_octet -----------------------------------


def _parse_u8(text: str) -> int | None:
    """Rust's ``u8`` parsing: optional ``+``, decimal digits, 0-255."""
    digits = text[1:] if text.startswith("+") else text
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 3 and int(digits) <= 255 else None


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in text or not text.isascii():
        raise ValueError(f"invalid IP address syntax: {text!r}")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"invalid IP address syntax: {text!r}") from None


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as the ``cidr`` crate's ``AnyIpCidr`` reads it: ``addr`` (a host network) or ``addr/len``.

    The length reads as a Rust ``u8`` (decimal, an optional ``+``, leading zeros allowed) and is
    at most 32 (IPv4) / 128 (IPv6); host bits must be zero
    (``10.0.0.1/24`` is rejected); ``any`` is an empty block, which is an error here too.
    Raises ValueError with the reason.
    """
    if text == "any":
        raise ValueError("Empty CIDR block")
    address_text, slash, length_text = text.partition("/")
    address = _parse_address(address_text)
    if not slash:
        return ipaddress.ip_network(address)
    length = _parse_u8(length_text)
    if length is None:
        raise ValueError(f"invalid network length {length_text!r}")
    if length > address.max_prefixlen:
        raise ValueError(f"network length {length} is too long for {address_text}")
    try:
        return ipaddress.ip_network((address, length), strict=True)
    except ValueError:
        raise ValueError(f"host part of address was not zero ({text})") from None


_IS_IPV4 = Signature("is_ipv4", ("cidr",))
_IS_IPV6 = Signature("is_ipv6", ("cidr",))
_CIDR_TO_IPADDR = Signature("cidr_to_ipaddr", ("cidr",))


def _cidr_param(signature: Signature, params: list[Param]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = signature.string(params, 0)
    try:
        return parse_cidr(text)
    except ValueError as exc:
        raise signature.fail(params, 0, f"invalid CIDR: {exc}") from None


def is_ipv4(params: list[Param], hash_: Mapping[str, Any]) -> bool:
    _IS_IPV4.check_at_least(params)
    return _cidr_param(_IS_IPV4, params).version == 4


def is_ipv6(params: list[Param], hash_: Mapping[str, Any]) -> bool:
    _IS_IPV6.check_at_least(params)
    return _cidr_param(_IS_IPV6, params).version == 6


def cidr_to_ipaddr(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _CIDR_TO_IPADDR.check(params)
    return canonical_ip(str(_cidr_param(_CIDR_TO_IPADDR, params).network_address))


_REPLACE_OCTET = Signature("replace_ipv4_octet", ("ip", "idx", "val"))


def replace_ipv4_octet(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _REPLACE_OCTET.check(params)
    ip_text = _REPLACE_OCTET.string(params, 0)
    index = params[1].value
    if not is_integer(index) or index < 0:
        raise _REPLACE_OCTET.fail(params, 1, f"expected a non-negative integer, got {json_type(index)}")
    new_text = _REPLACE_OCTET.string(params, 2)
    try:
        address = _parse_address(ip_text)
    except ValueError as exc:
        raise _REPLACE_OCTET.fail(params, 0, str(exc)) from None
    if address.version != 4:
        raise _REPLACE_OCTET.fail(params, 0, "expected an IPv4 address")
    if index > 3:
        raise _REPLACE_OCTET.fail(params, 1, "octet index must be 0 to 3")
    octet = _parse_u8(new_text)
    if octet is None:
        raise _REPLACE_OCTET.fail(params, 2, "expected a string holding an octet value 0 to 255")
    octets = list(address.packed)
    octets[index] = octet
    return ".".join(str(o) for o in octets)


def std_helpers() -> Sequence[Helper]:
    """Every helper of the ``std`` extension."""
    string = HelperKind.STRING
    value = HelperKind.VALUE
    helpers = [
        Helper("any_enabled", value, any_enabled, strict_params=1),
        Helper("base64_decode", string, base64_decode),
        Helper("default", string, default),
        Helper("toml_encode", string, toml_encode),
        Helper("quote_string", string, quote_string),
        Helper("join_array", string, join_array),
        Helper("join_map", string, join_map),
        Helper("if_not_null", HelperKind.CONDITION, if_not_null),
        Helper("goarch", string, goarch),
        Helper("negate_or_else", string, negate_or_else),
    ]
    helpers += [Helper(name, value, _type_test(name, test)) for name, test in _TYPE_TESTS.items()]
    helpers += [
        Helper("is_ipv4", value, is_ipv4, strict_params=1),
        Helper("is_ipv6", value, is_ipv6, strict_params=1),
        Helper("cidr_to_ipaddr", string, cidr_to_ipaddr),
        Helper("replace_ipv4_octet", string, replace_ipv4_octet),
    ]
    return helpers
