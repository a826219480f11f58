"""``settings.ntp``: the time servers chronyd uses and extra options for its ``server`` lines."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import StrictStr, Url

__all__ = ["MODEL", "NAME", "RUST_TYPES", "NtpSettingsV1"]


class NtpSettingsV1(SettingsStruct):
    """``time-servers`` (URLs or bare host names) and ``options`` (chrony words, e.g. ``iburst``)."""

    time_servers: list[Url] | None = None
    options: list[StrictStr] | None = None


NAME = "ntp"
MODEL: Any = NtpSettingsV1
RUST_TYPES: dict[str, Any] = {"NtpSettingsV1": NtpSettingsV1}
