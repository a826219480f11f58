"""``settings.network``: host name, extra ``/etc/hosts`` lines and the HTTPS proxy."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import EtcHostsEntries, SingleLineString, Url, ValidLinuxHostname

__all__ = ["MODEL", "NAME", "RUST_TYPES", "NetworkSettingsV1"]


class NetworkSettingsV1(SettingsStruct):
    """``hosts`` is ``[[ip, [hostname, …]], …]``; IPs are stored in canonical form."""

    hostname: ValidLinuxHostname | None = None
    hosts: EtcHostsEntries | None = None
    https_proxy: Url | None = None
    no_proxy: list[SingleLineString] | None = None


NAME = "network"
MODEL: Any = NetworkSettingsV1
RUST_TYPES: dict[str, Any] = {"NetworkSettingsV1": NetworkSettingsV1}
