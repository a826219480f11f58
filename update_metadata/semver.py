"""Strict semantic versions, ordered as the Rust ``semver`` crate orders them.

``1.2.3``, ``1.2.3-rc.1``, ``1.2.3+build.5`` and ``1.2.3-rc.1+b`` parse; ``1.2``, ``v1.2.3``,
``01.2.3`` (leading zero) and surrounding blanks do not. Order: major, minor, patch, then the
pre-release by SemVer precedence (a version without one is greater), then build metadata as a
final tie-breaker (none < any; identifiers compared numerically when both are digits, digits
before letters), so ``1.2.0+a != 1.2.0`` as upstream's crate has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from .errors import VersionError, VersionLockError

__all__ = ["LATEST", "Version", "parse_version_lock"]

LATEST = "latest"

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD_ID = r"[0-9a-zA-Z-]+"
_SEMVER = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)


def _pre_key(pre: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    # numeric identifiers sort before alphanumeric ones, numerically among themselves
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre)


def _build_key(build: tuple[str, ...]) -> tuple[tuple[int, int, int, str], ...]:
    return tuple((0, int(b), len(b), "") if b.isdigit() else (1, 0, 0, b) for b in build)


@total_ordering
@dataclass(frozen=True, eq=True)
class Version:
    """A semantic version; ``str()`` gives it back as written."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a strict semantic version; :class:`VersionError` names the string otherwise."""
        if not isinstance(text, str):
            raise VersionError(f"Expected a version string, got {type(text).__name__} {text!r}")
        m = _SEMVER.fullmatch(text)
        if m is None:
            raise VersionError(f"Invalid semantic version {text!r}: expected MAJOR.MINOR.PATCH[-PRE][+BUILD]")
        pre = tuple(m["pre"].split(".")) if m["pre"] else ()
        build = tuple(m["build"].split(".")) if m["build"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre, build)

    def _key(self) -> tuple[object, ...]:
        # no pre-release ranks above every pre-release of the same version
        pre = (1, ()) if not self.pre else (0, _pre_key(self.pre))
        return (self.major, self.minor, self.patch, pre, _build_key(self.build))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


def parse_version_lock(lock: str) -> Version | None:
    """None for ``latest`` (exactly, case-sensitive), else the version with one leading ``v`` removed.

    Anything else (``Latest``, ``vv1.2.3``, ``1.2``) raises :class:`VersionLockError` with updog's
    ``Bad version string '…' in config`` message.
    """
    if lock == LATEST:
        return None
    try:
        return Version.parse(lock.removeprefix("v"))
    except VersionError as exc:
        raise VersionLockError(f"Bad version string '{lock}' in config: {exc}") from exc
