"""The migrations updog cached for the migrator, read offline as a TUF repository
(migrations.md §1.1, updates.md §4.5).

updog leaves a consistent-snapshot mirror: in the metadata directory the root chain
``N.root.json``, ``timestamp.json``, ``{v}.snapshot.json`` and ``{v}.targets.json``; in the
migration directory each target as ``{sha256}.{name}`` (``manifest.json`` and the LZ4-compressed
migrations). The migrator checks it as Bottlerocket's migrator does, **without expiry checks**
(the update may have been downloaded long before this boot):

1. the trusted root (``--root-path``) verifies against itself;
2. ``N+1.root.json`` while present: signed by a threshold of the old and of the new root, version N+1;
3. ``timestamp.json`` signed by the root's timestamp keys;
4. ``{v}.snapshot.json``: the version, length and hashes the timestamp lists, signed;
5. ``{v}.targets.json``: the version (and length/hashes, when listed) the snapshot lists, signed;
6. every target read: listed in targets, its length and sha256 as listed.

Every failure is a :class:`CacheError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.frame
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, Targets, Timestamp

from thar.datastore import Version as DatastoreVersion
from thar.update_metadata import ManifestError, UpdateMetadataError, Version, find_migrations, parse_manifest

from .errors import MigratorError

__all__ = ["MAX_ROOT_ROTATIONS", "CacheError", "MigrationCache", "cached_migrations", "has_cache", "load_cache"]

TIMESTAMP = "timestamp.json"
MANIFEST = "manifest.json"
MAX_ROOT_ROTATIONS = 1024


class CacheError(MigratorError):
    """The cached repository does not verify; the datastore and its links are left as they were."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"Cached update repository: {path}: {problem}")


def has_cache(metadata_directory: Path | None) -> bool:
    """Whether ``metadata_directory`` holds a TUF mirror (its ``timestamp.json``)."""
    return metadata_directory is not None and (metadata_directory / TIMESTAMP).is_file()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CacheError(path, f"cannot be read: {exc.strerror or exc}") from exc


def _parse(path: Path, data: bytes, role: str) -> Metadata[Any]:
    try:
        md: Metadata[Any] = Metadata.from_bytes(data)
    except Exception as exc:  # python-tuf raises DeserializationError and ValueError alike
        raise CacheError(path, f"is not valid TUF metadata: {exc}") from exc
    if md.signed.type != role:
        raise CacheError(path, f"is {md.signed.type} metadata, expected {role}")
    return md


def _verify(path: Path, delegator: Root, role: str, md: Metadata[Any]) -> None:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        raise CacheError(path, f"signature check failed: {exc}") from exc


def _check_meta(path: Path, listed: MetaFile, data: bytes, md: Metadata[Any], by: str) -> None:
    try:
        listed.verify_length_and_hashes(data)
    except LengthOrHashMismatchError as exc:
        raise CacheError(path, f"length or hashes do not match {by}: {exc}") from exc
    if md.signed.version != listed.version:
        raise CacheError(path, f"version {md.signed.version}, but {by} lists version {listed.version}")


@dataclass
class MigrationCache:
    """The verified metadata and the directory of cached targets."""

    targets_directory: Path
    targets: Targets
    root_version: int

    def read_target(self, name: str) -> bytes:
        """The bytes of target ``name`` once its length and sha256 match the targets metadata."""
        info = self.targets.targets.get(name)
        if info is None:
            raise CacheError(name, "is not listed in the cached targets metadata")
        sha256 = info.hashes.get("sha256")
        if sha256 is None:
            raise CacheError(name, "the targets metadata lists no sha256 for it")
        path = self.targets_directory / f"{sha256}.{name}"
        if not path.is_file():
            raise CacheError(path, f"missing: target {name} was not cached")
        data = _read(path)
        if len(data) != info.length:
            raise CacheError(path, f"length {len(data)} does not match the targets metadata ({info.length})")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CacheError(path, "sha256 does not match the targets metadata")
        return data

    def read_migration(self, name: str) -> bytes:
        """A migration target, read and verified, LZ4-decompressed when its name ends in ``.lz4``."""
        data = self.read_target(name)
        if not name.endswith(".lz4"):
            return data
        try:
            out: bytes = lz4.frame.decompress(data)
        except RuntimeError as exc:
            raise CacheError(name, f"is not a valid LZ4 frame: {exc}") from exc
        return out


def load_cache(root_path: Path, metadata_directory: Path, targets_directory: Path) -> MigrationCache:
    """Verify the mirror in ``metadata_directory`` from the trusted root at ``root_path``, offline
    and with expiry checks disabled; raises :class:`CacheError`."""
    data = _read(root_path)
    root_md = _parse(root_path, data, Root.type)
    _verify(root_path, root_md.signed, Root.type, root_md)
    for _ in range(MAX_ROOT_ROTATIONS):
        path = metadata_directory / f"{root_md.signed.version + 1}.root.json"
        if not path.is_file():
            break
        new = _parse(path, _read(path), Root.type)
        _verify(path, root_md.signed, Root.type, new)
        _verify(path, new.signed, Root.type, new)
        if new.signed.version != root_md.signed.version + 1:
            raise CacheError(path, f"version {new.signed.version}, expected {root_md.signed.version + 1}")
        root_md = new
    root: Root = root_md.signed

    path = metadata_directory / TIMESTAMP
    timestamp_md = _parse(path, _read(path), Timestamp.type)
    _verify(path, root, Timestamp.type, timestamp_md)
    timestamp: Timestamp = timestamp_md.signed

    listed = timestamp.snapshot_meta
    path = metadata_directory / f"{listed.version}.snapshot.json"
    data = _read(path)
    snapshot_md = _parse(path, data, Snapshot.type)
    _verify(path, root, Snapshot.type, snapshot_md)
    _check_meta(path, listed, data, snapshot_md, TIMESTAMP)
    snapshot: Snapshot = snapshot_md.signed

    listed = snapshot.meta.get("targets.json")  # type: ignore[assignment]
    if listed is None:
        raise CacheError(metadata_directory / f"{snapshot.version}.snapshot.json", "lists no targets.json")
    path = metadata_directory / f"{listed.version}.targets.json"
    data = _read(path)
    targets_md = _parse(path, data, Targets.type)
    _verify(path, root, Targets.type, targets_md)
    _check_meta(path, listed, data, targets_md, "the snapshot")
    targets: Targets = targets_md.signed
    return MigrationCache(targets_directory, targets, root.version)


def cached_migrations(
    cache: MigrationCache, current: DatastoreVersion, target: DatastoreVersion, workdir: Path
) -> list[Path]:
    """The migrations from ``current`` to ``target`` by the cached ``manifest.json`` (in run order),
    each read, verified, decompressed and written as a private executable (mode 0700) in ``workdir``
    under its name without ``.lz4``."""
    try:
        manifest = parse_manifest(cache.read_target(MANIFEST))
    except ManifestError as exc:
        raise CacheError(MANIFEST, f"cannot be parsed: {exc}") from exc
    try:
        names = find_migrations(Version.parse(str(current)), Version.parse(str(target)), manifest)
    except UpdateMetadataError as exc:
        raise CacheError(MANIFEST, str(exc)) from exc
    paths = []
    for name in names:
        data = cache.read_migration(name)
        path = workdir / name.removesuffix(".lz4")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o700)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        paths.append(path)
    return paths
