"""The version links around a datastore: reading the current version, switching them to a new
datastore directory, and removing old datastore directories.

::

    D/current -> v1 -> v1.5 -> v1.5.2 -> v1.5.2_0123456789abcdef/

Every switch replaces one link with ``rename(2)`` of a new link over it, patch → minor →
major → current, so at every moment ``current`` resolves to either the old or the new
datastore, never to something in between.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import secrets
import shutil
import string
from collections.abc import Iterable
from pathlib import Path

from thar.datastore import LinkNotReplaced, Version, VersionError, link_datastore

from .errors import LinkError

__all__ = [
    "DOOMED_PREFIX",
    "KEEP",
    "cleanup",
    "current_version",
    "flip_to_new_version",
    "random_suffix",
    "sweep",
    "sync_filesystem",
]

log = logging.getLogger("migrator")

#: How many datastore directories cleanup keeps: the current one and the one before it.
KEEP = 2
_ALPHABET = string.ascii_letters + string.digits
_DATASTORE_DIR = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+_[A-Za-z0-9]+")
_VERSION_LINK = re.compile(r"v[0-9]+(?:\.[0-9]+){0,2}")
DOOMED_PREFIX = ".~old-"


def random_suffix() -> str:
    """16 random characters from ``[A-Za-z0-9]``."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def current_version(base: Path) -> Version:
    """The version named by the link chain: ``current`` → ``vM`` → ``vM.m`` → ``vM.m.p``; the
    last name is the version (the patch link itself is not followed)."""
    name = "current"
    for _ in range(3):
        link = base / name
        try:
            name = os.readlink(link)
        except OSError as exc:
            raise LinkError(link, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        return Version.parse(name.removeprefix("v"))
    except VersionError as exc:
        raise LinkError(base / name, f"'{name}' is not a datastore version vX.Y.Z") from exc


def flip_to_new_version(version: Version, to_dir: Path, *, sync: bool = True) -> None:
    """Point ``vX.Y.Z`` at ``to_dir``, then ``vX.Y`` → ``vX.Y.Z``, ``vX`` → ``vX.Y`` and
    ``current`` → ``vX``, each with an atomic rename (``datastore.link_datastore``); then fsync
    the directory."""
    log.debug("Pointing the version links of %s at %s", to_dir.parent, to_dir.name)
    try:
        link_datastore(to_dir, version, sync=False)
    except LinkNotReplaced as exc:
        raise LinkError(exc.path, f"cannot be pointed at {exc.target}: {exc.reason}") from exc
    base = to_dir.parent
    if sync:
        try:
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("Cannot fsync %s after switching the version links: %s", base, exc.strerror or exc)


def _libc_syncfs() -> object | None:
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except OSError:
        return None


_syncfs = _libc_syncfs()


def sync_filesystem(path: Path) -> None:
    """Make everything written under ``path`` durable (``syncfs(2)`` of its filesystem)."""
    if _syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd) != 0:  # type: ignore[operator]
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs of {path} failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def sweep(base: Path) -> None:
    """Remove what an interrupted migrator left half-deleted or half-linked (names with ``~``)."""
    for entry in list(os.scandir(base)):
        if entry.name.startswith(DOOMED_PREFIX) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif entry.name.startswith(".~") and entry.is_symlink():
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _resolves_to(base: Path, name: str) -> str | None:
    """The datastore directory the link ``name`` leads to (following links inside ``base``)."""
    seen = 0
    while seen < 8:
        path = base / name
        if not path.is_symlink():
            return name if path.is_dir() else None
        target = os.readlink(path)
        if "/" in target:
            return None
        name, seen = target, seen + 1
    return None


def cleanup(base: Path, keep: Iterable[Path]) -> list[str]:
    """Remove datastore directories beyond the last ``KEEP``, and the links left dangling.

    Kept: the directories in ``keep`` (the one ``current`` leads to first), then the most
    recently modified other directories that a version link still leads to, up to ``KEEP``.
    Directories no link leads to (left by a failed or interrupted migration) always go. Each
    directory is renamed away before it is removed, so a half-removed one never looks like a
    datastore. Returns the names removed.
    """
    entries = {e.name: e for e in os.scandir(base)}
    dirs = {name for name, e in entries.items() if _DATASTORE_DIR.fullmatch(name) and e.is_dir(follow_symlinks=False)}
    links = {name for name, e in entries.items() if _VERSION_LINK.fullmatch(name) and e.is_symlink()}
    current = _resolves_to(base, "current")
    linked = {d for link in links if (d := _resolves_to(base, link)) is not None}
    kept: list[str] = []
    for path in keep:
        if path.name in dirs and path.name not in kept:
            kept.append(path.name)
    if current is not None and current not in kept:
        kept.insert(0, current)
    others = sorted(linked - set(kept), key=lambda d: entries[d].stat(follow_symlinks=False).st_mtime_ns, reverse=True)
    kept.extend(others[: max(0, KEEP - len(kept))])
    removed = sorted(dirs - set(kept))
    for name in removed:
        doomed = base / f"{DOOMED_PREFIX}{name}"
        try:
            os.rename(base / name, doomed)
        except OSError as exc:
            log.warning("Cannot remove old datastore %s: %s", base / name, exc.strerror or exc)
            continue
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("Removed old datastore %s", name)
    # Links that now lead nowhere: patch links first, then the minor and major links above them.
    for depth in (2, 1, 0):
        for name in sorted(links):
            if name.count(".") == depth and (base / name).is_symlink() and _resolves_to(base, name) is None:
                with contextlib.suppress(OSError):
                    os.unlink(base / name)
                    log.debug("Removed dangling link %s", name)
    return removed
