"""Host facts some helpers depend on, behind one injectable object.

``HelperEnvironment()`` reads the real host:

* ``cpu_count`` - CPUs available to this process, as Rust's ``num_cpus::get()`` counts them: the
  scheduler affinity mask, limited by a cgroup CPU quota (v2 ``cpu.max`` or v1
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, rounded up) when one is set;
* ``efa_attached`` - whether ``/usr/bin/lspci -n -m -d 1d0f:`` lists an Amazon device whose
  device id contains ``efa``; raises ``HostFactError`` when lspci cannot be run or its output
  cannot be read;
* ``fips_enabled`` - ``/proc/sys/crypto/fips_enabled`` holds ``1`` (after trimming);
* ``resolve`` - the system resolver (``getaddrinfo``): the addresses of a host name, raising
  ``OSError`` (or ``UnicodeError``/``ValueError`` for unencodable names) when the lookup fails.

Tests build one with their own facts: ``HelperEnvironment(cpu_count=lambda: 4)``.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LSPCI_PATH",
    "HelperEnvironment",
    "HostFactError",
    "cgroup_cpu_quota",
    "host_cpu_count",
    "host_efa_attached",
    "host_fips_enabled",
    "host_resolve",
    "parse_lspci_devices",
]

LSPCI_PATH = "/usr/bin/lspci"
AMAZON_VENDOR = "1d0f"
FIPS_ENABLED_PATH = "/proc/sys/crypto/fips_enabled"


class HostFactError(Exception):
    """A host fact could not be determined (e.g. lspci failed); the message says why."""


# --- CPU count ----------------------------------------------------------------------------------


def _logical_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _mounts(root: Path) -> list[tuple[str, str, str, str]]:
    """``(mount root, mount point, fstype, super options)`` of each line of /proc/self/mountinfo."""
    text = _read(root / "proc/self/mountinfo")
    if text is None:
        return []
    mounts = []
    for line in text.splitlines():
        fields, sep, rest = line.partition(" - ")
        parts = fields.split()
        tail = rest.split()
        if not sep or len(parts) < 5 or len(tail) < 3:
            continue
        mounts.append((parts[3], parts[4], tail[0], tail[2]))
    return mounts


def _cgroup_dir(root: Path, mount_root: str, mount_point: str, group: str) -> Path:
    relative = group
    if mount_root != "/" and (group == mount_root or group.startswith(mount_root + "/")):
        relative = group[len(mount_root) :]
    return root / mount_point.lstrip("/") / relative.lstrip("/")


def _ceil_div(quota: int, period: int) -> int | None:
    if quota <= 0 or period <= 0:
        return None
    return math.ceil(quota / period)


def cgroup_cpu_quota(root: Path = Path("/")) -> int | None:
    """CPUs allowed by this process's cgroup CPU quota (rounded up), or None when unlimited/unknown.

    ``root`` is the file-system root to read ``proc/self/cgroup``, ``proc/self/mountinfo`` and the
    cgroup files under (tests point it at a prepared directory).
    """
    text = _read(root / "proc/self/cgroup")
    if text is None:
        return None
    v1_group: str | None = None
    v2_group: str | None = None
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, group = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2_group = group
        elif "cpu" in controllers.split(","):
            v1_group = group
    mounts = _mounts(root)
    if v1_group is not None:
        for mount_root, mount_point, fstype, options in mounts:
            if fstype == "cgroup" and "cpu" in options.split(","):
                directory = _cgroup_dir(root, mount_root, mount_point, v1_group)
                quota = _read(directory / "cpu.cfs_quota_us")
                period = _read(directory / "cpu.cfs_period_us")
                if quota is None or period is None:
                    return None
                try:
                    return _ceil_div(int(quota.strip()), int(period.strip()))
                except ValueError:
                    return None
        return None
    if v2_group is not None:
        for mount_root, mount_point, fstype, _options in mounts:
            if fstype == "cgroup2":
                limits = _read(_cgroup_dir(root, mount_root, mount_point, v2_group) / "cpu.max")
                if limits is None:
                    return None
                fields = limits.split()
                if len(fields) != 2 or fields[0] == "max":
                    return None
                try:
                    return _ceil_div(int(fields[0]), int(fields[1]))
                except ValueError:
                    return None
    return None


def host_cpu_count(root: Path = Path("/")) -> int:
    """CPUs available to this process: the affinity mask, limited by a cgroup CPU quota."""
    logical = _logical_cpus()
    quota = cgroup_cpu_quota(root)
    return logical if quota is None else min(quota, logical)


# --- EFA (lspci) --------------------------------------------------------------------------------


def parse_lspci_devices(output: str) -> list[str]:
    """The device ids in ``lspci -n -m`` output (``00:1e.0 "0200" "1d0f" "efa1" -p00 "1d0f" "efa1"``).

    Raises HostFactError for a line without slot, class, vendor and device, or with a subsystem
    vendor that has no subsystem device.
    """
    devices = []
    for line in output.splitlines():
        tokens = line.split()
        if len(tokens) < 4:
            raise HostFactError(f"Failed to parse the lspci output, missing required field in line {line!r}")
        devices.append(tokens[3].strip('"'))
        rest = tokens[4:]
        seen_subsystem = False
        index = 0
        while index < len(rest):
            token = rest[index]
            index += 1
            if token.startswith(("-r", "-p")) or seen_subsystem:
                continue
            seen_subsystem = True
            if index >= len(rest):
                raise HostFactError(
                    f"Failed to parse the lspci output: {line}, reason: Incomplete subsystem vendor/device fields"
                )
            index += 1
    return devices


def host_efa_attached(lspci: str = LSPCI_PATH) -> bool:
    """Whether lspci lists an Amazon (1d0f) device whose device id contains ``efa``."""
    try:
        result = subprocess.run(
            [lspci, "-n", "-m", "-d", f"{AMAZON_VENDOR}:"], capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise HostFactError(f"Command lspci failed: {exc}") from None
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise HostFactError(f"Execution of lspci failed (exit status {result.returncode}): {stderr}")
    return any("efa" in device for device in parse_lspci_devices(result.stdout.decode("utf-8", "replace")))


# --- FIPS and the resolver ----------------------------------------------------------------------


def host_fips_enabled(path: str = FIPS_ENABLED_PATH) -> bool:
    """The kernel runs in FIPS mode: the sysctl file holds ``1``; unreadable counts as off."""
    text = _read(Path(path))
    return text is not None and text.strip() == "1"


def host_resolve(name: str) -> list[str]:
    """Addresses of ``name`` from the system resolver (getaddrinfo), in its order, without duplicates."""
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(name, None):
        address = str(sockaddr[0]).partition("%")[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True, slots=True)
class HelperEnvironment:
    """Injectable host facts; the defaults read the real host (see the module docstring)."""

    cpu_count: Callable[[], int] = host_cpu_count
    efa_attached: Callable[[], bool] = host_efa_attached
    fips_enabled: Callable[[], bool] = host_fips_enabled
    resolve: Callable[[str], Sequence[str]] = host_resolve
