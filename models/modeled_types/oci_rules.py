"""The OCI defaults' names and rlimit rule, in plain Python (no pydantic).

The settings model's OCI types (``oci.py``) are built on these; the ``oci_defaults`` template
helper uses them directly, so that rendering containerd's or docker's configuration from values
the model already accepted does not load the model (see ``schnauzer.helpers._models``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CAPABILITIES", "I64_MAX", "LINUX_CAPABILITIES", "LINUX_RESOURCE_LIMITS", "UNLIMITED", "validate_limit"]

CAPABILITIES = (
    "audit-control",
    "audit-read",
    "audit-write",
    "block-suspend",
    "bpf",
    "checkpoint-restore",
    "chown",
    "dac-override",
    "dac-read-search",
    "fowner",
    "fsetid",
    "ipc-lock",
    "ipc-owner",
    "kill",
    "lease",
    "linux-immutable",
    "mac-admin",
    "mac-override",
    "mknod",
    "net-admin",
    "net-bind-service",
    "net-broadcast",
    "net-raw",
    "perfmon",
    "setgid",
    "setfcap",
    "setpcap",
    "setuid",
    "sys-admin",
    "sys-boot",
    "sys-chroot",
    "sys-module",
    "sys-nice",
    "sys-pacct",
    "sys-ptrace",
    "sys-rawio",
    "sys-resource",
    "sys-time",
    "sys-tty-config",
    "syslog",
    "wake-alarm",
)

LINUX_CAPABILITIES: dict[str, str] = {name: "CAP_" + name.upper().replace("-", "_") for name in CAPABILITIES}
"""Capability setting name -> Linux name: ``"net-bind-service"`` -> ``"CAP_NET_BIND_SERVICE"``."""

LINUX_RESOURCE_LIMITS: dict[str, str] = {
    "max-address-space": "RLIMIT_AS",
    "max-core-file-size": "RLIMIT_CORE",
    "max-cpu-time": "RLIMIT_CPU",
    "max-data-size": "RLIMIT_DATA",
    "max-file-locks": "RLIMIT_LOCKS",
    "max-file-size": "RLIMIT_FSIZE",
    "max-locked-memory": "RLIMIT_MEMLOCK",
    "max-msgqueue-size": "RLIMIT_MSGQUEUE",
    "max-nice-priority": "RLIMIT_NICE",
    "max-open-files": "RLIMIT_NOFILE",
    "max-pending-signals": "RLIMIT_SIGPENDING",
    "max-processes": "RLIMIT_NPROC",
    "max-realtime-priority": "RLIMIT_RTPRIO",
    "max-realtime-timeout": "RLIMIT_RTTIME",
    "max-resident-set": "RLIMIT_RSS",
    "max-stack-size": "RLIMIT_STACK",
}
"""Resource limit setting name -> Linux name: ``"max-open-files"`` -> ``"RLIMIT_NOFILE"``."""

I64_MAX = 2**63 - 1
UNLIMITED = "unlimited"


def validate_limit(value: Any) -> int:
    """An rlimit: ``-1``…``i64::MAX`` as a JSON integer, or ``"unlimited"`` (-> -1).

    ``-2``, ``2**63``, ``"abc"``, ``"100"``, ``5.0``, ``true`` and ``null`` are rejected.
    """
    if isinstance(value, str):
        if value == UNLIMITED:
            return -1
    elif isinstance(value, int) and not isinstance(value, bool):
        if -1 <= value <= I64_MAX:
            return value
    else:
        raise ValueError(f'invalid type: {_kind(value)}, expected an integer from -1 to {I64_MAX} or "unlimited"')
    raise ValueError(f'Invalid rlimit {value}, expected -1 to {I64_MAX} or "unlimited"')


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{json.dumps(value)}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__
