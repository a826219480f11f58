"""`apiclient ephemeral-storage`: set up the host's ephemeral (instance-store) disks.

`init` formats them (one disk, or a RAID0 array of several); `bind` bind-mounts allowed
directories onto them; `list-disks` and `list-dirs` show what the server knows. thar's server
has no `/actions/ephemeral-storage` routes yet: its bare 404 (no reason) is reported as
`NotSupported`.
"""

from __future__ import annotations

from collections.abc import Sequence

from thar.apiclient.client import Request, SocketPath, send_supported
from thar.apiclient.set import compact_json

__all__ = ["FILESYSTEMS", "bind_request", "init_request", "list_request", "send_request"]

FILESYSTEMS = {"ext4": "Ext4", "xfs": "Xfs"}
"""The filesystems `init --filesystem` accepts, and their names in the request body."""


def init_request(filesystem: str | None = None, disks: Sequence[str] | None = None) -> Request:
    """`POST /actions/ephemeral-storage/init` with `{"filesystem":"Ext4"|"Xfs"|null,"disks":[…]|null}`.

    `filesystem` is a key of `FILESYSTEMS` (`KeyError` otherwise); None lets the server choose
    (xfs), and `disks` None means every ephemeral disk.
    """
    body = {
        "filesystem": None if filesystem is None else FILESYSTEMS[filesystem],
        "disks": None if disks is None else list(disks),
    }
    return Request("POST", "/actions/ephemeral-storage/init", compact_json(body))


def bind_request(targets: Sequence[str]) -> Request:
    """`POST /actions/ephemeral-storage/bind` with `{"targets":[…]}`."""
    return Request("POST", "/actions/ephemeral-storage/bind", compact_json({"targets": list(targets)}))


def list_request(item: str, format: str | None = None) -> Request:
    """`GET /actions/ephemeral-storage/{item}?[format=F]` (a bare `?` without a format, as upstream).

    `item` is `list-disks` or `list-dirs`; anything else raises `ValueError`.
    """
    if item not in ("list-disks", "list-dirs"):
        raise ValueError(f"unknown ephemeral-storage list '{item}'")
    return Request("GET", f"/actions/ephemeral-storage/{item}?" + (f"format={format}" if format is not None else ""))


def send_request(socket_path: SocketPath, request: Request) -> str:
    """Send one ephemeral-storage request and return the body as is.

    Raises `NotSupported` when the server has no such route (404, empty body), else `RequestFailed`.
    """
    return send_supported(socket_path, request, "ephemeral-storage", "/actions/ephemeral-storage")
