"""storewolf: creates the datastore and seeds it with a variant's defaults, at every boot.

It runs after the migrator and before the apiserver. On the first boot it creates the
versioned datastore (``D/current -> v1 -> v1.26 -> v1.26.1 -> v1.26.1_<random>``); on every
boot it drops all pending transactions, stages the default settings that live lacks in the
pending transaction ``bottlerocket-launch`` (settings-committer commits them later, so the
first commit reports every default as changed), and writes the metadata, services and
configuration files that live lacks straight to live. Nothing already in live is ever
overwritten. Unlike Bottlerocket, defaults given as a variant are validated against its model
before anything is written. See README.md.
"""

from __future__ import annotations

from .defaults import (
    Defaults,
    find_defaults,
    host_defaults,
    load_variant_defaults,
    os_version,
    read_defaults,
    read_defaults_dir,
    read_defaults_file,
    thar_root,
)
from .errors import (
    DatastoreAccess,
    DatastoreCreation,
    DefaultSettingsNotTable,
    DefaultsFormatting,
    DefaultsMetadataUnexpectedFormat,
    DeletePending,
    Internal,
    InvalidDefaults,
    InvalidDefaultsKey,
    InventorySymlink,
    MultilineKey,
    ReadDefaults,
    SerializationFailed,
    StorewolfError,
    VariantUnavailable,
    VersionUnknown,
)
from .seed import (
    INVENTORY_PATH,
    LAUNCH_TRANSACTION,
    DefaultMetadata,
    Seeded,
    create_inventory_symlink,
    delete_pending,
    parse_metadata_toml,
    populate_default_datastore,
    seed,
)

__all__ = [
    "INVENTORY_PATH",
    "LAUNCH_TRANSACTION",
    "DatastoreAccess",
    "DatastoreCreation",
    "DefaultMetadata",
    "DefaultSettingsNotTable",
    "Defaults",
    "DefaultsFormatting",
    "DefaultsMetadataUnexpectedFormat",
    "DeletePending",
    "Internal",
    "InvalidDefaults",
    "InvalidDefaultsKey",
    "InventorySymlink",
    "MultilineKey",
    "ReadDefaults",
    "Seeded",
    "SerializationFailed",
    "StorewolfError",
    "VariantUnavailable",
    "VersionUnknown",
    "create_inventory_symlink",
    "delete_pending",
    "find_defaults",
    "host_defaults",
    "load_variant_defaults",
    "os_version",
    "parse_metadata_toml",
    "populate_default_datastore",
    "read_defaults",
    "read_defaults_dir",
    "read_defaults_file",
    "seed",
    "thar_root",
]
