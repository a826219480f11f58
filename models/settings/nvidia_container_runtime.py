"""``settings.nvidia-container-runtime``: how the NVIDIA container runtime exposes GPUs (aws-k8s-*-nvidia).

``visible-devices-as-volume-mounts``: select GPUs through volume mounts rather than the
``NVIDIA_VISIBLE_DEVICES`` variable; ``visible-devices-envvar-when-unprivileged``: honour that
variable in unprivileged containers. Both optional booleans; unknown keys are rejected.
"""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct

__all__ = ["MODEL", "NAME", "RUST_TYPES", "NvidiaContainerRuntimeSettingsV1"]

NAME = "nvidia-container-runtime"


class NvidiaContainerRuntimeSettingsV1(SettingsStruct):
    """``settings.nvidia-container-runtime``: every field optional, unknown fields rejected."""

    visible_devices_as_volume_mounts: bool | None = None
    visible_devices_envvar_when_unprivileged: bool | None = None


MODEL = NvidiaContainerRuntimeSettingsV1

RUST_TYPES: dict[str, Any] = {"NvidiaContainerRuntimeSettingsV1": NvidiaContainerRuntimeSettingsV1}
