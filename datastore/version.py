"""The versioned directory layout around a datastore, and reading a version back from it.

For OS version 1.5.2, below the datastore directory ``D``::

    D/current -> v1 -> v1.5 -> v1.5.2 -> v1.5.2_0123456789abcdef/   (live/, pending/, journal)

Every link target is a bare file name (relative), the suffix is 16 random characters from
``[A-Za-z0-9]``, and the links are made patch → minor → major → current, so ``current``
only exists once the whole chain does.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from .errors import VersionError

__all__ = ["Version", "create_new_datastore", "datastore_version", "version_from_os_release"]

_VERSION_RE = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]*)?")
_SUFFIX_ALPHABET = string.ascii_letters + string.digits


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
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(16))
    patch = f"v{version}"
    minor = f"v{version.major}.{version.minor}"
    major = f"v{version.major}"
    real = f"{patch}_{suffix}"
    (base / real).mkdir(parents=True)
    for link, target in ((patch, real), (minor, patch), (major, minor), ("current", major)):
        try:
            os.symlink(target, base / link)
        except FileExistsError as exc:
            raise VersionError(f"Cannot create datastore link {base / link}: it already exists") from exc
    return base / real


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
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise VersionError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "VERSION_ID":
            return Version.parse(value.strip().strip("\"'"))
    raise VersionError(f"No VERSION_ID in {path}")
