"""``thar-install-units``: install the systemd units shipped in the package, and make a root a thar host.

    thar-install-units --root DIR [--bindir BIN] [--unitdir UNITDIR]
                       [--variant NAME_OR_DIR [--replace-os-release]] [--dry-run]

Copies every unit of ``thar/units`` (``*.service``, ``*.socket``, ``*.target``) to
``DIR/UNITDIR`` (default ``/usr/lib/systemd/system``), rewrites the ``/usr/bin/`` in front of
thar's programs to ``BIN`` (default ``/usr/bin``; give the bin directory of the virtualenv thar
is installed in), and enables ``preconfigured.target`` statically, with a link in
``UNITDIR/multi-user.target.wants/``. ``DIR`` is ``/`` on the host itself, or an image root.

With ``--variant`` (``thar-dev``, ``thar-k8s``: the package's ``thar/variants``; or a variant
directory) one run makes ``DIR`` a host of that variant (``thar/host_install.py``): it also
enables ``configured.target`` (``multi-user.target.wants/``) and ``apiserver.socket``
(``sockets.target.wants/``), adds the ``api`` group with ``groupadd --root DIR``, installs the
variant's os-release as ``DIR/usr/lib/os-release`` (another OS's only with
``--replace-os-release``, which keeps it as ``os-release.orig``), the variant's defaults with
its ``host.toml`` (the real host's restart commands) as ``DIR/etc/storewolf/defaults.d/``, its
templates as ``DIR/usr/share/templates/``, and the directories below ``DIR/var/lib`` the units'
programs need. Every step is planned before anything changes, so a refusal leaves ``DIR`` as
it was; ``--dry-run`` prints the plan (``would install …``) and changes nothing. Running it
again changes nothing and prints only ``unchanged …`` lines. ``units/install.sh`` is a wrapper
around it; see ``units/README.md``.

Standard library only: it runs from a bare interpreter, before thar's dependencies exist.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .host_install import Change, InstallError, apply, file_change, host_changes, link_change, missing_restart_units

__all__ = ["InstallError", "find_variant", "install", "main", "plan", "rewrite", "shipped_units"]

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
    "bootstrap-containers",
    "bootstrap-commands",
    "host-ctr",  # host-containers@.service
    "host-containers",  # the host-containers service's restart command (the variants' host.toml)
    "signpost",  # mark-successful-boot.service
)
WANTS_DIR = "multi-user.target.wants"
TARGET = "preconfigured.target"
# The static links (wants directory, unit): the units alone, and a host's.
UNIT_LINKS = ((WANTS_DIR, TARGET),)
HOST_LINKS = (
    *UNIT_LINKS,
    (WANTS_DIR, "configured.target"),
    ("sockets.target.wants", "apiserver.socket"),
    # Bottlerocket's bootstrap-commands.service: RequiredBy=preconfigured.target.
    ("preconfigured.target.requires", "bootstrap-commands.service"),
    # Bottlerocket's mark-successful-boot.service: RequiredBy=preconfigured.target.
    ("preconfigured.target.requires", "mark-successful-boot.service"),
    # The units enabled for configured.target during the boot join it (bootstrap containers).
    ("configured.target.wants", "activate-configured.service"),
    ("configured.target.wants", "host-containerd.service"),  # its WantedBy=, as Bottlerocket enables it
)

_PATH_LINE = re.compile(r"^(Environment=PATH=)", re.M)
# A program's path ends at white space, the end, or (a TOML string in host.toml) a quote.
_PROGRAM = re.compile(r"/usr/bin/(" + "|".join(re.escape(p) for p in PROGRAMS) + r")(?=[ \t\r\f\v\n\"]|$)", re.M)


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


def shipped_variants() -> list[str]:
    """The names of the variants in the package."""
    folder = files("thar") / "variants"
    return sorted(p.name for p in folder.iterdir() if (p / "defaults.d").is_dir()) if folder.is_dir() else []


def find_variant(name_or_dir: str) -> Traversable:
    """``--variant``: one of the package's variants by name, else a variant directory."""
    if name_or_dir in shipped_variants():
        return files("thar") / "variants" / name_or_dir
    if (Path(name_or_dir) / "defaults.d").is_dir():
        return Path(name_or_dir)
    raise InstallError(
        f"no variant '{name_or_dir}': it is neither one of thar's ({', '.join(shipped_variants())}) "
        "nor a variant directory (with a defaults.d/)"
    )


def rewrite(text: str, bindir: str) -> str:
    """``text`` with ``/usr/bin/PROGRAM`` turned into ``BINDIR/PROGRAM`` for thar's programs, and
    ``BINDIR`` first in an ``Environment=PATH=`` line (thar's programs that run others by name:
    the apiserver's update dispatcher runs updog)."""
    prefix = bindir.removesuffix("/")
    text = _PROGRAM.sub(lambda m: f"{prefix}/{m.group(1)}", text)
    if prefix == DEFAULT_BINDIR:
        return text
    return _PATH_LINE.sub(lambda m: f"{m.group(1)}{prefix}:", text)


def unit_changes(root: Path, bindir: str, unitdir: str, links: Sequence[tuple[str, str]]) -> list[Change]:
    """Every shipped unit in ``root/unitdir``, then the ``links`` (wants directory, unit)."""
    units = shipped_units()
    target = root / unitdir.lstrip("/")
    failure = f"cannot install the units into {target}"
    changes = [
        file_change(
            target / unit.name,
            rewrite(unit.read_text(encoding="utf-8"), bindir).encode("utf-8"),
            kind="a unit file",
            failure=failure,
        )
        for unit in units
    ]
    for wants, unit in links:
        link = target / wants / unit
        changes.append(link_change(link, f"../{unit}", "enable", f"{unit} ({link})", failure))
    return changes


def plan(
    root: Path,
    bindir: str = DEFAULT_BINDIR,
    unitdir: str = DEFAULT_UNITDIR,
    variant: str | None = None,
    replace_os_release: bool = False,
) -> list[Change]:
    """Every change that installs the shipped units below ``root`` and, with ``variant``, makes
    it that variant's host; only reads, so a refusal (InstallError) leaves ``root`` as it was."""
    for name, value in (("--bindir", bindir), ("--unitdir", unitdir)):
        if not value.startswith("/"):
            raise ValueError(f"{name} must be an absolute path: {value}")
    source = find_variant(variant) if variant is not None else None
    try:
        changes = unit_changes(root, bindir, unitdir, HOST_LINKS if source is not None else UNIT_LINKS)
        if source is not None:
            changes += host_changes(root, source, replace_os_release, lambda text: rewrite(text, bindir))
    except OSError as err:
        raise InstallError(f"cannot read {err.filename or root}: {err.strerror or err}") from err
    return changes


def install(
    root: Path, bindir: str = DEFAULT_BINDIR, unitdir: str = DEFAULT_UNITDIR, variant: str | None = None
) -> list[str]:
    """Make the changes of ``plan``; the lines to report, one per path."""
    return apply(plan(root, bindir, unitdir, variant))


def warnings(root: Path, variant: str, unitdir: str = DEFAULT_UNITDIR) -> list[str]:
    """What the host still lacks for the variant's restart commands (see ``missing_restart_units``)."""
    dirs = dict.fromkeys([unitdir, "/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"])
    return missing_restart_units(root, find_variant(variant), dirs, (unit.name for unit in shipped_units()))


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
    p.add_argument(
        "--variant",
        metavar="NAME_OR_DIR",
        help="also make the root a host of this variant (thar-dev, thar-k8s, or a variant directory): "
        "the api group, os-release, storewolf's defaults.d, the templates, /var/lib/bottlerocket",
    )
    p.add_argument(
        "--replace-os-release",
        action="store_true",
        help="with --variant: replace another OS's /usr/lib/os-release, kept as os-release.orig",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would change (would …); change nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.replace_os_release and args.variant is None:
        p.error("--replace-os-release needs --variant")
    try:
        changes = plan(args.root, args.bindir, args.unitdir, args.variant, args.replace_os_release)
        report = apply(changes, args.dry_run)
        notes = warnings(args.root, args.variant, args.unitdir) if args.variant is not None else []
    except ValueError as err:
        p.error(str(err))
    except InstallError as err:
        print(f"thar-install-units: {err}", file=sys.stderr)
        return 1
    for line in report:
        print(line)
    for note in notes:
        print(f"thar-install-units: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
