"""``settings.ecs``: the ECS agent's settings (spec §3.2, ECSSettingsV1, 19 fields).

Every field is optional and unknown keys are rejected. ``cluster`` and ``backend-host`` take any
JSON string; ``logging-drivers`` entries must be single-line.
"""

from __future__ import annotations

from typing import Any

from ..base import I64, U16, SettingsStruct
from ..modeled_types.ecs import (
    ECSAgentImagePullBehavior,
    ECSAgentLogLevel,
    ECSAttributeKey,
    ECSAttributeValue,
    ECSDurationValue,
)
from ..modeled_types.shared import SingleLineString, StrictStr

__all__ = ["MODEL", "NAME", "RUST_TYPES", "ECSSettingsV1"]

NAME = "ecs"


class ECSSettingsV1(SettingsStruct):
    """``settings.ecs`` (v0.6.0): every field optional, unknown fields rejected."""

    cluster: StrictStr | None = None
    instance_attributes: dict[ECSAttributeKey, ECSAttributeValue] | None = None
    allow_privileged_containers: bool | None = None
    logging_drivers: list[SingleLineString] | None = None
    loglevel: ECSAgentLogLevel | None = None
    enable_spot_instance_draining: bool | None = None
    image_pull_behavior: ECSAgentImagePullBehavior | None = None
    container_stop_timeout: ECSDurationValue | None = None
    task_cleanup_wait: ECSDurationValue | None = None
    metadata_service_rps: I64 | None = None
    metadata_service_burst: I64 | None = None
    reserved_memory: U16 | None = None
    image_cleanup_wait: ECSDurationValue | None = None
    image_cleanup_delete_per_cycle: I64 | None = None
    image_cleanup_enabled: bool | None = None
    image_cleanup_age: ECSDurationValue | None = None
    backend_host: StrictStr | None = None
    awsvpc_block_imds: bool | None = None
    enable_container_metadata: bool | None = None


MODEL = ECSSettingsV1

RUST_TYPES: dict[str, Any] = {"ECSSettingsV1": ECSSettingsV1}
