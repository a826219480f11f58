"""The update manifest library (Bottlerocket's ``update_metadata`` crate): the ``manifest.json``
model and its JSON, wave arithmetic, update selection and ``find_migrations``. See README.md."""

from __future__ import annotations

from .errors import (
    ManifestError,
    MissingMigration,
    SeedError,
    TimestampError,
    UpdateMetadataError,
    VersionError,
    VersionLockError,
    WavesError,
)
from .manifest import Images, Manifest, Update, dump_manifest, load_manifest, manifest_to_dict, parse_manifest
from .migrations import find_migrations
from .selection import applicable_updates, update_required
from .semver import LATEST, Version, parse_version_lock
from .timestamps import Timestamp
from .waves import MAX_SEED, Wave, ready, wave_for_seed, waves_from_policy

__all__ = [
    "LATEST",
    "MAX_SEED",
    "Images",
    "Manifest",
    "ManifestError",
    "MissingMigration",
    "SeedError",
    "Timestamp",
    "TimestampError",
    "Update",
    "UpdateMetadataError",
    "Version",
    "VersionError",
    "VersionLockError",
    "Wave",
    "WavesError",
    "applicable_updates",
    "dump_manifest",
    "find_migrations",
    "load_manifest",
    "manifest_to_dict",
    "parse_manifest",
    "parse_version_lock",
    "ready",
    "update_required",
    "wave_for_seed",
    "waves_from_policy",
]
