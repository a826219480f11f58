"""``settings.host-containers``: a map of container name to host container (admin, control, …)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from ..base import SettingsStruct
from ..modeled_types.shared import Identifier, Url, ValidBase64

__all__ = ["MODEL", "NAME", "RUST_TYPES", "HostContainer", "HostContainersSettingsV1"]


class HostContainer(SettingsStruct):
    """One host container: its image, whether it runs, privileges, and base64 user data."""

    source: Url | None = None
    enabled: bool | None = None
    superpowered: bool | None = None
    user_data: ValidBase64 | None = None


HostContainersSettingsV1 = Annotated[dict[Identifier, HostContainer], Strict()]

NAME = "host-containers"
MODEL: Any = HostContainersSettingsV1
RUST_TYPES: dict[str, Any] = {"HostContainersSettingsV1": HostContainersSettingsV1, "HostContainer": HostContainer}
