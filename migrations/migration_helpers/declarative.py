"""Migrations described as data: ``{"helper": "<class name>", "args": {…}}``.

The same shape as Bottlerocket's migration table (the helper's name and its arguments), so a
migration that only uses the common helpers can be written as JSON or TOML::

    {"helper": "ReplaceStringMigration",
     "args": {"setting": "settings.x", "old_val": "a", "new_val": "b"}}

    {"helper": "VariantConditional",
     "args": {"when": {"variant_runtime": "k8s"},
              "then": {"helper": "AddPrefixesMigration", "args": {"prefixes": ["settings.oci-defaults"]}},
              "otherwise": {"helper": "NoOpMigration", "args": {}}}}

``custom`` (a migration with code of its own) cannot be described this way: pass a
``custom`` callable that builds it from its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import MigrationError
from .common import (
    AddMetadataMigration,
    AddPrefixesMigration,
    AddSettingsMigration,
    ListReplacement,
    MetadataListReplacement,
    MetadataReplacement,
    NoOpMigration,
    RemoveMetadataMigration,
    RemoveSettingsMigration,
    ReplaceListsMigration,
    ReplaceMetadataListsMigration,
    ReplaceMetadataMigration,
    ReplaceSchnauzerMigration,
    ReplaceStringMigration,
    ReplaceTemplateMigration,
    SettingMetadata,
    VariantConditional,
)
from .data import Migration

__all__ = ["HELPERS", "build"]

CustomBuilder = Callable[[Mapping[str, Any]], Migration]


def _settings_metadata(args: Mapping[str, Any]) -> list[SettingMetadata]:
    return [SettingMetadata(e["setting"], list(e["metadata"])) for e in args["settings_metadata"]]


HELPERS: dict[str, Callable[[Mapping[str, Any]], Migration]] = {
    "AddSettingsMigration": lambda a: AddSettingsMigration(list(a["settings"])),
    "RemoveSettingsMigration": lambda a: RemoveSettingsMigration(list(a["settings"])),
    "AddPrefixesMigration": lambda a: AddPrefixesMigration(list(a["prefixes"])),
    "ReplaceStringMigration": lambda a: ReplaceStringMigration(a["setting"], a["old_val"], a["new_val"]),
    "ReplaceListsMigration": lambda a: ReplaceListsMigration(
        [ListReplacement(r["setting"], list(r["old_vals"]), list(r["new_vals"])) for r in a["replacements"]]
    ),
    "ReplaceTemplateMigration": lambda a: ReplaceTemplateMigration(a["setting"], a["old_template"], a["new_template"]),
    "ReplaceSchnauzerMigration": lambda a: ReplaceSchnauzerMigration(
        a["setting"], a["old_schnauzer_cmdline"], a["new_schnauzer_cmdline"]
    ),
    "AddMetadataMigration": lambda a: AddMetadataMigration(_settings_metadata(a)),
    "RemoveMetadataMigration": lambda a: RemoveMetadataMigration(_settings_metadata(a)),
    "ReplaceMetadataListsMigration": lambda a: ReplaceMetadataListsMigration(
        [
            MetadataListReplacement(r["setting"], r["metadata"], list(r["old_vals"]), list(r["new_vals"]))
            for r in a["replacements"]
        ]
    ),
    "ReplaceMetadataMigration": lambda a: ReplaceMetadataMigration(
        [
            MetadataReplacement(r["setting"], r["metadata"], r["old_val"], r["new_val"], r.get("when"))
            for r in a["replacements"]
        ]
    ),
    "NoOpMigration": lambda a: NoOpMigration(),
}


def build(spec: Mapping[str, Any], custom: CustomBuilder | None = None) -> Migration:
    """The migration ``spec`` describes; ``custom`` builds ``{"helper": "custom", …}`` entries."""
    helper = spec.get("helper")
    args = spec.get("args", {})
    try:
        if helper == "VariantConditional":
            otherwise = args.get("otherwise")
            return VariantConditional(
                dict(args["when"]),
                build(args["then"], custom),
                build(otherwise, custom) if otherwise is not None else NoOpMigration(),
            )
        if helper == "custom":
            if custom is None:
                raise MigrationError(f"Migration {spec.get('name', '')!r} is custom code; it cannot be built from data")
            return custom(spec)
        if not isinstance(helper, str) or helper not in HELPERS:
            raise MigrationError(f"Unknown migration helper {helper!r}; use one of {', '.join(HELPERS)}")
        return HELPERS[helper](args)
    except (KeyError, TypeError) as exc:
        raise MigrationError(f"Bad arguments for {helper}: {exc!r} in {dict(args)}") from exc
