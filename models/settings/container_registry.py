"""``settings.container-registry``: registry mirrors and registry credentials.

``mirrors`` also accepts the legacy table form, converted to the list form in table order::

    {"docker.io": ["https://m1", "https://m2"]}  ->  [{"registry": "docker.io", "endpoint": [...]}]

``mirrors: null`` is an error (a custom deserializer upstream), not "absent". ``creds`` is
accepted for ``credentials`` and emitted as ``credentials``; giving both is an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from ..base import SettingsStruct
from ..modeled_types.shared import SingleLineString, Url, ValidBase64

__all__ = ["MODEL", "NAME", "RUST_TYPES", "RegistryCredentialV1", "RegistryMirrorV1", "RegistrySettingsV1"]


class RegistryMirrorV1(SettingsStruct):
    """The endpoints that serve as mirrors of ``registry`` (``*`` for every registry)."""

    registry: SingleLineString | None = None
    endpoint: list[Url] | None = None


class RegistryCredentialV1(SettingsStruct):
    """Login for one registry; ``auth`` is base64 of ``username:password``."""

    registry: SingleLineString | None = None
    username: SingleLineString | None = None
    password: SingleLineString | None = None
    auth: ValidBase64 | None = None
    identitytoken: SingleLineString | None = None


class RegistrySettingsV1(SettingsStruct):
    """``mirrors`` (list or legacy table) and ``credentials`` (alias ``creds``)."""

    mirrors: list[RegistryMirrorV1] | None = None
    credentials: list[RegistryCredentialV1] | None = Field(
        default=None,
        validation_alias=AliasChoices("credentials", "creds"),
        serialization_alias="credentials",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and "credentials" in data and "creds" in data:
            raise ValueError("duplicate field `credentials` (given as both `credentials` and `creds`)")
        return data

    @field_validator("mirrors", mode="before")
    @classmethod
    def _mirrors_form(cls, value: Any) -> Any:
        """Runs only when ``mirrors`` is given, so an explicit null fails here."""
        if value is None:
            raise ValueError("invalid type: null, expected a list of mirrors or a table of registry = [endpoints]")
        if not isinstance(value, dict):
            return value
        mirrors = []
        for registry, endpoint in value.items():
            if endpoint is None:
                raise ValueError(f"invalid type: null for registry '{registry}', expected a list of endpoints")
            mirrors.append({"registry": registry, "endpoint": endpoint})
        return mirrors


NAME = "container-registry"
MODEL: Any = RegistrySettingsV1
RUST_TYPES: dict[str, Any] = {
    "RegistrySettingsV1": RegistrySettingsV1,
    "RegistryMirrorV1": RegistryMirrorV1,
    "RegistryCredentialV1": RegistryCredentialV1,
}
