"""``settings.oci-hooks``: kept for compatibility; the log4j hot-patch hook it enabled is gone."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct

__all__ = ["MODEL", "NAME", "RUST_TYPES", "OciHooksSettingsV1"]


class OciHooksSettingsV1(SettingsStruct):
    """Accepted and stored, but no longer acted on."""

    log4j_hotpatch_enabled: bool | None = None


NAME = "oci-hooks"
MODEL: Any = OciHooksSettingsV1
RUST_TYPES: dict[str, Any] = {"OciHooksSettingsV1": OciHooksSettingsV1}
