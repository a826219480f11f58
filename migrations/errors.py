"""Errors of the migrator and of the migration helpers.

Every error derives from :class:`MigrationsError`; the migrator prints the message on stderr
and exits 1, a migration executable prints it and exits 1.

    MigrationsError
    ├── MigratorError
    │   ├── LinkError             the version links around the datastore cannot be read or written
    │   ├── MissingMigration      the manifest has no path from one version to the other
    │   ├── MigrationFailure      a migration executable failed (names it and its exit status)
    │   └── TargetExists          the random target directory name is taken (retry the update)
    └── MigrationError            a migration could not transform the data (raised by a helper)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "LinkError",
    "MigrationError",
    "MigrationFailure",
    "MigrationsError",
    "MigratorError",
    "MissingMigration",
    "TargetExists",
]


class MigrationsError(Exception):
    """Base class of every error raised by the migrations package."""


class MigratorError(MigrationsError):
    """The migrator cannot finish; the datastore and its links are left as they were."""


class LinkError(MigratorError):
    """A version link is missing, malformed, or cannot be replaced."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"Datastore link {path}: {problem}")


class MissingMigration(MigratorError):
    """The update manifest lists no migrations from ``current`` towards ``target``."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"The manifest has no migrations from version {current} towards {target}; "
            "add a (from, to) entry for it (an empty list when nothing changes)"
        )


class MigrationFailure(MigratorError):
    """A migration exited non-zero (or could not be started)."""

    def __init__(self, migration: Path | str, detail: str) -> None:
        self.migration = Path(migration)
        super().__init__(
            f"Migration {self.migration.name} failed: {detail}. The datastore and its links are unchanged; "
            "fix or remove the migration and run the migrator again"
        )


class TargetExists(MigratorError):
    """The directory a migration was to write already exists."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"Migration target {path} already exists; remove it and run the migrator again")


class MigrationError(MigrationsError):
    """A migration helper could not transform the data; the migration exits 1."""
