"""``settings.oci-defaults``: default capabilities and rlimits of containers (OciDefaultsV1).

``capabilities`` maps a capability (``net-bind-service``) to whether containers get it;
``resource-limits`` maps an rlimit kind (``max-open-files``) to ``{hard-limit, soft-limit}``, both
required, each an integer from -1 to i64::MAX or ``"unlimited"`` (stored as -1). Whether the hard
limit is at least the soft limit is not checked, as in v0.6.0.
"""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.oci import OciDefaultsCapability, OciDefaultsResourceLimitType, OciDefaultsResourceLimitValue

__all__ = ["MODEL", "NAME", "RUST_TYPES", "OciDefaultsResourceLimitV1", "OciDefaultsV1"]

NAME = "oci-defaults"


class OciDefaultsResourceLimitV1(SettingsStruct):
    """One rlimit: ``{"hard-limit": 1048576, "soft-limit": 65536}``; -1 or "unlimited" = no limit."""

    hard_limit: OciDefaultsResourceLimitValue
    soft_limit: OciDefaultsResourceLimitValue


class OciDefaultsV1(SettingsStruct):
    """``settings.oci-defaults``: every field optional, unknown fields rejected."""

    capabilities: dict[OciDefaultsCapability, bool] | None = None
    resource_limits: dict[OciDefaultsResourceLimitType, OciDefaultsResourceLimitV1] | None = None


MODEL = OciDefaultsV1

RUST_TYPES: dict[str, Any] = {
    "OciDefaultsResourceLimitV1": OciDefaultsResourceLimitV1,
    "OciDefaultsV1": OciDefaultsV1,
}
