"""``settings.kernel``: lockdown mode, kernel modules to allow or autoload, and sysctls.

Sysctl keys with dots are map keys: ``settings.kernel.sysctl."net.ipv4.ip_forward" = "1"``.
Values are strings only (``1`` is rejected: write ``"1"``).
"""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import KmodKey, Lockdown, StrictStr, SysctlKey

__all__ = ["MODEL", "NAME", "RUST_TYPES", "KernelSettingsV1", "KmodSetting"]


class KmodSetting(SettingsStruct):
    """Whether a kernel module may be loaded, and whether it is loaded at boot."""

    allowed: bool | None = None
    autoload: bool | None = None


class KernelSettingsV1(SettingsStruct):
    """``modules`` and ``sysctl`` are maps; ``sysctl`` values may be any string."""

    lockdown: Lockdown | None = None
    modules: dict[KmodKey, KmodSetting] | None = None
    sysctl: dict[SysctlKey, StrictStr] | None = None


NAME = "kernel"
MODEL: Any = KernelSettingsV1
RUST_TYPES: dict[str, Any] = {"KernelSettingsV1": KernelSettingsV1, "KmodSetting": KmodSetting}
