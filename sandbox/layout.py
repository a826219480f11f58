"""The sandbox directory: a host's paths below one root, the variant it boots, its lock.

``open_sandbox`` chooses the variant (the one the sandbox was first booted with, else the one
asked for, else thar-dev) and refuses another one, an unknown one, or the machine's own root.
"""

from __future__ import annotations

import contextlib
import fcntl
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from thar.osrelease import parse_os_release

from .errors import SandboxError, SandboxRefused

__all__ = [
    "DEFAULT_VARIANT",
    "Sandbox",
    "host_restart_commands",
    "locked",
    "open_sandbox",
    "read_variant_id",
    "restart_commands",
]

DEFAULT_VARIANT = "thar-dev"


@dataclass(frozen=True)
class Sandbox:
    """A sandbox root and the variant it boots; every path a host has, below the root."""

    root: Path
    variant: str  # what storewolf and the apiserver are given: a thar variant's name or a directory
    variant_dir: Path
    variant_id: str
    # The variant's restart commands that would act on this machine (anything but the sandbox's
    # thar-record-restart): when there are any, the sandbox renders files but restarts nothing.
    host_restarts: tuple[str, ...] = ()

    @property
    def os_release(self) -> Path:
        return self.root / "usr/lib/os-release"

    @property
    def datastore_base(self) -> Path:
        return self.root / "var/lib/bottlerocket/datastore"

    @property
    def datastore(self) -> Path:
        return self.datastore_base / "current"

    @property
    def socket(self) -> Path:
        return self.root / "run/api.sock"

    @property
    def user_data(self) -> Path:
        return self.root / "var/lib/bottlerocket/user-data.toml"

    @property
    def marker(self) -> Path:
        """early-boot-config's first-boot marker."""
        return self.root / "var/lib/bottlerocket/early-boot-config.ran"

    @property
    def templates(self) -> Path:
        return self.root / "usr/share/templates"

    @property
    def usr_bin(self) -> Path:
        """The sandbox's own programs (``thar-record-restart``), first on every step's PATH."""
        return self.root / "usr/bin"

    @property
    def run_dir(self) -> Path:
        """thar-boot's own files: the lock, logs, the timeline, the apiserver's pid."""
        return self.root / "run/thar"

    @property
    def boot_log(self) -> Path:
        return self.run_dir / "boot.log"

    @property
    def apiserver_log(self) -> Path:
        return self.run_dir / "apiserver.log"

    @property
    def timeline(self) -> Path:
        return self.run_dir / "boot-timeline.json"

    # Host containers, when thar-boot runs them (host_containers.py, services.py).

    @property
    def boot_bin(self) -> Path:
        """Programs of this boot only (the recorder that also runs host-containers), first on PATH."""
        return self.run_dir / "bin"

    @property
    def systemctl(self) -> Path:
        """The systemctl stand-in host-containers is given (``HOST_CONTAINERS_SYSTEMCTL``)."""
        return self.run_dir / "systemctl"

    @property
    def systemctl_socket(self) -> Path:
        """Where thar-boot answers the systemctl stand-in."""
        return self.run_dir / "systemctl.sock"

    @property
    def journal(self) -> Path:
        """What thar-boot did with host-containerd and the host-containers@ units."""
        return self.run_dir / "host-containers.log"

    def unit_log(self, unit: str) -> Path:
        """A unit's output (its journal on a host)."""
        return self.run_dir / f"{unit}.log"

    @property
    def containerd_config(self) -> Path:
        return self.root / "etc/host-containerd/config.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "run/host-containerd/containerd.sock"


def read_variant_id(os_release: Path) -> str | None:
    """``VARIANT_ID`` of an os-release file; None when the file or the field is missing."""
    try:
        text = os_release.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"Cannot read {os_release}: {exc.strerror or exc}") from exc
    return parse_os_release(text).get("VARIANT_ID")


def restart_commands(variant_dir: Path) -> dict[str, list[str]]:
    """Each service's restart commands, as the variant's merged defaults give them."""
    services: dict[str, list[str]] = {}
    for path in sorted((variant_dir / "defaults.d").glob("*.toml")):
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SandboxError(f"Cannot read the variant's defaults {path}: {exc}") from exc
        for name, service in (table.get("services") or {}).items():
            if isinstance(service, dict) and isinstance(service.get("restart-commands"), list):
                services[name] = [str(c) for c in service["restart-commands"]]  # arrays replace: later files win
    return services


def host_restart_commands(variant_dir: Path) -> tuple[str, ...]:
    """The restart commands of a variant's services, as its merged defaults give them, that are
    not ``thar-record-restart``: a sandbox must not run them."""
    services = restart_commands(variant_dir)
    return tuple(c for commands in services.values() for c in commands if c.split(" ")[0] != "thar-record-restart")


def open_sandbox(root: Path, requested: str | None) -> Sandbox:
    """The sandbox at ``root`` booting ``requested`` (a thar variant's name or a variant
    directory); without it, the variant the sandbox was first booted with, else thar-dev.
    A sandbox keeps its variant: booting another one is an error."""
    from thar import variants

    root = root.resolve()
    if root == Path("/"):
        raise SandboxRefused(
            "thar-boot boots a sandbox and would write over this machine's /etc with --root /: "
            "on a real host, install the systemd units instead (units/install.sh)"
        )
    if root.exists() and not root.is_dir():
        raise SandboxError(f"--root {root} exists and is not a directory")
    existing = read_variant_id(root / "usr/lib/os-release")
    name = requested or existing or DEFAULT_VARIANT
    if name in variants.names():
        variant_dir = variants.path(name)
    elif Path(name).is_dir():
        variant_dir = Path(name).resolve()
        name = str(variant_dir)
    else:
        raise SandboxRefused(
            f"Unknown variant '{name}': give one of thar's variants ({', '.join(variants.names())}) "
            "or a variant directory"
        )
    variant_id = read_variant_id(variant_dir / "os-release")
    if variant_id is None:
        raise SandboxRefused(f"Variant directory {variant_dir} has no os-release with a VARIANT_ID")
    if existing is not None and existing != variant_id:
        raise SandboxRefused(
            f"The sandbox {root} was booted as '{existing}' (VARIANT_ID in {root / 'usr/lib/os-release'}); "
            f"it cannot boot '{variant_id}'. Boot it without --variant, or use another --root"
        )
    return Sandbox(root, name, variant_dir, variant_id, host_restart_commands(variant_dir))


@contextlib.contextmanager
def locked(sandbox: Sandbox) -> Iterator[None]:
    """One thar-boot per sandbox at a time."""
    sandbox.run_dir.mkdir(parents=True, exist_ok=True)
    with (sandbox.run_dir / "boot.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SandboxError(f"Another thar-boot is using {sandbox.root}: stop it first") from None
        yield
