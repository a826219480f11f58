"""Which migrations take a datastore from one version to another, in the order they run.

thar scans the migration directory for executables named ``migrate_v<X.Y.Z>_<name>``
(Bottlerocket's original, file-name method): going forward from ``a`` to ``b`` runs every
migration with ``a < version <= b``; going backward runs those with ``b < version <= a``
(each version's migration knows how to undo itself), sorted by (version, name) and then
reversed.

Within one version the name decides the order. When the order matters (Bottlerocket's real
history is not alphabetical within a version) put Bottlerocket's ``manifest.json`` in the
directory: ``{"migrations": {"(1.0.4, 1.0.5)": ["migrate_v1.0.5_b", "migrate_v1.0.5_a"]}}``.
Then the manifest decides, as in Bottlerocket's ``find_migrations``: from the lower version,
repeatedly take the entry ``(v, t)`` with the largest ``t`` not past the higher version, and
concatenate the lists (reversed as a whole going backward). Listed names may carry
Bottlerocket's ``.lz4`` suffix; the file is looked up without it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from thar.datastore import Version, VersionError
from thar.update_metadata import MissingMigration as UpdateMissingMigration
from thar.update_metadata import Version as UpdateVersion
from thar.update_metadata import find_migrations as chain_migrations

from .errors import MigratorError, MissingMigration

__all__ = [
    "MANIFEST",
    "MIGRATION_NAME",
    "find_migrations",
    "manifest_migrations",
    "migration_version",
    "read_manifest",
    "scan_migrations",
]

MIGRATION_NAME = re.compile(r"migrate_v?(?P<version>[0-9]+\.[0-9]+\.[0-9]+[0-9a-zA-Z+-]*)_(?P<name>[a-zA-Z0-9-]+)")
MANIFEST = "manifest.json"
_KEY = re.compile(r"\((?P<from>[^ ,]+),[ ]*(?P<to>[^ ,]+)\)")
_XYZ = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")


def migration_version(file_name: str) -> tuple[Version, str] | None:
    """``(version, name)`` of a migration file name, or None if it is not one."""
    m = MIGRATION_NAME.fullmatch(file_name)
    if m is None:
        return None
    xyz = _XYZ.match(m["version"])
    assert xyz is not None
    return Version(int(xyz[1]), int(xyz[2]), int(xyz[3])), m["name"]


def scan_migrations(directory: Path, current: Version, target: Version) -> list[Path]:
    """The migrations in ``directory`` between ``current`` and ``target``, in run order."""
    if current == target:
        return []
    forward = current < target
    lo, hi = (current, target) if forward else (target, current)
    found: list[tuple[Version, str, Path]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError as exc:
        raise MigratorError(f"Cannot list the migration directory {directory}: {exc.strerror or exc}") from exc
    for entry in entries:
        parsed = migration_version(entry.name)
        if parsed is None or not entry.is_file():
            continue
        version, name = parsed
        if lo < version <= hi:
            found.append((version, name, Path(entry.path)))
    found.sort(key=lambda item: (item[0], item[1]))
    paths = [path for _, _, path in found]
    return paths if forward else paths[::-1]


def read_manifest(path: Path) -> dict[tuple[Version, Version], list[str]]:
    """The ``migrations`` table of a Bottlerocket ``manifest.json``."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))["migrations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MigratorError(f"Cannot read the migrations of manifest {path}: {exc}") from exc
    if not isinstance(table, dict):
        raise MigratorError(f"'migrations' in manifest {path} is not a table")
    out: dict[tuple[Version, Version], list[str]] = {}
    for key, names in table.items():
        m = _KEY.fullmatch(key)
        if m is None or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise MigratorError(f'Manifest {path}: bad entry {key!r}; expected "(from, to)": [file names]')
        try:
            out[Version.parse(m["from"]), Version.parse(m["to"])] = names
        except VersionError as exc:
            raise MigratorError(f"Manifest {path}: bad entry {key!r}: {exc}") from exc
    return out


def manifest_migrations(
    table: Mapping[tuple[Version, Version], Sequence[str]], current: Version, target: Version
) -> list[str]:
    """Bottlerocket's ``find_migrations`` (``thar.update_metadata``, the rule updog uses too): the
    listed names from ``current`` to ``target``; :class:`MissingMigration` at a gap."""
    try:
        return chain_migrations(
            UpdateVersion.parse(str(current)),
            UpdateVersion.parse(str(target)),
            {(UpdateVersion.parse(str(f)), UpdateVersion.parse(str(t))): names for (f, t), names in table.items()},
        )
    except UpdateMissingMigration as exc:
        raise MissingMigration(exc.current, exc.target) from exc


def find_migrations(directory: Path, current: Version, target: Version) -> list[Path]:
    """The migrations to run, by the manifest when the directory has one, else by file name."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return scan_migrations(directory, current, target)
    paths = []
    for name in manifest_migrations(read_manifest(manifest), current, target):
        plain = name.removesuffix(".lz4")
        path = directory / plain
        if not path.is_file():
            raise MigratorError(f"Migration {plain} is listed in {manifest} but is not in {directory}")
        paths.append(path)
    return paths
