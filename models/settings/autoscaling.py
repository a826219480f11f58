"""``settings.autoscaling``: whether to wait for the auto scaling group's lifecycle hook."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct

__all__ = ["MODEL", "NAME", "RUST_TYPES", "AutoScalingSettingsV1"]


class AutoScalingSettingsV1(SettingsStruct):
    """``should-wait``: hold the instance in Pending:Wait until the host is ready."""

    should_wait: bool | None = None


NAME = "autoscaling"
MODEL: Any = AutoScalingSettingsV1
RUST_TYPES: dict[str, Any] = {"AutoScalingSettingsV1": AutoScalingSettingsV1}
