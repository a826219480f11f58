"""``settings.kubelet-device-plugins``: kubelet device plugins (aws-k8s-*-nvidia); v0.6.0 has ``nvidia``.

``nvidia`` is ``NvidiaDevicePluginSettings``: ``pass-device-specs``, ``device-id-strategy``
(uuid | index), ``device-list-strategy`` (envvar | volume-mounts), ``device-sharing-strategy``
(none | time-slicing) and ``time-slicing`` {``replicas`` 2…2147483647, ``rename-by-default``,
``fail-requests-greater-than-one``}. Everything is optional; unknown keys are rejected.
"""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.kubernetes import NvidiaDevicePluginSettings

__all__ = ["MODEL", "NAME", "RUST_TYPES", "KubeletDevicePluginsV1"]

NAME = "kubelet-device-plugins"


class KubeletDevicePluginsV1(SettingsStruct):
    """``settings.kubelet-device-plugins``: every field optional, unknown fields rejected."""

    nvidia: NvidiaDevicePluginSettings | None = None


MODEL = KubeletDevicePluginsV1

RUST_TYPES: dict[str, Any] = {
    "KubeletDevicePluginsV1": KubeletDevicePluginsV1,
    "NvidiaDevicePluginSettings": NvidiaDevicePluginSettings,
}
