"""Modeled types shared by every settings extension (spec §2.1 and §2.2).

Strings keep the exact input and serialize it back unchanged, except ``IpAddr`` (canonical
text, ``0000:…:0001`` -> ``::1``) and ``IntegerPercent`` (a string is re-emitted as the parsed
integer, ``"+5"`` -> ``"5"``). A rejected value fails with Bottlerocket's wording::

    Unable to deserialize into Url: Given invalid URL 'how are you'

All patterns are fully anchored and ASCII-only (``re.fullmatch`` with explicit classes).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import urllib.parse
from typing import TYPE_CHECKING, Annotated, Any

import ada_url
from pydantic import AfterValidator, PlainValidator, Strict, WithJsonSchema

from ..base import Checked, char_label

__all__ = [
    "RUST_TYPES",
    "ApiclientCommand",
    "BootConfigKey",
    "BootConfigValue",
    "BootstrapMode",
    "DNSDomain",
    "EtcHostsEntries",
    "FriendlyVersion",
    "Identifier",
    "IntegerPercent",
    "IpAddr",
    "KernelCpuSetValue",
    "KmodKey",
    "KubernetesClusterDnsIp",
    "Lockdown",
    "NonNegativeInteger",
    "PemCertificateString",
    "SingleLineString",
    "StrictStr",
    "SysctlKey",
    "Url",
    "ValidBase64",
    "ValidLinuxHostname",
]

StrictStr = Annotated[str, Strict()]
"""Any JSON string (no conversion from numbers or booleans)."""


def _fail(type_name: str, reason: str) -> ValueError:
    return ValueError(f"Unable to deserialize into {type_name}: {reason}")


# --- SingleLineString ---------------------------------------------------------------------------

_LINE_TERMINATORS = frozenset("\n\r\u000b\u000c\u0085\u2028\u2029")


def _check_single_line(value: str) -> None:
    if any(c in _LINE_TERMINATORS for c in value):
        raise ValueError("Can't create SingleLineString containing line terminator")


SingleLineString = Annotated[
    str,
    Checked(
        "SingleLineString",
        _check_single_line,
        description="Any string without a line terminator (LF, CR, VT, FF, NEL, U+2028, U+2029).",
        pattern="^[^\\n\\r\\u000b\\u000c\\u0085\\u2028\\u2029]*$",
    ),
]


# --- ValidBase64 --------------------------------------------------------------------------------


def _strict_b64decode(value: str) -> bytes:
    """Decode standard base64 with canonical padding and zero trailing bits (Rust's STANDARD engine).

    ``"aGk="`` -> ``b"hi"``; ``"aGk"`` (no padding), ``"aGl="`` (trailing bits), ``"aG k="`` fail.
    """
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"Invalid base64 input: {exc}") from None
    if base64.b64encode(decoded).decode("ascii") != value:
        raise ValueError("Invalid base64 input: non-canonical padding or non-zero trailing bits")
    return decoded


def _check_base64(value: str) -> None:
    _strict_b64decode(value)


ValidBase64 = Annotated[
    str,
    Checked(
        "ValidBase64",
        _check_base64,
        description="Standard base64 (A-Z a-z 0-9 + /) with canonical '=' padding; the original text is stored.",
        pattern="^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    ),
]


# --- ValidLinuxHostname -------------------------------------------------------------------------

_LINUX_HOSTNAME = re.compile(r"[0-9a-z.-]{1,253}")


def _check_linux_hostname(value: str) -> None:
    if not _LINUX_HOSTNAME.fullmatch(value):
        raise ValueError(f"Invalid hostname '{value}': must only be [0-9a-z.-], and 1-253 chars long")
    if value.startswith(("-", ".")):
        raise ValueError(f"Invalid hostname '{value}': must not start with '-' or '.'")
    if not all(1 <= len(label) <= 63 and not label.startswith("-") for label in value.split(".")):
        raise ValueError(
            f"Invalid hostname '{value}': segment is less than 1 or greater than 63 chars, or starts with '-'"
        )


ValidLinuxHostname = Annotated[
    str,
    Checked(
        "ValidLinuxHostname",
        _check_linux_hostname,
        description="A Linux hostname: 1-253 chars of [0-9a-z.-], '.'-separated labels of 1-63 chars "
        "that do not start with '-'.",
    ),
]


# --- Identifier, KmodKey ------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z0-9-]{0,76}")  # 76: containerd's container id limit
_KMOD_KEY = re.compile(r"[A-Za-z0-9_-]{0,56}")  # 56: the kernel's MODULE_NAME_LEN on 64-bit hosts


def _check_identifier(value: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"Identifiers may only contain ASCII alphanumerics plus hyphens (at most 76 chars), received '{value}'"
        )


def _check_kmod_key(value: str) -> None:
    if not _KMOD_KEY.fullmatch(value):
        raise ValueError(
            "Kernel module keys may only contain ASCII alphanumerics plus hyphens and underscores "
            f"(at most 56 chars), received '{value}'"
        )


Identifier = Annotated[
    str,
    Checked(
        "Identifier",
        _check_identifier,
        description="A name for a container or similar: ASCII alphanumerics and '-', at most 76 chars.",
        pattern="^[A-Za-z0-9-]{0,76}$",
    ),
]
KmodKey = Annotated[
    str,
    Checked(
        "KmodKey",
        _check_kmod_key,
        description="A kernel module name: ASCII alphanumerics, '-' and '_', at most 56 chars.",
        pattern="^[A-Za-z0-9_-]{0,56}$",
    ),
]


# --- Url ----------------------------------------------------------------------------------------


# thar refuses what a WHATWG parser would strip or percent-encode (Bottlerocket stores such text
# as given): the stored text is written into files verbatim, where a tab, newline or quote the
# parser would have dropped or escaped breaks the file instead. Besides C0 controls, space and
# DEL, these characters are percent-encoded in some part of a URL and never needed unencoded;
# '\\' is read as '/' by WHATWG parsers and kept by other parsers.
_URL_STRIPPED = "".join(map(chr, range(0x21)))  # leading and trailing C0 controls and spaces
_URL_REFUSED = frozenset(_URL_STRIPPED) | frozenset('\x7f"<>`{}\\')


def _url_char(char: str) -> str:
    if char.isprintable() and char != " ":
        quote = '"' if char == "'" else "'"
        return f"{quote}{char}{quote} (U+{ord(char):04X})"
    return char_label(char)


def _shown(value: str) -> str:
    """The value as error messages quote it: control characters escaped (``a\\nb``)."""
    if any(c < " " or c == "\x7f" for c in value):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return value


def _url_fails(value: str, index: int) -> ValueError:
    char = value[index]
    encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    edge = not value[:index].strip(_URL_STRIPPED) or not value[index:].strip(_URL_STRIPPED)
    if char in "\t\n\r" or edge:
        reason = f"a URL parser would remove {_url_char(char)}: leave it out"
    elif char == "\\":
        reason = f"{_url_char(char)} is read as '/' by WHATWG URL parsers and kept by others: write '/' or {encoded}"
    else:
        reason = f"a URL parser would percent-encode {_url_char(char)}: write it as {encoded}"
    return ValueError(f"Given invalid URL '{_shown(value)}': {reason}")


def _check_url(value: str) -> None:
    # WHATWG parsing (ada, like Rust's url crate); scheme-less input is tried again as http://…
    text = value if ada_url.check_url(value) else "http://" + value
    if not ada_url.check_url(text):
        raise ValueError(f"Given invalid URL '{_shown(value)}'")
    for index, char in enumerate(value):
        if char in _URL_REFUSED:
            raise _url_fails(value, index)
    # Whatever else the parser percent-encodes (non-ASCII in a path, '^' in a path, '|' in a
    # user name, "'" in a query, ...) shows as more escapes in its serialization than in the input.
    href = ada_url.URL(text).href
    if href.count("%") > text.count("%"):
        for index, char in enumerate(value):
            encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
            if char != "%" and href.count(encoded) > text.count(encoded):
                raise _url_fails(value, index)
        raise ValueError(f"Given invalid URL '{value}': a URL parser would percent-encode part of it ({href})")


Url = Annotated[
    str,
    Checked(
        "Url",
        _check_url,
        description="A WHATWG URL, or a URL without its scheme (as if it started with http://), holding "
        "nothing a WHATWG parser would strip or percent-encode (no spaces, controls, '\"', '<', '>', '`', "
        "'{', '}' or '\\'); the original text is stored.",
    ),
]


# --- FriendlyVersion ----------------------------------------------------------------------------

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"v?({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-{_PRE_IDENT}(?:\.{_PRE_IDENT})*)?"
    rf"(?:\+{_BUILD_IDENT}(?:\.{_BUILD_IDENT})*)?"
)
_U64_MAX = 2**64 - 1


def _check_friendly_version(value: str) -> None:
    if value == "latest":
        return
    match = _SEMVER.fullmatch(value)
    # Rust's semver crate stores MAJOR.MINOR.PATCH as u64.
    if match is None or any(int(part) > _U64_MAX for part in match.groups()):
        raise ValueError(f"Invalid version string '{value}'")


FriendlyVersion = Annotated[
    str,
    Checked(
        "FriendlyVersion",
        _check_friendly_version,
        description="'latest', or a SemVer 2.0.0 version with an optional leading 'v' (v1.2.3-rc.1+build).",
    ),
]


# --- DNSDomain ----------------------------------------------------------------------------------

# WHATWG forbidden host code points, plus C0 controls and DEL (forbidden in domains). '%' is left
# to the host parser, which percent-decodes first. Rejecting these up front also keeps the URL
# parser from reading '/', '?', '#', '@' or ':' as the end of the host.
_FORBIDDEN_HOST = frozenset(" #/:<>?@[\\]^|\x7f") | frozenset(map(chr, range(0x20)))
_ENDS_IN_NUMBER = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")


def _check_dns_domain(value: str) -> None:
    def fail(reason: str) -> ValueError:
        return ValueError(f"Invalid domain name '{value}': {reason}")

    if value.startswith("."):
        raise fail("must not start with '.'")
    if value == "":
        raise fail("empty host")
    if value.startswith("["):
        inner = value[1:-1] if value.endswith("]") else None
        if inner is not None and "%" not in inner and _is_ipv6(inner):
            raise fail("IP address is not a valid domain name")
        raise fail("invalid IPv6 address")
    if any(c in _FORBIDDEN_HOST for c in value):
        raise fail("invalid domain character")
    try:
        host_type = ada_url.URL("http://" + value).host_type
    except ValueError:
        labels = value.split(".")
        if labels[-1] == "" and len(labels) > 1:
            labels.pop()
        if _ENDS_IN_NUMBER.fullmatch(labels[-1]):  # WHATWG reads such a host as IPv4
            raise fail("invalid IPv4 address") from None
        decoded = urllib.parse.unquote(value, errors="replace")
        if any(c in _FORBIDDEN_HOST or c == "%" for c in decoded):
            raise fail("invalid domain character") from None
        raise fail("invalid international domain name") from None
    if host_type != ada_url.HostType.DEFAULT:
        raise fail("IP address is not a valid domain name")
    # thar: WHATWG hosts may also hold '"', "'", '{', '*', '&', '!', ...; a domain is written
    # unquoted into YAML (kubelet's clusterDomain) and env files, where those have a meaning.
    odd = next((c for c in value if c.isascii() and not (c.isalnum() or c in "-_.")), None)
    if odd is not None:
        raise fail(f"'{odd}' is not allowed (ASCII letters, digits, '-', '_' and '.' only, or non-ASCII letters)")


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


DNSDomain = Annotated[
    str,
    Checked(
        "DNSDomain",
        _check_dns_domain,
        description="A DNS domain as a WHATWG host (IDNA applied, no IP address, not starting with '.') "
        "whose ASCII characters are letters, digits, '-', '_' and '.'; the original text is stored.",
    ),
]


# --- SysctlKey, BootConfigKey, BootConfigValue --------------------------------------------------

_SYSCTL_KEY = re.compile(r"[a-zA-Z0-9./_-]{1,128}")
_BOOTCONFIG_WORD = re.compile(r"[A-Za-z0-9_-]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def _check_sysctl_key(value: str) -> None:
    if ".." in value:
        raise ValueError(f"Invalid sysctl key '{value}': must not contain '..'")
    if value.startswith((".", "/")):
        raise ValueError(f"Invalid sysctl key '{value}': must not start with '.' or '/'")
    if not _SYSCTL_KEY.fullmatch(value):
        raise ValueError(f"Invalid sysctl key '{value}': must match pattern ^[a-zA-Z0-9./_-]{{1,128}}$")


def _check_bootconfig_key(value: str) -> None:
    if not all(_BOOTCONFIG_WORD.fullmatch(word) for word in value.split(".")):
        raise ValueError(
            "Kernel boot config keywords may only contain ASCII alphanumerics plus hyphens and underscores, "
            f"and must not be empty, received '{value}'"
        )


def _check_bootconfig_value(value: str) -> None:
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise ValueError(f"Kernel boot config values may only contain ASCII printable characters, received '{value}'")
    if "'" in value and '"' in value:
        # bootconfig cannot escape quotes, so a value cannot be quoted if it holds both kinds
        raise ValueError(f"Kernel boot config values may not contain both ' and \", received '{value}'")


SysctlKey = Annotated[
    str,
    Checked(
        "SysctlKey",
        _check_sysctl_key,
        description="A sysctl key: 1-128 chars of [a-zA-Z0-9./_-], no '..', not starting with '.' or '/'.",
    ),
]
BootConfigKey = Annotated[
    str,
    Checked(
        "BootConfigKey",
        _check_bootconfig_key,
        description="A kernel boot config key: '.'-separated non-empty words of [A-Za-z0-9_-].",
        pattern="^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$",
    ),
]
BootConfigValue = Annotated[
    str,
    Checked(
        "BootConfigValue",
        _check_bootconfig_value,
        description="A kernel boot config value: printable ASCII, not containing both ' and \".",
    ),
]


# --- Lockdown, BootstrapMode --------------------------------------------------------------------


def _check_lockdown(value: str) -> None:
    if value not in ("none", "integrity", "confidentiality"):
        raise ValueError(f"Invalid Linux lockdown mode '{value}'")


def _check_bootstrap_mode(value: str) -> None:
    if value not in ("off", "once", "always"):
        raise ValueError(f"Invalid bootstrap mode '{value}'")


Lockdown = Annotated[
    str,
    Checked(
        "Lockdown",
        _check_lockdown,
        description="Kernel lockdown mode: none, integrity or confidentiality.",
        pattern="^(none|integrity|confidentiality)$",
    ),
]
BootstrapMode = Annotated[
    str,
    Checked(
        "BootstrapMode",
        _check_bootstrap_mode,
        description="When a bootstrap container or command runs: off (the default), once or always.",
        pattern="^(off|once|always)$",
    ),
]


# --- ApiclientCommand ---------------------------------------------------------------------------


def _check_apiclient_command(value: list[str]) -> list[str]:
    if not value or value[0] != "apiclient":
        shown = json.dumps(value, ensure_ascii=False)
        raise _fail("ApiclientCommand", f"Invalid Bottlerocket API Command '{shown}': the first word must be apiclient")
    return value


ApiclientCommand = Annotated[list[StrictStr], Strict(), AfterValidator(_check_apiclient_command)]
"""A command line whose first word is ``apiclient``: ``["apiclient", "set", "motd=hi"]``."""


# --- PemCertificateString -----------------------------------------------------------------------

# Rust's str::trim() strips Unicode White_Space; Python's str.strip() would also strip U+001C-U+001F.
_RUST_WHITESPACE = "\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501


def _check_pem_bundle(value: str) -> None:
    """Base64 of a PEM bundle holding one or more X.509 certificates; blank deletes the bundle.

    Follows x509-parser's PEM reader: lines outside ``-----BEGIN …`` / ``-----END …`` blocks are
    ignored; a block's body lines are right-trimmed, joined and base64-decoded; its DER must be
    a certificate (bytes after the certificate's DER element are ignored, as x509-parser does).
    """
    if value.strip(_RUST_WHITESPACE) == "":
        return
    try:
        text = _strict_b64decode(value).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("Invalid PEM object: IO error: stream did not contain valid UTF-8") from None
    lines = text.split("\n")
    if lines[-1] == "":  # the text ends with a line break: no empty last line
        lines.pop()
    found = False
    position = 0
    while position < len(lines):
        line = lines[position]
        position += 1
        if not line.startswith("-----BEGIN "):
            continue
        parts = line.split("-----")
        if len(parts) < 3 or parts[0] != "":
            raise ValueError("Invalid PEM object: Invalid PEM header")
        body: list[str] = []
        while True:
            if position >= len(lines):
                raise ValueError("Invalid PEM object: Incomplete PEM (no -----END line)")
            line = lines[position]
            position += 1
            if line.startswith("-----END "):
                break
            body.append(line.rstrip(_RUST_WHITESPACE))
        try:
            der = _strict_b64decode("".join(body))
        except ValueError:
            raise ValueError("Invalid PEM object: Base64 decode error") from None
        try:
            from cryptography import x509  # imported on first use: it costs ~8 MB of RSS

            x509.load_der_x509_certificate(_first_der_element(der))
        except ValueError as exc:
            raise ValueError(f"Invalid x509 certificate: {exc}") from None
        found = True
    if not found:
        raise ValueError("No valid certificate found in bundle")


def _first_der_element(der: bytes) -> bytes:
    """The leading DER TLV of ``der`` (all of ``der`` when its length cannot be read)."""
    if len(der) < 2:
        return der
    if der[1] < 0x80:
        end = 2 + der[1]
    else:
        size = der[1] & 0x7F
        if size == 0 or len(der) < 2 + size:
            return der
        end = 2 + size + int.from_bytes(der[2 : 2 + size], "big")
    return der[:end] if end <= len(der) else der


PemCertificateString = Annotated[
    str,
    Checked(
        "PemCertificateString",
        _check_pem_bundle,
        description="Base64 of a PEM bundle of X.509 certificates (blank to delete the bundle); "
        "the original base64 is stored.",
    ),
]


# --- KernelCpuSetValue --------------------------------------------------------------------------

# Upstream's ^([0-9]+(-[0-9]+)?,?)*([0-9]+(-[0-9]+)?)+$ backtracks exponentially in Python. This is
# the same language without ambiguity: ranges and numbers joined by optional commas, so a '-'
# range whose upper bound is one digit cannot be followed by another '-' ("1-2-3" fails, while
# "1-23-4" is "1-2" then "3-4"). Possessive quantifiers keep it linear.
_CPUSET = re.compile(r"[0-9]++(?:,[0-9]++|-(?:[0-9]{2,}+|[0-9](?![0-9-])))*+")


def _check_cpuset(value: str) -> None:
    if not _CPUSET.fullmatch(value):
        raise ValueError(f"Invalid Kernel CpuSet value '{value}'")


KernelCpuSetValue = Annotated[
    str,
    Checked(
        "KernelCpuSetValue",
        _check_cpuset,
        description="A kernel cpuset list such as 0-3,5,7-9 (no range-order check).",
        pattern="^[0-9]+(-[0-9]+)?(,?[0-9]+(-[0-9]+)?)*$",
    ),
]


# --- IpAddr, EtcHostsEntries, KubernetesClusterDnsIp --------------------------------------------


def canonical_ip(value: str) -> str:
    """Rust's ``IpAddr`` parse + display: ``"0000:0000:0000:0000:0000:0000:0000:0001"`` -> ``"::1"``.

    IPv4 is a dotted quad without leading zeros; no zone id, brackets, prefix length or spaces.
    IPv4-mapped IPv6 is shown as Rust does (``::ffff:1.2.3.4``). Raises ValueError otherwise.
    """
    if "%" in value or not value.isascii():
        raise ValueError("invalid IP address syntax")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("invalid IP address syntax") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _check_ip(value: str) -> str:
    return canonical_ip(value)


IpAddr = Annotated[
    str,
    Checked(
        "IpAddr",
        _check_ip,
        description="An IPv4 (dotted quad) or IPv6 address without zone id or brackets; stored in canonical form.",
    ),
]

if TYPE_CHECKING:
    _HostsLine = tuple[str, list[str]]
else:
    # Strict(False) lets the (strict) settings structs take a JSON array as the pair; its two
    # elements stay strict through their own types.
    _HostsLine = Annotated[tuple[IpAddr, list[ValidLinuxHostname]], Strict(False)]

EtcHostsEntries = Annotated[list[_HostsLine], Strict()]
"""``/etc/hosts`` lines: ``[[ip, [hostname, …]], …]``; IPs may repeat (consumers merge them)."""


def _validate_cluster_dns_ip(value: Any) -> str | list[str]:
    if isinstance(value, str):
        try:
            return canonical_ip(value)
        except ValueError as exc:
            raise _fail("KubernetesClusterDnsIp", f"'{value}': {exc}") from None
    if isinstance(value, list):
        addresses: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _fail("KubernetesClusterDnsIp", f"element {index} is not a string")
            try:
                addresses.append(canonical_ip(item))
            except ValueError as exc:
                raise _fail("KubernetesClusterDnsIp", f"element {index} '{item}': {exc}") from None
        return addresses
    raise _fail("KubernetesClusterDnsIp", "expected an IP address string or a list of them")


KubernetesClusterDnsIp = Annotated[
    str | list[str],
    PlainValidator(_validate_cluster_dns_ip),
    WithJsonSchema(
        {
            "title": "KubernetesClusterDnsIp",
            "description": "One IP address, or a list of them; kept in the shape given.",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        }
    ),
]


# --- NonNegativeInteger, IntegerPercent ---------------------------------------------------------

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def _check_non_negative(value: int) -> int:
    if value < 0:
        raise _fail("NonNegativeInteger", "number must be greater than or equal to 0")
    if value > _I32_MAX:
        raise _fail("NonNegativeInteger", f"number must be at most {_I32_MAX} (i32)")
    return value


NonNegativeInteger = Annotated[
    int,
    Strict(),
    AfterValidator(_check_non_negative),
    WithJsonSchema({"type": "integer", "title": "NonNegativeInteger", "minimum": 0, "maximum": _I32_MAX}),
]

_RUST_I32_TEXT = re.compile(r"[+-]?[0-9]+")


def _validate_integer_percent(value: Any) -> int | str:
    """A number stays a number, a string stays a string (re-emitted as the parsed integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail("IntegerPercent", f"it is not a number or a string: {json.dumps(value)}")
    # Rust reads the JSON number's text as i32, so 42.0 fails like the string "42.0".
    text = value if isinstance(value, str) else json.dumps(value)
    if not _RUST_I32_TEXT.fullmatch(text):
        reason = "cannot parse integer from empty string" if text == "" else "invalid digit found in string"
        raise _fail("IntegerPercent", f"Unable to parse '{text}' as an integer: {reason}")
    number = int(text)
    if not _I32_MIN <= number <= _I32_MAX:
        too = "large" if number > 0 else "small"
        raise _fail("IntegerPercent", f"Unable to parse '{text}' as an integer: number too {too} to fit in target type")
    if not 0 <= number <= 100:
        raise _fail("IntegerPercent", f"'{number}' must be between 0 and 100 (inclusive)")
    return number if isinstance(value, int) else str(number)


IntegerPercent = Annotated[
    int | str,
    PlainValidator(_validate_integer_percent),
    WithJsonSchema(
        {
            "title": "IntegerPercent",
            "description": "0-100 as a number or a numeric string; re-emitted in the form given.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": "^[+-]?[0-9]+$"},
            ],
        }
    ),
]


RUST_TYPES: dict[str, Any] = {
    "ApiclientCommand": ApiclientCommand,
    "BootConfigKey": BootConfigKey,
    "BootConfigValue": BootConfigValue,
    "BootstrapMode": BootstrapMode,
    "DNSDomain": DNSDomain,
    "EtcHostsEntries": EtcHostsEntries,
    "FriendlyVersion": FriendlyVersion,
    "Identifier": Identifier,
    "IntegerPercent": IntegerPercent,
    "IpAddr": IpAddr,
    "KernelCpuSetValue": KernelCpuSetValue,
    "KmodKey": KmodKey,
    "KubernetesClusterDnsIp": KubernetesClusterDnsIp,
    "Lockdown": Lockdown,
    "NonNegativeInteger": NonNegativeInteger,
    "PemCertificateString": PemCertificateString,
    "SingleLineString": SingleLineString,
    "SysctlKey": SysctlKey,
    "Url": Url,
    "ValidBase64": ValidBase64,
    "ValidLinuxHostname": ValidLinuxHostname,
}
