"""``settings.cloudformation``: whether to signal a CloudFormation stack once the host is up."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import SingleLineString

__all__ = ["MODEL", "NAME", "RUST_TYPES", "CloudFormationSettingsV1"]


class CloudFormationSettingsV1(SettingsStruct):
    """The stack and the logical resource id to signal."""

    should_signal: bool | None = None
    stack_name: SingleLineString | None = None
    logical_resource_id: SingleLineString | None = None


NAME = "cloudformation"
MODEL: Any = CloudFormationSettingsV1
RUST_TYPES: dict[str, Any] = {"CloudFormationSettingsV1": CloudFormationSettingsV1}
