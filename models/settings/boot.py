"""``settings.boot``: kernel and init parameters written to the boot config, and whether to reboot.

Input accepts ``kernel-parameters`` or ``kernel`` (and ``init-parameters`` or ``init``); output
always uses the short names ``kernel`` / ``init``, as Bottlerocket does. Giving both spellings
of one field is an error (serde's duplicate field).
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, model_validator

from ..base import SettingsStruct
from ..modeled_types.shared import BootConfigKey, BootConfigValue

__all__ = ["MODEL", "NAME", "RUST_TYPES", "BootSettingsV1"]

BootConfig = dict[BootConfigKey, list[BootConfigValue]]

_SPELLINGS = {"kernel-parameters": "kernel", "init-parameters": "init"}


class BootSettingsV1(SettingsStruct):
    """``{"reboot-to-reconcile": true, "kernel": {"console": ["tty0", "ttyS0"]}}``."""

    reboot_to_reconcile: bool | None = None
    kernel_parameters: BootConfig | None = Field(
        default=None,
        validation_alias=AliasChoices("kernel-parameters", "kernel"),
        serialization_alias="kernel",
    )
    init_parameters: BootConfig | None = Field(
        default=None,
        validation_alias=AliasChoices("init-parameters", "init"),
        serialization_alias="init",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for long, short in _SPELLINGS.items():
                if long in data and short in data:
                    raise ValueError(f"duplicate field `{long}` (given as both `{long}` and `{short}`)")
        return data


NAME = "boot"
MODEL: Any = BootSettingsV1
RUST_TYPES: dict[str, Any] = {"BootSettingsV1": BootSettingsV1}
