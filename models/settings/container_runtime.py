"""``settings.container-runtime``: containerd's CRI options (log line size, parallel downloads, …)."""

from __future__ import annotations

from typing import Any

from ..base import I32, SettingsStruct

__all__ = ["MODEL", "NAME", "RUST_TYPES", "ContainerRuntimeSettingsV1"]


class ContainerRuntimeSettingsV1(SettingsStruct):
    """Integers are i32; the two booleans open unprivileged ports / ICMP to containers."""

    max_container_log_line_size: I32 | None = None
    max_concurrent_downloads: I32 | None = None
    enable_unprivileged_ports: bool | None = None
    enable_unprivileged_icmp: bool | None = None


NAME = "container-runtime"
MODEL: Any = ContainerRuntimeSettingsV1
RUST_TYPES: dict[str, Any] = {"ContainerRuntimeSettingsV1": ContainerRuntimeSettingsV1}
