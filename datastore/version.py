"""The versioned directory layout around a datastore, and reading a version back from it.

For OS version 1.5.2, below the datastore directory ``D``::

    D/current -> v1 -> v1.5 -> v1.5.2 -> v1.5.2_0123456789abcdef/   (live/, pending/, journal)

Every link target is a bare file name (relative), the suffix is 16 random characters from
``[A-Za-z0-9]``, and the links are made patch → minor → major → current, so ``current``
only exists once the whole chain does.

``create_new_datastore`` is Bottlerocket's creation: an empty directory, then the links, an
existing link being an error. storewolf instead builds a datastore where nothing follows a
link to it and publishes it whole, so a process killed at any moment leaves a state the next
run finishes or removes:

1. ``start_new_datastore``: an empty ``D/.~new-vX.Y.Z_<suffix>``, written in full by the caller;
2. ``publish_datastore``: ``vX.Y.Z`` is pointed at ``vX.Y.Z_<suffix>`` (a name that does not
   exist yet), the directory is renamed to it, then ``vX.Y``, ``vX`` and ``current`` follow.
   Each link is made under a temporary name and renamed over the old one (``rename(2)``
   replaces it atomically), so a link is always either absent, old, or what it should be;
3. ``resume_new_datastore``, at the next run when ``current`` leads nowhere: if ``vX.Y.Z``
   names a datastore (renamed already, or still under its ``.~new-`` name, complete since the
   link is made only once it is written), the rename and the links are finished and it is
   returned. Every other ``.~new-`` entry (a datastore cut short while it was written, a
   temporary link) is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from thar.osrelease import read_os_release

from .errors import LinkNotReplaced, VersionError

__all__ = [
    "BUILDING_PREFIX",
    "Version",
    "create_new_datastore",
    "datastore_version",
    "link_datastore",
    "publish_datastore",
    "resume_new_datastore",
    "start_new_datastore",
    "version_from_os_release",
]

_VERSION_RE = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]*)?")
_SUFFIX_ALPHABET = string.ascii_letters + string.digits
#: Names below ``D`` of datastores being written and of links being made (``~`` is in no
#: datastore or version name, so nothing takes them for one).
BUILDING_PREFIX = ".~new-"


@dataclass(frozen=True, order=True)
class Version:
    """A datastore version: only major.minor.patch matter."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """``1.5.2`` (or ``v1.5.2``; pre-release and build parts are ignored)."""
        m = _VERSION_RE.fullmatch(text.strip())
        if m is None:
            raise VersionError(f"Invalid version '{text}': expected major.minor.patch, e.g. 1.26.1")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def create_new_datastore(base: str | os.PathLike[str], version: Version) -> Path:
    """Create ``base/vX.Y.Z_<random>`` and the links to it; return the new directory.

    ``live/`` is not created (the first write does that). A link that already exists is an
    error (FileExistsError from the OS, wrapped in VersionError), as in Bottlerocket.
    """
    base = Path(base)
    patch, minor, major = _link_names(version)
    real = f"{patch}_{_random_suffix()}"
    (base / real).mkdir(parents=True)
    for link, target in ((patch, real), (minor, patch), (major, minor), ("current", major)):
        try:
            os.symlink(target, base / link)
        except FileExistsError as exc:
            raise VersionError(f"Cannot create datastore link {base / link}: it already exists") from exc
    return base / real


def start_new_datastore(base: str | os.PathLike[str], version: Version) -> Path:
    """Make the empty directory ``base/.~new-vX.Y.Z_<suffix>`` (and ``base`` if needed) for a
    datastore to be written in full, then published with ``publish_datastore``; return it.

    Nothing leads to it, so readers never see it half-written, and ``resume_new_datastore``
    removes it if the process writing it dies.
    """
    building = Path(base) / f"{BUILDING_PREFIX}v{version}_{_random_suffix()}"
    building.parent.mkdir(parents=True, exist_ok=True)
    building.mkdir()
    return building


def publish_datastore(building: str | os.PathLike[str], *, sync: bool = True) -> Path:
    """Give the complete datastore ``building`` (from ``start_new_datastore``) its name
    ``vX.Y.Z_<suffix>`` and the links to it; return its new path.

    ``vX.Y.Z`` is pointed at the new name first, so from then on the next run finds it even if
    this process dies before the rename. ``sync`` makes the directory entries durable (the
    caller makes the datastore's own files durable before).
    """
    building = Path(building)
    base = building.parent
    name = building.name.removeprefix(BUILDING_PREFIX)
    m = re.fullmatch(r"v(\d+\.\d+\.\d+)_[A-Za-z0-9]+", name)
    if not building.name.startswith(BUILDING_PREFIX) or m is None:
        raise VersionError(f"{building} is not a datastore made by start_new_datastore")
    version = Version.parse(m[1])
    if sync:
        _fsync_directory(building)
    _replace_link(base, f"v{version}", name)
    os.rename(building, base / name)
    if sync:
        _fsync_directory(base)
    link_datastore(base / name, version, sync=sync)
    return base / name


def link_datastore(real: str | os.PathLike[str], version: Version, *, sync: bool = True) -> None:
    """Point ``vX.Y.Z`` at the datastore directory ``real``, then ``vX.Y`` → ``vX.Y.Z``,
    ``vX`` → ``vX.Y`` and ``current`` → ``vX`` beside it, each replaced atomically (links that
    already point there are left as they are)."""
    real = Path(real)
    base = real.parent
    patch, minor, major = _link_names(version)
    for link, target in ((patch, real.name), (minor, patch), (major, minor), ("current", major)):
        _replace_link(base, link, target)
    if sync:
        _fsync_directory(base)


def resume_new_datastore(base: str | os.PathLike[str], version: Version, *, sync: bool = True) -> Path | None:
    """Finish what a process killed in ``start_new_datastore`` … ``publish_datastore`` left.

    When the link ``vX.Y.Z`` names a datastore directory ``vX.Y.Z_<suffix>`` that exists, or
    that is still under its ``.~new-`` name (renamed now), the links are completed and its path
    returned. Every other ``.~new-`` entry in ``base`` — a datastore whose writing was cut
    short, a temporary link — is removed. Returns None when there is nothing to finish (the
    caller then starts a new datastore).
    """
    base = Path(base)
    patch = f"v{version}"
    found: Path | None = None
    try:
        target = os.readlink(base / patch)
    except OSError:  # no link (or not a link): nothing to finish
        target = None
    if target is not None and re.fullmatch(rf"{re.escape(patch)}_[A-Za-z0-9]+", target):
        real, building = base / target, base / f"{BUILDING_PREFIX}{target}"
        if building.is_dir() and not building.is_symlink() and not real.exists():
            os.rename(building, real)
        if real.is_dir() and not real.is_symlink():
            found = real
    try:
        leftovers = [entry for entry in os.scandir(base) if entry.name.startswith(BUILDING_PREFIX)]
    except FileNotFoundError:
        leftovers = []
    for entry in leftovers:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    if found is not None:
        link_datastore(found, version, sync=sync)
    elif leftovers and sync:
        _fsync_directory(base)
    return found


def _link_names(version: Version) -> tuple[str, str, str]:
    return f"v{version}", f"v{version.major}.{version.minor}", f"v{version.major}"


def _random_suffix() -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(16))


def _replace_link(base: Path, link: str, target: str) -> None:
    """``base/link`` → ``target``: made under a temporary name and renamed over whatever
    ``base/link`` was, so it is never missing once it existed; left alone if already right."""
    path = base / link
    with contextlib.suppress(OSError):
        if os.readlink(path) == target:
            return
    temp = base / f"{BUILDING_PREFIX}link-{_random_suffix()}"
    try:
        os.symlink(target, temp)
        os.rename(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise LinkNotReplaced(path, target, exc.strerror or str(exc)) from exc


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def datastore_version(path: str | os.PathLike[str]) -> Version:
    """The version of the datastore at ``path``: a datastore directory ``D`` (read through
    ``D/current``), any link of the chain, or the versioned directory itself.

    Follows the chain one link at a time and checks that each step narrows the version
    (``vX`` → ``vX.Y`` → ``vX.Y.Z`` → ``vX.Y.Z_suffix``); raises VersionError naming the
    link that breaks it.
    """
    p = Path(path)
    if p.is_dir() and not p.is_symlink() and (p / "current").is_symlink():
        p = p / "current"
    while p.is_symlink():
        target = os.readlink(p)
        if "/" in target:
            raise VersionError(f"Datastore link {p} points to '{target}', not to a name beside it")
        nxt = p.parent / target
        _check_step(p.name, target, p)
        p = nxt
    if not p.is_dir():
        raise VersionError(f"Datastore directory {p} does not exist")
    m = re.fullmatch(r"v(\d+\.\d+\.\d+)_[A-Za-z0-9]+", p.name)
    if m is None:
        raise VersionError(f"Datastore directory {p} is not named vX.Y.Z_<suffix>")
    return Version.parse(m[1])


def _check_step(name: str, target: str, link: Path) -> None:
    expected = {
        "current": r"v\d+",
    }.get(name)
    if expected is None:
        depth = name.count(".")
        if depth > 2:
            raise VersionError(f"Datastore link {link} is not named vX, vX.Y or vX.Y.Z")
        expected = [rf"{re.escape(name)}\.\d+", rf"{re.escape(name)}\.\d+", rf"{re.escape(name)}_[A-Za-z0-9]+"][depth]
    if not re.fullmatch(expected, target):
        raise VersionError(f"Datastore link {link} -> {target} breaks the vX -> vX.Y -> vX.Y.Z chain")


def version_from_os_release(path: str | os.PathLike[str] = "/usr/lib/os-release") -> Version:
    """``VERSION_ID`` of an os-release file (quotes allowed), as storewolf reads it."""
    try:
        fields = read_os_release(path)
    except OSError as exc:
        raise VersionError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if "VERSION_ID" not in fields:
        raise VersionError(f"No VERSION_ID in {path}")
    return Version.parse(fields["VERSION_ID"])
