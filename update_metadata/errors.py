"""Errors of the update manifest library.

Every error derives from :class:`UpdateMetadataError` (a ``ValueError``); each message names
what was wrong, with Bottlerocket's wording where it has one.

    UpdateMetadataError
    ├── VersionError        a string that is not a strict semantic version
    ├── TimestampError      a string that is not an RFC 3339 timestamp
    ├── ManifestError       manifest.json cannot be read or does not have Bottlerocket's shape
    ├── WavesError          a wave policy cannot be turned into waves (percentages, order)
    ├── SeedError           a seed outside 0…2048 met a non-empty wave table
    ├── VersionLockError    ``version_lock`` is neither ``latest`` nor a (``v``-prefixed) version
    └── MissingMigration    the manifest has no migration path between two versions
"""

from __future__ import annotations

__all__ = [
    "ManifestError",
    "MissingMigration",
    "SeedError",
    "TimestampError",
    "UpdateMetadataError",
    "VersionError",
    "VersionLockError",
    "WavesError",
]


class UpdateMetadataError(ValueError):
    """Base of every error of this package."""


class VersionError(UpdateMetadataError):
    """A string that is not a strict semantic version (``1.2`` is not one)."""


class TimestampError(UpdateMetadataError):
    """A string that is not an RFC 3339 timestamp."""


class ManifestError(UpdateMetadataError):
    """``manifest.json`` cannot be read, is not JSON, or does not have the manifest's shape."""


class WavesError(UpdateMetadataError):
    """A wave policy that cannot become waves (percentage outside 1…100, times not ascending)."""


class SeedError(UpdateMetadataError):
    """A seed outside 0…2048 evaluated against waves (Bottlerocket's updog panics there)."""


class VersionLockError(UpdateMetadataError):
    """``version_lock`` is neither ``latest`` nor a version with at most one leading ``v``."""


class MissingMigration(UpdateMetadataError):
    """No chain of migration entries leads from one version to the other."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"Reached end of migration chain at {current} but target is {target}")
        self.current = current
        self.target = target
