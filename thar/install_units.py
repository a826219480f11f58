"""``thar-install-units``: install the systemd units shipped in the package.

    thar-install-units --root DIR [--bindir BIN] [--unitdir UNITDIR]

Copies every unit of ``thar/units`` (``*.service``, ``*.socket``, ``*.target``) to
``DIR/UNITDIR`` (default ``/usr/lib/systemd/system``), rewrites the ``/usr/bin/`` in front of
thar's programs to ``BIN`` (default ``/usr/bin``; give the bin directory of the virtualenv thar
is installed in), and enables ``preconfigured.target`` statically, with a link in
``UNITDIR/multi-user.target.wants/``. ``DIR`` is ``/`` on the host itself, or an image root.
Running it again changes nothing. ``units/install.sh`` is a wrapper around it; see
``units/README.md``.

Standard library only: it runs from a bare interpreter, before thar's dependencies exist.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .atomic import write_atomic

DEFAULT_BINDIR = "/usr/bin"
DEFAULT_UNITDIR = "/usr/lib/systemd/system"
UNIT_SUFFIXES = (".service", ".socket", ".target")
# thar's programs; any other /usr/bin/ path in a unit is left alone.
PROGRAMS = (
    "migrator",
    "storewolf",
    "apiserver",
    "early-boot-config",
    "sundog",
    "settings-committer",
    "thar-be-settings",
)
WANTS_DIR = "multi-user.target.wants"
TARGET = "preconfigured.target"

_PROGRAM = re.compile(r"/usr/bin/(" + "|".join(re.escape(p) for p in PROGRAMS) + r")(?=[ \t\r\f\v\n]|$)", re.M)


class InstallError(Exception):
    """The units could not be installed; the message says where and why."""


def shipped_units() -> list[Traversable]:
    """The units in the package, by name."""
    folder = files("thar") / "units"
    if not folder.is_dir():
        raise InstallError(f"this thar has no units folder ({folder})")
    units = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.name.endswith(UNIT_SUFFIXES)), key=lambda p: p.name
    )
    if not units:
        raise InstallError(f"this thar ships no units in {folder}")
    return units


def rewrite(text: str, bindir: str) -> str:
    """``text`` with ``/usr/bin/PROGRAM`` turned into ``BINDIR/PROGRAM`` for thar's programs."""
    prefix = bindir.removesuffix("/")
    return _PROGRAM.sub(lambda m: f"{prefix}/{m.group(1)}", text)


def _write(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0644) unless it is already there; True if written."""
    data = text.encode("utf-8")
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        if path.stat().st_mode & 0o7777 != 0o644:
            path.chmod(0o644)
        return False
    if path.is_dir() and not path.is_symlink():
        raise InstallError(f"{path} is a directory, not a unit file")
    write_atomic(path, data, mode=0o644)
    return True


def _enable(wants: Path) -> bool:
    """The static link ``wants/preconfigured.target`` → ``../preconfigured.target``; True if made."""
    link = wants / TARGET
    target = f"../{TARGET}"
    if link.is_symlink():
        if os.readlink(link) == target:
            return False
        link.unlink()
    elif link.exists():
        raise InstallError(f"{link} exists and is not a link to {target}")
    link.symlink_to(target)
    return True


def install(root: Path, bindir: str = DEFAULT_BINDIR, unitdir: str = DEFAULT_UNITDIR) -> list[str]:
    """Install the shipped units below ``root``; the lines to report, one per unit and the link."""
    for name, value in (("--bindir", bindir), ("--unitdir", unitdir)):
        if not value.startswith("/"):
            raise ValueError(f"{name} must be an absolute path: {value}")
    units = shipped_units()
    target = root / unitdir.lstrip("/")
    report = []
    try:
        (target / WANTS_DIR).mkdir(parents=True, exist_ok=True)
        for unit in units:
            path = target / unit.name
            written = _write(path, rewrite(unit.read_text(encoding="utf-8"), bindir))
            report.append(f"{'installed' if written else 'unchanged'} {path}")
        enabled = _enable(target / WANTS_DIR)
    except OSError as err:
        raise InstallError(f"cannot install the units into {target}: {err}") from err
    report.append(f"{'enabled' if enabled else 'already enabled'} {TARGET} ({WANTS_DIR})")
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="thar-install-units",
        description="Install thar's systemd units below a root directory.",
    )
    p.add_argument("--root", required=True, type=Path, help="the root to install into: / on the host, or an image root")
    p.add_argument(
        "--bindir",
        default=DEFAULT_BINDIR,
        help=f"where thar's programs are, e.g. a virtualenv's bin directory (default {DEFAULT_BINDIR})",
    )
    p.add_argument(
        "--unitdir", default=DEFAULT_UNITDIR, help=f"the unit directory below the root (default {DEFAULT_UNITDIR})"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        report = install(args.root, args.bindir, args.unitdir)
    except ValueError as err:
        p.error(str(err))
    except InstallError as err:
        print(f"thar-install-units: {err}", file=sys.stderr)
        return 1
    for line in report:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
