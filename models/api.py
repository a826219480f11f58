"""The non-settings parts of the API model: services, configuration files, metadata, os.

These come from the variant (storewolf writes them to live) and from os-release; callers can
read them but never write them. Shapes follow Bottlerocket's API:

    services.<name>            {"configuration-files": [str], "restart-commands": [str]}   (both required)
    configuration-files.<name> {"path": str, "template-path": str, "mode"?: str}
    os                         {"pretty_name", "variant_id", "version_id", "build_id", "arch"}  (snake_case)
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from thar.osrelease import parse_os_release as parse_os_release_fields

from .base import SettingsStruct

__all__ = [
    "ConfigurationFile",
    "MetadataValue",
    "Os",
    "Service",
    "SettingGenerator",
    "parse_os_release",
]

StrictStr = Annotated[str, Strict()]


class Service(SettingsStruct):
    """A service: the configuration files it reads and the commands that restart it."""

    configuration_files: list[StrictStr]
    restart_commands: list[StrictStr]


def _check_mode(mode: str) -> str:
    if not re.fullmatch(r"0?[0-7]{3,4}", mode):
        raise ValueError(f"file mode '{mode}' is not an octal mode such as \"0644\"")
    return mode


class ConfigurationFile(SettingsStruct):
    """A file rendered from a template: where it goes, which template, and its mode."""

    path: StrictStr
    template_path: StrictStr
    mode: Annotated[str, Strict(), AfterValidator(_check_mode)] | None = None


class SettingGenerator(SettingsStruct):
    """The table form of ``setting-generator`` metadata (the string form is its ``command``)."""

    command: StrictStr
    skip_if_populated: bool = True
    strength: Annotated[str, Strict(), Field(pattern=r"^(strong|weak)$")] = "strong"


def _check_metadata(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError("metadata values are strings or lists of strings")


class MetadataValue(BaseModel):
    """Validation of one metadata entry by name (``affected-services``, ``setting-generator``,
    ``template``); other names must hold a string or a list of strings, as storewolf requires."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: str
    value: Any

    @model_validator(mode="after")
    def _by_name(self) -> MetadataValue:
        if self.name == "affected-services":
            if not (isinstance(self.value, list) and all(isinstance(v, str) for v in self.value)):
                raise ValueError("affected-services must be a list of service names")
        elif self.name == "setting-generator":
            if isinstance(self.value, dict):
                SettingGenerator.model_validate(self.value)
            elif not isinstance(self.value, str):
                raise ValueError("setting-generator must be a command string or a table with `command`")
        elif self.name == "template":
            if not isinstance(self.value, str):
                raise ValueError("template must be a string")
        else:
            _check_metadata(self.value)
        return self


class Os(BaseModel):
    """``GET /os``: fields from os-release plus the machine architecture (snake_case names)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    pretty_name: str
    variant_id: str
    version_id: Annotated[
        str, Field(pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
    ]
    build_id: str
    arch: str


def parse_os_release(text: str, arch: str) -> Os:
    """Parse os-release text as `thar.osrelease` reads it, names matching case-insensitively;
    PRETTY_NAME, VARIANT_ID, VERSION_ID and BUILD_ID are required."""
    fields = {name.lower(): value for name, value in parse_os_release_fields(text).items()}
    wanted = ("pretty_name", "variant_id", "version_id", "build_id")
    missing = [name.upper() for name in wanted if name not in fields]
    if missing:
        raise ValueError(f"os-release is missing {', '.join(missing)}")
    return Os.model_validate({name: fields[name] for name in wanted} | {"arch": arch})
