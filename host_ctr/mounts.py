"""The mounts and options of a host container, as host-ctr's ``withDefaultMounts``,
``withPrivilegedMounts``, ``withStorageMounts``, ``withSuperpowered``, ``withBootstrap`` and
``withDefault`` (core-kit ``sources/host-ctr/cmd/host-ctr/main.go``), as ``ctr run`` flags.

Sources are below the root (`thar.paths.thar_root`): ``ROOT/local/host-containers/ID``,
``ROOT/run/api.sock``, ...; the kernel's own trees (``/lib/modules``, ``/sys/...``) are the
machine's. A source that does not exist is left out (runc refuses a bind of a missing path);
the persistent directory is created.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thar.atomic import write_atomic

from .apiclient import BUNDLE, DESTINATION, Interpreter, build_bundle, host_interpreter

__all__ = ["ContainerType", "Mount", "MountError", "apiclient_mounts", "run_flags"]

PROPAGATIONS = {"shared", "rshared", "private", "rprivate", "slave", "rslave"}


class MountError(Exception):
    """A mount cannot be expressed (the message names the path)."""


@dataclass(frozen=True)
class ContainerType:
    name: str  # host or bootstrap

    @property
    def persistent_dir(self) -> str:
        return "bootstrap-containers" if self.name == "bootstrap" else "host-containers"

    @property
    def prefix(self) -> str:
        return "boot." if self.name == "bootstrap" else ""


@dataclass(frozen=True)
class Mount:
    source: Path
    destination: str
    options: tuple[str, ...]

    def flag(self) -> str:
        """``ctr run --mount`` syntax; host-ctr's ``withMounts`` adds ``rprivate`` if no propagation."""
        options = list(self.options)
        if not PROPAGATIONS & set(options):
            options.append("rprivate")
        for part in (str(self.source), self.destination):
            if "," in part:
                raise MountError(f"mount path {part!r} has a comma, which ctr's --mount cannot carry")
        return f"type=bind,src={self.source},dst={self.destination},options={':'.join(options)}"


def apiclient_mounts(root: Path, python: Interpreter | None = None) -> list[Mount]:
    """apiclient at ``/usr/local/bin/apiclient``, as Bottlerocket binds its own: thar's is a zipapp
    written to ``ROOT/run/host-ctr/apiclient`` (replaced atomically: a running container keeps
    the one it has), with the Python that runs it bound read-only (``host_ctr/apiclient.py``).
    ``python``: the interpreter, default host-ctr's own."""
    python = python or host_interpreter()
    bundle = root / BUNDLE
    try:
        bundle.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(bundle, build_bundle(python.shebang), mode=0o755)
    except OSError as e:
        raise MountError(f"apiclient for the container at {bundle}: {e.strerror or e}") from e
    mounts = [Mount(bundle, DESTINATION, ("bind", "ro"))]
    return mounts + [Mount(source, dest, ("rbind", "ro")) for source, dest in python.binds]


def _existing(mounts: list[Mount]) -> list[Mount]:
    return [m for m in mounts if m.source.exists()]


def default_mounts(root: Path, name: str, ctype: ContainerType) -> list[Mount]:
    persistent = root / "local" / ctype.persistent_dir / name
    try:
        persistent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MountError(f"persistent storage {persistent}: {e.strerror or e}") from e
    os_release = root / "etc/os-release"
    mounts = [Mount(persistent, f"/.bottlerocket/{ctype.persistent_dir}/{name}", ("rbind", "rw"))]
    mounts += _existing([Mount(root / "run/api.sock", "/run/api.sock", ("bind", "rw"))])
    mounts += apiclient_mounts(root)
    mounts += _existing(
        [
            Mount(
                os_release if os_release.exists() else root / "usr/lib/os-release",
                "/etc/bottlerocket-release",
                ("bind", "ro"),
            ),
            Mount(
                root / "usr/share/bottlerocket/application-inventory.json",
                "/var/lib/bottlerocket/inventory/application.json",
                ("bind", "ro"),
            ),
            Mount(root / "var/log/support", "/.bottlerocket/support", ("bind", "ro")),
        ]
    )
    if name != "current":
        mounts.append(Mount(persistent, f"/.bottlerocket/{ctype.persistent_dir}/current", ("rbind", "rw")))
    return mounts


def privileged_mounts(root: Path) -> list[Mount]:
    return [
        Mount(root, "/.bottlerocket/rootfs", ("rbind", "ro")),
        *_existing(
            [
                Mount(Path("/lib/modules"), "/lib/modules", ("rbind", "ro")),
                Mount(Path("/usr/src/kernels"), "/usr/src/kernels", ("rbind", "rw")),
                Mount(Path("/sys/firmware"), "/sys/firmware", ("rbind",)),
                Mount(Path("/sys/kernel/debug"), "/sys/kernel/debug", ("rbind",)),
                Mount(root / "mnt", "/.bottlerocket/rootfs/mnt", ("rbind", "rshared")),
                Mount(Path("/usr/bin/kmod"), "/usr/local/sbin/modprobe", ("bind", "ro", "exec")),
            ]
        ),
    ]


def storage_mounts(root: Path) -> list[Mount]:
    dirs = ["var/lib/containerd", "var/lib/docker", "var/lib/kubelet"]
    return _existing([Mount(root / d, f"/.bottlerocket/rootfs/{d}", ("rbind", "rshared")) for d in dirs])


def mounts_shared(mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Whether the mount of ``/`` is shared (Bottlerocket's is; a container's often private).
    runc cannot make a mount ``rshared`` below a private one, so host-ctr's ``rshared`` mounts
    and root propagation apply only on a shared ``/``."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return False
    shared = False
    for line in lines:
        fields = line.split()
        if len(fields) > 6 and fields[4] == "/":
            optional = fields[6 : fields.index("-")] if "-" in fields else []
            shared = any(f.startswith("shared:") for f in optional)
    return shared


def _propagation(mounts: list[Mount], shared: bool) -> list[Mount]:
    if shared:
        return mounts
    return [Mount(m.source, m.destination, tuple(o for o in m.options if o != "rshared")) for m in mounts]


# The host's pid namespace, as runc's init (started by the shim, in the host's) sees its own;
# /proc/1/ns/pid is the same namespace on a host, but unreadable where pid 1 is kept from us.
HOST_PID_NS = "pid:/proc/self/ns/pid"
BOOTSTRAP_CAPS = ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_CHROOT", "CAP_SYS_MODULE", "CAP_AUDIT_CONTROL"]


def run_flags(root: Path, name: str, ctype: ContainerType, superpowered: bool) -> list[str]:
    """The ``ctr run`` flags of a host container (image and id aside)."""
    # every container: the host's network (with its /etc/hosts and resolv.conf), proxy variables.
    # No CPU shares: host-ctr sets none, while ctr run gives 1024 unless told 0 (a cgroup without
    # the cpu controller, as in a container's unified hierarchy, then refuses the container).
    flags = ["--net-host", "--cpu-shares", "0"]
    for var in ("HTTPS_PROXY", "NO_PROXY"):
        if (value := os.environ.get(var)) is not None:
            flags += ["--env", f"{var}={value}", "--env", f"{var.lower()}={value}"]
    mounts = default_mounts(root, name, ctype)
    shared = mounts_shared()
    rootfs = ["--rootfs-propagation", "rshared"] if shared else []
    if superpowered:
        mounts += privileged_mounts(root)
        flags += ["--privileged", "--with-ns", HOST_PID_NS, *rootfs]
    elif ctype.name == "bootstrap":
        mounts += privileged_mounts(root) + storage_mounts(root)
        flags += ["--with-ns", HOST_PID_NS, *rootfs, "--seccomp"]
        for cap in BOOTSTRAP_CAPS:
            flags += ["--cap-add", cap]
    else:
        flags += ["--seccomp"]
    for mount in _propagation(mounts, shared):
        flags += ["--mount", mount.flag()]
    return flags
