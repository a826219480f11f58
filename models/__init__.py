"""thar's settings model: Bottlerocket's settings (bottlerocket-settings-models v0.6.0) in
pydantic v2, the rest of the API model, and variants.

Every PATCH is validated here before anything is staged; every variant's defaults validate
against their variant's model. The model is strict (no type coercion), closed (unknown fields
are errors at every level) and speaks kebab-case. See README.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import ConfigurationFile, MetadataValue, Os, Service, SettingGenerator, parse_os_release
    from .base import SettingsStruct
    from .errors import ModelError, format_errors
    from .variant import Variant, VariantError, extensions_for_family, load_variant, merge_defaults, settings_model

__all__ = [
    "ConfigurationFile",
    "MetadataValue",
    "ModelError",
    "Os",
    "Service",
    "SettingGenerator",
    "SettingsStruct",
    "Variant",
    "VariantError",
    "extensions_for_family",
    "format_errors",
    "load_variant",
    "merge_defaults",
    "parse_os_release",
    "settings_model",
]

# Where each name lives. They are imported on first use, so that importing one submodule
# (``models.settings.oci_defaults``) does not build every model class of the API as well.
_HOMES = {
    **dict.fromkeys(
        ["ConfigurationFile", "MetadataValue", "Os", "Service", "SettingGenerator", "parse_os_release"], "api"
    ),
    "SettingsStruct": "base",
    **dict.fromkeys(["ModelError", "format_errors"], "errors"),
    **dict.fromkeys(
        ["Variant", "VariantError", "extensions_for_family", "load_variant", "merge_defaults", "settings_model"],
        "variant",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
