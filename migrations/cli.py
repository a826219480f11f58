"""The ``migrator`` command: Bottlerocket's arguments, parsed as Bottlerocket parses them.

::

    migrator --datastore-path PATH --migration-directory PATH
             (--migrate-to-version X.Y.Z | --migrate-to-version-from-os-release)
             [--log-level trace|debug|info|warn|error]
             [--root-path PATH] [--metadata-directory PATH]     (updog's TUF cache)
             [--no-sync] [--spawn-migrations] [--keep-image-defaults]   (thar only)

A datastore path that does not exist is the first boot: the message goes to stderr and the
exit status is 0. Usage errors exit 2; a failed migration (or any other runtime error)
prints its message on stderr and exits 1; success exits 0. ``-h``/``--help`` prints the usage
on stdout and exits 0.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from thar import logs
from thar.datastore import DatastoreError, Version, VersionError, version_from_os_release
from thar.paths import thar_root

from .errors import MigrationsError

__all__ = ["USAGE", "Options", "main", "parse_args"]

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
"""The `--log-level` names this command takes (`thar.logs.LEVELS` less `off`)."""
OS_RELEASE = Path("usr/lib/os-release")

USAGE = """\
Usage: migrator --datastore-path PATH --migration-directory PATH
                ( --migrate-to-version X.Y.Z | --migrate-to-version-from-os-release )
                [ --log-level trace|debug|info|warn|error ]
                [ --root-path PATH ] [ --metadata-directory PATH ]
                [ --no-sync ] [ --spawn-migrations ] [ --keep-image-defaults ]

    --datastore-path             the datastore, normally D/current; if it does not exist
                                 (first boot) the migrator exits 0
    --migration-directory        where updog cached the release's migrations ({sha256}.{name},
                                 when --metadata-directory holds its TUF metadata), else where
                                 the migrate_v<X.Y.Z>_<name> executables are (and optionally
                                 Bottlerocket's manifest.json, for their order)
    --migrate-to-version         the version to migrate to
    --migrate-to-version-from-os-release
                                 VERSION_ID of $THAR_ROOT/usr/lib/os-release (THAR_ROOT: /)
    --log-level                  default info; debug shows each migration's output
    --root-path                  the trusted TUF root.json the cache is verified from
    --metadata-directory         the TUF metadata updog cached (timestamp.json, N.root.json,
                                 {v}.snapshot.json, {v}.targets.json); verified offline, expiry
                                 not checked. Without a timestamp.json there the migration
                                 directory is read as plain executables
    --no-sync                    skip syncfs/fsync (tests and sandboxes: still safe against a
                                 killed migrator, not against power loss)
    --spawn-migrations           start every migration as a new process, also Python ones
                                 (by default those run in a forked child of the migrator)
    --keep-image-defaults        after migrating, keep live's services, configuration-files
                                 and setting metadata (by default they are cleared, for the new
                                 image's storewolf to write its defaults); for inspecting what
                                 the migrations themselves wrote
"""


class UsageError(Exception):
    pass


class FirstBoot(Exception):
    pass


@dataclass
class Options:
    datastore_path: Path
    migration_directory: Path
    target: Version | None  # None: from os-release
    log_level: str = "info"
    sync: bool = True
    fork_python: bool = True
    root_path: Path | None = None
    metadata_directory: Path | None = None
    clear_defaults: bool = True


def parse_args(argv: Sequence[str]) -> Options:
    """Parse the arguments; raises UsageError, or FirstBoot when the datastore path is missing."""
    datastore: Path | None = None
    migration_dir: Path | None = None
    target: Version | None = None
    from_os_release = False
    seen_target = False
    log_level = "info"
    sync = True
    fork_python = True
    clear_defaults = True
    root_path: Path | None = None
    metadata_directory: Path | None = None
    it = iter(argv)
    for arg in it:
        if arg in ("--no-sync", "--spawn-migrations", "--keep-image-defaults", "--migrate-to-version-from-os-release"):
            if arg == "--no-sync":
                sync = False
            elif arg == "--spawn-migrations":
                fork_python = False
            elif arg == "--keep-image-defaults":
                clear_defaults = False
            else:
                from_os_release, seen_target, target = True, True, None
            continue
        if arg not in (
            "--datastore-path",
            "--migration-directory",
            "--migrate-to-version",
            "--log-level",
            "--root-path",
            "--metadata-directory",
        ):
            raise UsageError(f"Unable to parse input '{arg}'")
        value = next(it, None)
        if value is None:
            raise UsageError(f"Did not give argument to {arg}")
        if arg == "--datastore-path":
            datastore = Path(value)
            if not datastore.exists():
                raise FirstBoot(f"Data store does not exist at given path, exiting ({value})")
        elif arg == "--migration-directory":
            migration_dir = Path(value)
        elif arg == "--migrate-to-version":
            try:
                target = Version.parse(value)
            except VersionError as exc:
                raise UsageError(f"Invalid version '{value}': {exc}") from exc
            from_os_release, seen_target = False, True
        elif arg == "--log-level":
            if value.lower() not in LOG_LEVELS:
                raise UsageError(f"Invalid log level '{value}'; use one of {', '.join(LOG_LEVELS)}")
            log_level = value.lower()
        elif arg == "--root-path":
            root_path = Path(value)
        else:  # --metadata-directory
            metadata_directory = Path(value)
    if datastore is None:
        raise UsageError("--datastore-path is required")
    if migration_dir is None:
        raise UsageError("--migration-directory is required")
    if not seen_target:
        raise UsageError("--migrate-to-version or --migrate-to-version-from-os-release is required")
    del from_os_release  # target None means "from os-release"
    return Options(
        datastore, migration_dir, target, log_level, sync, fork_python, root_path, metadata_directory, clear_defaults
    )


def setup_logging(level: str) -> None:
    """``HH:MM:SS [LEVEL] message``; errors to stderr, the rest to stdout."""
    logs.setup_logging(level, "migrator")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the migrator; return its exit status."""
    from .migrator import migrate_datastore

    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(USAGE)
        return 0
    try:
        options = parse_args(argv)
    except FirstBoot as exc:
        print(exc, file=sys.stderr)
        return 0
    except UsageError as exc:
        print(f"{exc}\n\n{USAGE}", file=sys.stderr)
        return 2
    setup_logging(options.log_level)
    try:
        target = options.target
        if target is None:
            target = version_from_os_release(thar_root() / OS_RELEASE)
        migrate_datastore(
            options.datastore_path,
            options.migration_directory,
            target,
            sync=options.sync,
            fork_python=options.fork_python,
            root_path=options.root_path,
            metadata_directory=options.metadata_directory,
            clear_defaults=options.clear_defaults,
        )
    except (MigrationsError, DatastoreError, OSError) as exc:
        print(f"Migrator failed: {exc}", file=sys.stderr)
        return 1
    return 0
