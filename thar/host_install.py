"""The steps of ``thar-install-units --variant``: what makes a root a thar host besides its units.

Each step only reads the root and returns the ``Change`` list it would make; ``apply`` then
makes them, or with ``--dry-run`` only says what it would make. So a refusal (another OS's
os-release, a file where a directory goes) leaves the root exactly as it was, and a dry run
prints the same lines as the real run, as ``would install …``.

- ``api_group``: the ``api`` group (the API socket's SocketGroup) in ``ROOT/etc/group``, added
  with shadow's ``groupadd --root ROOT --system`` (gid 274, Bottlerocket's, when free);
- ``os_release``: the variant's os-release as ``ROOT/usr/lib/os-release``; another OS's is
  replaced only with ``--replace-os-release`` and kept once as ``os-release.orig``;
- ``storewolf_defaults``: ``ROOT/etc/storewolf/defaults.d/``, the variant's ``defaults.d/*.toml``
  and its ``host.toml`` (the real host's restart commands, thar's programs in ``--bindir``) as
  ``99-host.toml``, sorting last;
- ``templates``: the variant's ``templates/`` in ``ROOT/usr/share/templates/``;
- ``directories``: what the units' programs need under ``ROOT/var/lib``;
- ``tmpfiles``: ``ROOT/usr/lib/tmpfiles.d/thar.conf`` (``units/tmpfiles.conf``), the update
  lock's and status's directories below ``/run``, made on every boot;
- ``host_containerd``: host-containerd's ``ROOT/etc/host-containerd/config.toml`` and the host
  containers' storage ``ROOT/local/host-containers``.

Standard library only, like ``install_units``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .atomic import write_atomic
from .osrelease import parse_os_release

__all__ = [
    "API_GID",
    "API_GROUP",
    "DEFAULTS_DIR",
    "DIRECTORIES",
    "HOST_CONTAINERD_CONFIG",
    "HOST_CONTAINERS_STORAGE",
    "HOST_DEFAULTS",
    "OS_RELEASE",
    "TEMPLATES_DIR",
    "Change",
    "InstallError",
    "api_group",
    "apply",
    "directories",
    "directory_change",
    "file_change",
    "host_changes",
    "host_containerd",
    "link_change",
    "missing_restart_units",
    "os_release",
    "storewolf_defaults",
    "templates",
]

API_GROUP = "api"
API_GID = 274  # Bottlerocket's gid of the api group
GROUPADD = ("groupadd", "/usr/sbin/groupadd", "/sbin/groupadd")  # sbin may not be on PATH
OS_RELEASE = "usr/lib/os-release"
ETC_OS_RELEASE = "etc/os-release"
DEFAULTS_DIR = "etc/storewolf/defaults.d"
HOST_DEFAULTS = "99-host.toml"  # the variant's host.toml, merged after its defaults.d files
TEMPLATES_DIR = "usr/share/templates"
# The directories the units' programs need (mode 0755), below the root:
DIRECTORIES = (
    "var/lib/bottlerocket",  # the datastore base's parent (storewolf makes the base), user data, marker
    "var/lib/bottlerocket/inventory",  # storewolf's --inventory-file-symlink-path
    "var/lib/bottlerocket-migrations",  # the migrator's --migration-directory (listed when the version changes)
)
TMPFILES = "usr/lib/tmpfiles.d/thar.conf"  # units/tmpfiles.conf: the directories below /run
HOST_CONTAINERD_CONFIG = "etc/host-containerd/config.toml"  # host-containerd.service's --config
HOST_CONTAINERS_STORAGE = "local/host-containers"  # host-containers' and host-ctr's /local/host-containers
_PAST = {"install": "installed", "enable": "enabled", "create": "created", "remove": "removed", "keep": "kept",
         "add": "added", "link": "linked"}  # fmt: skip


class InstallError(Exception):
    """The root could not be made a thar host; the message says where and why."""


@dataclass(frozen=True)
class Change:
    """One line of the report: ``unchanged WHAT`` when ``run`` is None, else the action
    ``verb`` (``install``, ``enable``, …) on ``what``. ``failure`` starts the error message
    when ``run`` raises OSError."""

    verb: str
    what: str
    run: Callable[[], None] | None = None
    failure: str = ""

    def line(self, dry_run: bool = False) -> str:
        if self.run is None:
            return f"unchanged {self.what}"
        return f"would {self.verb} {self.what}" if dry_run else f"{_PAST[self.verb]} {self.what}"


def unchanged(what: object) -> Change:
    return Change("unchanged", str(what))


def apply(changes: Iterable[Change], dry_run: bool = False) -> list[str]:
    """Make the changes in order (none with ``dry_run``); the report, one line each."""
    report = []
    for change in changes:
        if change.run is not None and not dry_run:
            try:
                change.run()
            except OSError as err:
                raise InstallError(f"{change.failure or f'cannot {change.verb} {change.what}'}: {err}") from err
        report.append(change.line(dry_run))
    return report


# -- the kinds of change ----------------------------------------------------------------------------


def file_change(path: Path, data: bytes, *, mode: int = 0o644, kind: str = "a file", failure: str = "") -> Change:
    """``path`` holding ``data`` with ``mode``: unchanged when it does, else install it."""
    if path.is_dir() and not path.is_symlink():
        raise InstallError(f"{path} is a directory, not {kind}")
    if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o7777 == mode and path.read_bytes() == data:
        return unchanged(path)

    def run() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=mode)

    return Change("install", str(path), run, failure)


def link_change(link: Path, target: str, verb: str, what: str, failure: str = "") -> Change:
    """The symbolic link ``link`` → ``target`` (a wrong link is replaced, anything else refused)."""
    if link.is_symlink():
        if os.readlink(link) == target:
            return unchanged(link)
    elif link.exists():
        raise InstallError(f"{link} exists and is not a link to {target}")

    def run() -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target)

    return Change(verb, what, run, failure)


def directory_change(path: Path, mode: int = 0o755) -> Change:
    """The directory ``path``, made with ``mode`` when missing (an existing one is left as it is)."""
    if path.is_dir():
        return unchanged(path)
    if path.exists() or path.is_symlink():
        raise InstallError(f"{path} is in the way: a directory goes there")

    def run() -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)

    return Change("create", f"directory {path}", run)


def _remove_change(path: Path) -> Change:
    return Change("remove", str(path), path.unlink)


# -- the steps --------------------------------------------------------------------------------------


def _groupadd() -> str:
    found = next((path for name in GROUPADD if (path := shutil.which(name))), None)
    if found is None:
        raise InstallError(
            f"groupadd is not installed (shadow's; Debian's passwd package): it adds the '{API_GROUP}' group "
            "the API socket belongs to"
        )
    return found


def _groups(path: Path) -> dict[str, int | None]:
    """The groups of an ``/etc/group`` file, name → gid (None when not a number)."""
    groups: dict[str, int | None] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0]:
            groups[fields[0]] = int(fields[2]) if fields[2].isdigit() else None
    return groups


def api_group(root: Path) -> list[Change]:
    """The ``api`` group in ``root/etc/group``: unchanged when present, else ``groupadd``."""
    group_file = root / "etc/group"
    if not group_file.is_file():
        raise InstallError(f"{group_file} does not exist: the '{API_GROUP}' group (the API socket's) goes there")
    groups = _groups(group_file)
    if API_GROUP in groups:
        return [unchanged(f"group {API_GROUP} ({group_file})")]
    gid = API_GID if API_GID not in groups.values() else None
    command = [
        _groupadd(),
        "--root",
        os.path.abspath(root),
        "--system",
        *(["--gid", str(gid)] if gid else []),
        API_GROUP,
    ]

    def run() -> None:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except OSError as err:
            raise InstallError(f"cannot run {shlex.join(command)}: {err}") from err
        if result.returncode != 0:
            output = result.stderr.strip() or result.stdout.strip()
            raise InstallError(f"{shlex.join(command)} failed (exit {result.returncode}): {output}")
        if API_GROUP not in _groups(group_file):
            raise InstallError(f"{shlex.join(command)} succeeded but {group_file} has no '{API_GROUP}' group")

    how = f"gid {gid}" if gid else f"a system gid: {API_GID} is taken"
    return [Change("add", f"group {API_GROUP} ({how}) to {group_file}", run)]


def os_release(root: Path, variant: Traversable, replace: bool) -> list[Change]:
    """The variant's os-release as ``root/usr/lib/os-release`` (see ``units/README.md``)."""
    release = variant / "os-release"
    if not release.is_file():
        raise InstallError(
            f"the variant {variant} has no os-release: thar's programs read its VARIANT_ID and VERSION_ID"
        )
    data = release.read_bytes()
    variant_id = parse_os_release(data.decode("utf-8")).get("VARIANT_ID")
    changes = _os_release_file(root / OS_RELEASE, data, variant_id, replace)
    etc = root / ETC_OS_RELEASE
    # Debian's /etc/os-release is a link to ../usr/lib/os-release: left alone. A file of its own
    # is refused or replaced as the one in /usr/lib is, by that link.
    if etc.is_file() and not etc.is_symlink() and etc.read_bytes() != data:
        _refuse_unless(replace, etc)

        def run() -> None:
            etc.unlink()
            etc.symlink_to("../usr/lib/os-release")

        changes += [*_keep_once(etc), Change("link", f"{etc} -> ../usr/lib/os-release", run)]
    return changes


def _os_release_file(path: Path, data: bytes, variant_id: str | None, replace: bool) -> list[Change]:
    """Install ``data`` at ``path``; another OS's file (not thar's of this variant) is refused
    without ``replace``, and kept once as ``.orig`` with it."""
    install = file_change(path, data, kind="an os-release file")
    if install.run is None or not path.is_file():
        return [install]
    fields = parse_os_release(path.read_bytes().decode("utf-8", errors="replace"))
    if fields.get("ID") == "thar" and fields.get("VARIANT_ID") == variant_id:
        return [install]  # thar's own, of another version: updated
    _refuse_unless(replace, path)
    return [*_keep_once(path), install]


def _refuse_unless(replace: bool, path: Path) -> None:
    if replace:
        return
    fields = parse_os_release(path.read_bytes().decode("utf-8", errors="replace"))
    name = fields.get("PRETTY_NAME") or fields.get("NAME") or "no PRETTY_NAME"
    what = (
        f"thar's os-release of another variant ({name})"
        if fields.get("ID") == "thar"
        else f"another OS's os-release ({name})"
    )
    raise InstallError(
        f"{path} is {what}; thar's programs read the variant and the version from it. "
        f"--replace-os-release makes this root a thar host, keeping that file as {path}.orig"
    )


def _keep_once(path: Path) -> list[Change]:
    """Copy ``path`` to ``path.orig`` unless a ``.orig`` is already there (kept only once)."""
    orig = path.with_name(path.name + ".orig")
    if orig.exists() or orig.is_symlink():
        return []
    data, mode = path.read_bytes(), path.stat().st_mode & 0o7777
    return [Change("keep", f"{path} as {orig}", lambda: write_atomic(orig, data, mode=mode))]


def _toml_files(folder: Traversable) -> list[Traversable]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(".toml")]
    return sorted(found, key=lambda p: p.name.encode())


def storewolf_defaults(root: Path, variant: Traversable, programs: Callable[[str], str] | None = None) -> list[Change]:
    """``root/etc/storewolf/defaults.d/``: the variant's ``defaults.d/*.toml``, its ``host.toml``
    as ``99-host.toml`` (its text through ``programs``, which puts thar's programs where
    ``--bindir`` says), and no other ``*.toml`` (the directory is thar-install-units')."""
    target = root / DEFAULTS_DIR
    merged = root / "etc/storewolf/defaults.toml"
    if merged.exists():
        raise InstallError(
            f"{merged} exists: storewolf reads it before {target}/, so the variant's defaults would not be used; "
            "remove it first"
        )
    sources = {p.name: p for p in _toml_files(variant / "defaults.d")}
    if not sources:
        raise InstallError(f"the variant {variant} has no defaults.d/*.toml")
    host = variant / "host.toml"
    if host.is_file():
        last = max(sources, key=str.encode)
        if last.encode() >= HOST_DEFAULTS.encode():
            raise InstallError(
                f"{variant / 'defaults.d' / last} sorts after {HOST_DEFAULTS}, which must be merged last"
            )
        sources[HOST_DEFAULTS] = host
    changes = [directory_change(target)]
    for name, source in sources.items():
        data = source.read_bytes()
        if name == HOST_DEFAULTS and programs is not None:
            data = programs(data.decode("utf-8")).encode("utf-8")
        try:
            tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise InstallError(f"{source} is not valid TOML: {err}") from err
        changes.append(file_change(target / name, data, kind="a defaults file"))
    if target.is_dir():
        changes += [_remove_change(p) for p in sorted(target.glob("*.toml")) if p.name not in sources]
    return changes


def templates(root: Path, variant: Traversable) -> list[Change]:
    """The variant's ``templates/*`` in ``root/usr/share/templates/`` (others there are left)."""
    folder = variant / "templates"
    if not folder.is_dir():
        return []
    target = root / TEMPLATES_DIR
    found = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)
    return [directory_change(target)] + [file_change(target / p.name, p.read_bytes(), kind="a template") for p in found]


def directories(root: Path) -> list[Change]:
    return [directory_change(root / name) for name in DIRECTORIES]


def tmpfiles(root: Path) -> list[Change]:
    """``thar/units/tmpfiles.conf`` as ``root/usr/lib/tmpfiles.d/thar.conf``: systemd-tmpfiles
    makes the update lock's and status's directories below /run (a tmpfs) on every boot."""
    source = resources.files("thar") / "units" / "tmpfiles.conf"
    if not source.is_file():
        raise InstallError(f"this thar has no tmpfiles.d configuration ({source})")
    return [file_change(root / TMPFILES, source.read_bytes(), kind="a tmpfiles.d configuration")]


def host_containerd(root: Path) -> list[Change]:
    """host-containerd's configuration (``thar/host_ctr/host-containerd.toml``) as
    ``root/etc/host-containerd/config.toml``, and the host containers' persistent storage
    ``root/local/host-containers`` (mode 0700, as Bottlerocket's tmpfiles.d makes it)."""
    config = resources.files("thar") / "host_ctr" / "host-containerd.toml"
    if not config.is_file():
        raise InstallError(f"this thar has no host-containerd configuration ({config})")
    return [
        file_change(root / HOST_CONTAINERD_CONFIG, config.read_bytes(), kind="host-containerd's configuration"),
        directory_change(root / HOST_CONTAINERS_STORAGE, mode=0o700),
    ]


def host_changes(
    root: Path,
    variant: Traversable,
    replace_os_release: bool = False,
    programs: Callable[[str], str] | None = None,
) -> list[Change]:
    """Every change that makes ``root`` a host of ``variant``, units aside (``programs``: see
    ``storewolf_defaults``)."""
    return [
        *api_group(root),
        *os_release(root, variant, replace_os_release),
        *directories(root),
        *tmpfiles(root),
        *storewolf_defaults(root, variant, programs),
        *templates(root, variant),
        *host_containerd(root),
    ]


def restart_commands(variant: Traversable) -> dict[str, list[str]]:
    """Each service's restart commands once the variant's defaults and host.toml are merged
    (only ``services.*.restart-commands``: later files replace a service's list)."""
    found: dict[str, list[str]] = {}
    files = _toml_files(variant / "defaults.d")
    if (variant / "host.toml").is_file():
        files.append(variant / "host.toml")
    for source in files:
        for name, service in tomllib.loads(source.read_text(encoding="utf-8")).get("services", {}).items():
            if isinstance(service, dict) and isinstance(service.get("restart-commands"), list):
                found[name] = [str(c) for c in service["restart-commands"]]
    return found


def _exists(path: Path) -> bool:
    return path.is_symlink() or path.exists()  # an alias is a link, absolute on the root's own terms


def missing_restart_units(
    root: Path, variant: Traversable, unitdirs: Iterable[str], provided: Iterable[str] = ()
) -> list[str]:
    """A warning for each unit a ``systemctl`` restart command names that is neither
    ``provided`` (thar's own) nor in a unit directory of ``root``: systemctl fails on it, and
    so does settings-applier.service."""
    provided = set(provided)
    warnings = []
    for service, commands in sorted(restart_commands(variant).items()):
        for command in commands:
            argv = command.split(" ")
            if Path(argv[0]).name != "systemctl":
                continue
            for unit in (a for a in argv[1:] if not a.startswith("-") and "." in a):
                if unit not in provided and not any(_exists(root / d.lstrip("/") / unit) for d in unitdirs):
                    warnings.append(
                        f"warning: service {service} restarts {unit} ({command}), which {root} does not have: "
                        "that restart command fails until it is installed"
                    )
    return warnings
