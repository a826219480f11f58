"""The ``network`` extension's helpers: ``host``, ``localhost_aliases``, ``etc_hosts_entries`` (spec §6.5).

``settings.network.hosts`` is an ``EtcHostsEntries`` value, ``[[ip, [alias, …]], …]``; it is
validated with the settings model's own type (IPs canonicalised, Linux host names). *Merged*
entries group the aliases by IP in first-appearance order, without removing duplicates.
Whether a host name resolves is asked of ``HelperEnvironment.resolve`` so tests can inject it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from ..helper_api import Helper, HelperKind, Param
from ._common import Signature, json_type
from ._models import parse_etc_hosts_entries
from .environment import HelperEnvironment

__all__ = ["merge_hosts", "network_helpers", "url_host"]

_LOOPBACK = {"ipv4": "127.0.0.1", "ipv6": "::1"}
_LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def merge_hosts(entries: Sequence[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """Aliases grouped by IP in first-appearance order (aliases concatenated, duplicates kept)."""
    merged: dict[str, list[str]] = {}
    for ip, aliases in entries:
        merged.setdefault(ip, []).extend(aliases)
    return merged


def _hosts_param(signature: Signature, params: list[Param], index: int) -> dict[str, list[str]] | None:
    value = params[index].value
    if value is None:
        return None
    try:
        entries = parse_etc_hosts_entries(value)
    except ValueError as exc:
        raise signature.fail(params, index, f"not valid EtcHostsEntries: {exc}") from None
    return merge_hosts(entries)


# --- host ---------------------------------------------------------------------------------------

_HOST = Signature("host", ("url",))


def url_host(url: str) -> str:
    """The host of an absolute WHATWG URL (``[::1]`` keeps its brackets; no port).

    Raises ValueError for a relative or unparseable URL, or one without a host.
    """
    import ada_url  # loaded on first use: most templates never call `host`

    try:
        parsed = ada_url.URL(url)
    except ValueError:
        raise ValueError("expected an absolute URL") from None
    if not parsed.hostname:
        raise ValueError("URL is missing its host component")
    return parsed.hostname


def host(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _HOST.check(params)
    url = _HOST.string(params, 0)
    try:
        return url_host(url)
    except ValueError as exc:
        raise _HOST.fail(params, 0, str(exc)) from None


# --- etc_hosts_entries --------------------------------------------------------------------------

_ETC_HOSTS = Signature("etc_hosts_entries", ("hosts",))


def etc_hosts_entries(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _ETC_HOSTS.check(params)
    merged = _hosts_param(_ETC_HOSTS, params, 0)
    if merged is None:
        return ""
    lines = [f"{ip} {' '.join(aliases)}" for ip, aliases in merged.items() if ip not in _LOOPBACK.values()]
    return "\n".join(lines)


# --- localhost_aliases --------------------------------------------------------------------------

_LOCALHOST_ALIASES = Signature("localhost_aliases", ("ipver", "host", "hosts"))


def _resolves_elsewhere(env: HelperEnvironment, name: str) -> bool:
    """The resolver returns at least one address and none is 127.0.0.1 or ::1."""
    try:
        found = list(env.resolve(name))
    except (OSError, UnicodeError, ValueError):
        return False
    if not found:
        return False
    for text in found:
        try:
            address = ipaddress.ip_address(text.partition("%")[0])
        except ValueError:
            continue
        if address in _LOOPBACK_ADDRESSES:
            return False
    return True


def make_localhost_aliases(env: HelperEnvironment) -> Helper:
    def localhost_aliases(params: list[Param], hash_: Mapping[str, Any]) -> str:
        _LOCALHOST_ALIASES.check(params)
        ipver = _LOCALHOST_ALIASES.string(params, 0)
        if ipver not in _LOOPBACK:
            raise _LOCALHOST_ALIASES.fail(params, 0, 'expected one of "ipv4", "ipv6"')
        hostname = params[1].value
        if not isinstance(hostname, str):
            raise _LOCALHOST_ALIASES.fail(params, 1, f"expected a string, got {json_type(hostname)}")
        merged = _hosts_param(_LOCALHOST_ALIASES, params, 2)
        results: list[str] = []
        if hostname:
            listed = merged is not None and any(hostname in aliases for aliases in merged.values())
            if not listed and not _resolves_elsewhere(env, hostname):
                results.append(hostname)
        if merged is not None:
            results += merged.get(_LOOPBACK[ipver], [])
        return " ".join(results)

    return Helper("localhost_aliases", HelperKind.STRING, localhost_aliases)


def network_helpers(env: HelperEnvironment) -> Sequence[Helper]:
    """Every helper of the ``network`` extension."""
    return [
        make_localhost_aliases(env),
        Helper("etc_hosts_entries", HelperKind.STRING, etc_hosts_entries),
        Helper("host", HelperKind.STRING, host),
    ]
