"""Writing a migration: the library a migration executable is built from.

A migration is an executable named ``migrate_v<version>_<name>`` that takes
``--source-datastore PATH --target-datastore PATH (--forward|--backward)``. With this library
it is a few lines::

    #!/usr/bin/env python3
    import sys
    from thar.migrations.migration_helpers import ReplaceStringMigration, migrate

    sys.exit(migrate(ReplaceStringMigration(
        setting="settings.updates.metadata-base-url",
        old_val="https://example.com/old/",
        new_val="https://example.com/new/",
    )))

``migrate`` parses the arguments, reads live and every pending transaction of the source into
``MigrationData``, runs the migration's ``forward`` or ``backward`` on each, and writes the
results into the new target datastore. Custom migrations subclass ``Migration``.
"""

from __future__ import annotations

from .args import Args, Direction, parse_args
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
    running_variant,
)
from .data import (
    ChainFailure,
    Migration,
    MigrationData,
    get_input_data,
    migrate,
    os_data,
    run_migration,
    run_migrations,
    set_output_data,
)
from .declarative import build
from .render import render_schnauzer_cmdline, render_template, schnauzer_args, template_context
from .variant import Variant, matches

__all__ = [
    "AddMetadataMigration",
    "AddPrefixesMigration",
    "AddSettingsMigration",
    "Args",
    "ChainFailure",
    "Direction",
    "ListReplacement",
    "MetadataListReplacement",
    "MetadataReplacement",
    "Migration",
    "MigrationData",
    "NoOpMigration",
    "RemoveMetadataMigration",
    "RemoveSettingsMigration",
    "ReplaceListsMigration",
    "ReplaceMetadataListsMigration",
    "ReplaceMetadataMigration",
    "ReplaceSchnauzerMigration",
    "ReplaceStringMigration",
    "ReplaceTemplateMigration",
    "SettingMetadata",
    "Variant",
    "VariantConditional",
    "build",
    "get_input_data",
    "matches",
    "migrate",
    "os_data",
    "parse_args",
    "render_schnauzer_cmdline",
    "render_template",
    "run_migration",
    "run_migrations",
    "running_variant",
    "schnauzer_args",
    "set_output_data",
    "template_context",
]
