"""Errors raised by the datastore.

Every error derives from :class:`DatastoreError`, so a caller can catch the whole family in
one ``except``. Each class carries its subject (key, path, transaction) as attributes and
builds its message in ``__init__``; the texts of key errors are Bottlerocket's.

    DatastoreError
    ├── InvalidKey            a key name or segment list is malformed
    │   └── KeyTooLong        a key name is longer than 255 bytes
    ├── InvalidTransaction    a transaction name cannot be used (it is empty)
    ├── KeyRead / KeyWrite    reading or writing a key's file failed
    │   └── OutOfSpace        the datastore's filesystem is full (nothing was changed)
    ├── KeyConflict           a key would be both a value and a prefix of other keys
    ├── ListedKeyNotPresent   a key vanished between listing and reading
    ├── PathTraversal         a computed path escapes the datastore
    ├── Corruption            the datastore on disk is not what it must be
    ├── CommitWithNoPending   a commit found nothing pending under ``settings.``
    ├── Serialization         a value cannot be turned into datastore pairs
    ├── Deserialization       datastore pairs cannot be turned into a nested value
    ├── VersionError          the version symlinks are missing or malformed
    │   └── LinkNotReplaced   a version link cannot be pointed at its new target
    └── JournalError          the commit journal cannot be read or written
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CommitWithNoPending",
    "Corruption",
    "DatastoreError",
    "Deserialization",
    "InvalidKey",
    "InvalidTransaction",
    "JournalError",
    "KeyConflict",
    "KeyRead",
    "KeyTooLong",
    "KeyWrite",
    "LinkNotReplaced",
    "ListedKeyNotPresent",
    "OutOfSpace",
    "PathTraversal",
    "Serialization",
    "VersionError",
]


class DatastoreError(Exception):
    """Base class of every error raised by the datastore package."""


class InvalidKey(DatastoreError):
    """A key name or segment list does not follow the key grammar."""

    def __init__(self, name: str, msg: str) -> None:
        self.name = name
        self.msg = msg
        super().__init__(f"Key name '{name}' has invalid format: {msg}")


class KeyTooLong(InvalidKey):
    """A key name is longer than 255 bytes (the maximum file name length)."""

    def __init__(self, name: str, max_len: int = 255) -> None:
        self.name = name
        self.msg = f"longer than {max_len} bytes"
        # Bottlerocket's display text, with the name and the maximum in that order.
        Exception.__init__(self, f"Key name beyond maximum length {name}: {max_len}")


class InvalidTransaction(DatastoreError):
    """A transaction name that cannot name a pending directory (the empty string)."""

    def __init__(self, tx: str) -> None:
        self.transaction = tx
        super().__init__(f"Invalid transaction name '{tx}': it cannot be empty")


class KeyRead(DatastoreError):
    """Reading a key's file failed for a reason other than its absence."""

    def __init__(self, key: str, path: Path | str, reason: str) -> None:
        self.key, self.path = key, Path(path)
        super().__init__(f"Reading key '{key}' failed: {reason} ({path})")


class KeyWrite(DatastoreError):
    """Writing or removing a key's file failed."""

    def __init__(self, key: str, path: Path | str, reason: str) -> None:
        self.key, self.path = key, Path(path)
        super().__init__(f"Writing key '{key}' failed: {reason} ({path})")


class OutOfSpace(KeyWrite):
    """The datastore's filesystem has no room (ENOSPC, EDQUOT, or SQLite's "disk is full") for a
    write. Raised only where the operation was undone first: the datastore is as it was."""

    def __init__(self, what: str, path: Path | str, reason: str) -> None:
        self.key, self.path = what, Path(path)
        DatastoreError.__init__(
            self, f"No space left on the datastore's filesystem for {what} ({reason}, {path}); nothing was changed"
        )


class KeyConflict(DatastoreError):
    """A key cannot hold a value because it is also a prefix of other keys, or the reverse."""

    def __init__(self, key: str, other: str) -> None:
        self.key, self.other = key, other
        super().__init__(
            f"Key '{key}' conflicts with '{other}': a key cannot both hold a value and be the prefix of other keys"
        )


class ListedKeyNotPresent(DatastoreError):
    """A key was listed as populated but was gone when read."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Listed key '{key}' not found on disk")


class PathTraversal(DatastoreError):
    """A computed path does not lie strictly inside the datastore."""

    def __init__(self, name: str, path: Path | str) -> None:
        self.name, self.path = name, Path(path)
        super().__init__(f"Path traversal detected for '{name}': {path}")


class Corruption(DatastoreError):
    """The datastore on disk violates an invariant (e.g. live/ is missing)."""

    def __init__(self, path: Path | str, msg: str) -> None:
        self.path, self.msg = Path(path), msg
        super().__init__(f"Data store integrity violation at {path}: {msg}")


class CommitWithNoPending(DatastoreError):
    """A commit found no pending ``settings.`` keys; the transaction is left as it was."""

    def __init__(self, tx: str) -> None:
        self.transaction = tx
        super().__init__(f"Tried to commit with no pending changes (transaction '{tx}')")


class Serialization(DatastoreError):
    """A value cannot be flattened into datastore keys."""


class Deserialization(DatastoreError):
    """Datastore keys cannot be nested back into a value."""


class VersionError(DatastoreError):
    """The versioned directory layout is missing or malformed."""


class LinkNotReplaced(VersionError):
    """A version link could not be pointed at its new target."""

    def __init__(self, path: Path | str, target: str, reason: str) -> None:
        self.path, self.target, self.reason = Path(path), target, reason
        super().__init__(f"Cannot point datastore link {path} at {target}: {reason}")


class JournalError(DatastoreError):
    """The commit journal cannot be used, or a generation is not in it."""
