"""``settings.metrics``: whether and where the host reports anonymous health metrics."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import StrictStr, Url

__all__ = ["MODEL", "NAME", "RUST_TYPES", "MetricsSettingsV1"]


class MetricsSettingsV1(SettingsStruct):
    """``service-checks`` names the services whose health is reported."""

    metrics_url: Url | None = None
    send_metrics: bool | None = None
    service_checks: list[StrictStr] | None = None


NAME = "metrics"
MODEL: Any = MetricsSettingsV1
RUST_TYPES: dict[str, Any] = {"MetricsSettingsV1": MetricsSettingsV1}
