"""``settings.dns``: name servers (IP addresses, stored canonical) and the search list."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import IpAddr, ValidLinuxHostname

__all__ = ["MODEL", "NAME", "RUST_TYPES", "DnsSettingsV1"]


class DnsSettingsV1(SettingsStruct):
    """``name-servers`` are IPs (``0:0::1`` is stored as ``::1``); ``search-list`` holds domains."""

    name_servers: list[IpAddr] | None = None
    search_list: list[ValidLinuxHostname] | None = None


NAME = "dns"
MODEL: Any = DnsSettingsV1
RUST_TYPES: dict[str, Any] = {"DnsSettingsV1": DnsSettingsV1}
