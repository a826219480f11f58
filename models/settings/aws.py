"""``settings.aws``: region, profile, and base64 AWS config / credentials files."""

from __future__ import annotations

from typing import Any

from ..base import SettingsStruct
from ..modeled_types.shared import SingleLineString, ValidBase64

__all__ = ["MODEL", "NAME", "RUST_TYPES", "AwsSettingsV1"]


class AwsSettingsV1(SettingsStruct):
    """``config`` and ``credentials`` hold base64 of the files of the same names."""

    region: SingleLineString | None = None
    config: ValidBase64 | None = None
    credentials: ValidBase64 | None = None
    profile: SingleLineString | None = None


NAME = "aws"
MODEL: Any = AwsSettingsV1
RUST_TYPES: dict[str, Any] = {"AwsSettingsV1": AwsSettingsV1}
