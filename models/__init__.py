"""thar's settings model: Bottlerocket's settings (bottlerocket-settings-models v0.6.0) in
pydantic v2, the rest of the API model, and variants.

Every PATCH is validated here before anything is staged; every variant's defaults validate
against their variant's model. The model is strict (no type coercion), closed (unknown fields
are errors at every level) and speaks kebab-case. See README.md.
"""

from __future__ import annotations

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
