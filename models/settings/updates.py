"""``settings.updates``: where updates come from, the wave seed, and the version to lock to.

``seed`` (u32) is filled with a random 0-2047 by a setting generator when absent; the model
itself only checks the range.
"""

from __future__ import annotations

from typing import Any

from ..base import U32, SettingsStruct
from ..modeled_types.shared import FriendlyVersion, Url

__all__ = ["MODEL", "NAME", "RUST_TYPES", "UpdatesSettingsV1"]


class UpdatesSettingsV1(SettingsStruct):
    """``version-lock`` is ``latest`` or a (v-prefixed) SemVer version."""

    metadata_base_url: Url | None = None
    targets_base_url: Url | None = None
    seed: U32 | None = None
    version_lock: FriendlyVersion | None = None
    ignore_waves: bool | None = None


NAME = "updates"
MODEL: Any = UpdatesSettingsV1
RUST_TYPES: dict[str, Any] = {"UpdatesSettingsV1": UpdatesSettingsV1}
