"""Errors raised by storewolf.

Every error derives from :class:`StorewolfError`; the CLI catches that one class, prints the
message on stderr and exits 1. Messages are Bottlerocket's storewolf texts where it has one;
each class keeps its subject (path, key, lines) as attributes.

    StorewolfError
    ├── DeletePending                "Unable to clear pending transactions: …"
    ├── DatastoreCreation            "Unable to create datastore: …" (e.g. current exists, live does not)
    ├── DatastoreAccess              opening, querying, writing or closing the datastore failed
    ├── VersionUnknown               no --version and no os-release to read VERSION_ID from
    ├── ReadDefaults                 "Could not read defaults from '…': …"
    ├── DefaultsFormatting           "Merged defaults file '…' is not valid TOML: …"
    ├── VariantUnavailable           a variant (or defaults.d) cannot be found, read or merged
    ├── InvalidDefaults              the defaults do not fit the variant's model (thar only)
    ├── DefaultSettingsNotTable      "'settings' key in defaults is not a TOML table"
    ├── DefaultsMetadataUnexpectedFormat  "Default settings' metadata has unexpected types"
    ├── MultilineKey                 "Keys can't contain newlines: …"
    ├── InvalidDefaultsKey           "Unable to create Data|Meta key '…': …"
    ├── SerializationFailed          "Error serializing …: …"
    ├── Internal                     "Internal error: …"
    └── InventorySymlink             the inventory symlink cannot be made
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DatastoreAccess",
    "DatastoreCreation",
    "DefaultSettingsNotTable",
    "DefaultsFormatting",
    "DefaultsMetadataUnexpectedFormat",
    "DeletePending",
    "Internal",
    "InvalidDefaults",
    "InvalidDefaultsKey",
    "InventorySymlink",
    "MultilineKey",
    "ReadDefaults",
    "SerializationFailed",
    "StorewolfError",
    "VariantUnavailable",
    "VersionUnknown",
]


class StorewolfError(Exception):
    """Base class of every error storewolf raises; ``str(exc)`` is what the CLI prints."""


class DeletePending(StorewolfError):
    """``D/current/pending`` exists but cannot be removed."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"Unable to clear pending transactions: {reason}: {path}")


class DatastoreCreation(StorewolfError):
    """The versioned datastore and its links cannot be created (a link already exists, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Unable to create datastore: {reason}")


class DatastoreAccess(StorewolfError):
    """A datastore operation failed; ``what`` says which (Bottlerocket's wording)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        super().__init__(f"{what}: {reason}")


class VersionUnknown(StorewolfError):
    """A new datastore needs a version, and none was given or found."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Unable to determine the OS version for a new datastore: {reason}; pass --version X.Y.Z")


class ReadDefaults(StorewolfError):
    """The merged defaults file cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"Could not read defaults from '{path}': {reason}")


class DefaultsFormatting(StorewolfError):
    """The merged defaults file is not TOML; the reason names line and column."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"Merged defaults file '{path}' is not valid TOML: {reason}")


class VariantUnavailable(StorewolfError):
    """A variant or ``defaults.d`` directory cannot be found, read, parsed or merged."""


class InvalidDefaults(StorewolfError):
    """The defaults do not fit the variant's model; ``lines`` holds one problem each."""

    def __init__(self, variant: str, lines: list[str]) -> None:
        self.variant = variant
        self.lines = lines
        header = f"Defaults of variant '{variant}' do not fit its model ({len(lines)} problem(s)); nothing was written:"
        super().__init__("\n".join([header, *lines]))


class DefaultSettingsNotTable(StorewolfError):
    """``settings`` in the defaults is a scalar or an array."""

    def __init__(self) -> None:
        super().__init__("'settings' key in defaults is not a TOML table")


class DefaultsMetadataUnexpectedFormat(StorewolfError):
    """A metadata leaf is not a string or an array (an integer, a float, a boolean, a date)."""

    def __init__(self, at: str) -> None:
        self.at = at
        super().__init__(f"Default settings' metadata has unexpected types (at '{at}')")


class MultilineKey(StorewolfError):
    """A metadata data key or name contains a line terminator."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Keys can't contain newlines: {key!r} contains a line terminator")


class InvalidDefaultsKey(StorewolfError):
    """A metadata data key or metadata name is not a valid datastore key."""

    def __init__(self, key_type: str, key: str, reason: str) -> None:
        self.key_type = key_type
        self.key = key
        super().__init__(f"Unable to create {key_type} key '{key}': {reason}")


class SerializationFailed(StorewolfError):
    """Defaults cannot be turned into datastore keys and values."""

    def __init__(self, given: str, reason: str) -> None:
        self.given = given
        super().__init__(f"Error serializing {given}: {reason}")


class Internal(StorewolfError):
    """A shape of input storewolf cannot map to keys (metadata without a data key)."""

    def __init__(self, msg: str) -> None:
        super().__init__(f"Internal error: {msg}")


class InventorySymlink(StorewolfError):
    """The inventory symlink's parent cannot be made, the old entry removed or the link created."""
