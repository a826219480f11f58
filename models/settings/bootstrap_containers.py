"""``settings.bootstrap-containers``: a map of name to container run before the orchestrator starts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from ..base import SettingsStruct
from ..modeled_types.shared import BootstrapMode, Identifier, Url, ValidBase64

__all__ = ["MODEL", "NAME", "RUST_TYPES", "BootstrapContainer", "BootstrapContainersSettingsV1"]


class BootstrapContainer(SettingsStruct):
    """Image, run mode (off, once, always), base64 user data, and whether failure stops the boot."""

    source: Url | None = None
    mode: BootstrapMode | None = None
    user_data: ValidBase64 | None = None
    essential: bool | None = None


BootstrapContainersSettingsV1 = Annotated[dict[Identifier, BootstrapContainer], Strict()]

NAME = "bootstrap-containers"
MODEL: Any = BootstrapContainersSettingsV1
RUST_TYPES: dict[str, Any] = {
    "BootstrapContainersSettingsV1": BootstrapContainersSettingsV1,
    "BootstrapContainer": BootstrapContainer,
}
