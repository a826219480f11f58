"""apiclient is the lean client library and `apiclient` CLI for thar's API server on its Unix socket.

It speaks HTTP/1.1 over `/run/api.sock` (`$THAR_ROOT/run/api.sock` in a sandbox) with the
standard library only, so it starts fast: it never imports aiohttp or pydantic. sundog,
thar-be-settings and early-boot-config import its functions rather than running the CLI:
`raw_request` / `raw_request_unchecked` and one module per verb (`get`, `set`, `apply`,
`reboot`, `raw`, `report`, `ephemeral_storage`, `update`). `settings-committer`
(`apiclient.committer`), which commits the boot's launch transaction, is a thin entry point here
too. `apiclient exec` runs a command in a host container over a WebSocket (`apiclient.exec`);
`apiclient update` drives the update system through `/updates/status` and `/actions/*-update`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thar.apiclient.client import (
    DEFAULT_SOCKET_PATH,
    Request,
    default_socket_path,
    raw_request,
    raw_request_unchecked,
    send,
)
from thar.apiclient.errors import ApiClientError, ConnectionFailed, RequestFailed, ResponseStatus, UsageError

if TYPE_CHECKING:
    from typing import Any

    from thar.apiclient.apply import apply_settings, apply_sources
    from thar.apiclient.get import get_json, get_prefixes, get_settings
    from thar.apiclient.set import patch_settings, set_keypairs, set_settings

__all__ = [
    "DEFAULT_SOCKET_PATH",
    "ApiClientError",
    "ConnectionFailed",
    "Request",
    "RequestFailed",
    "ResponseStatus",
    "UsageError",
    "apply_settings",
    "apply_sources",
    "default_socket_path",
    "get_json",
    "get_prefixes",
    "get_settings",
    "patch_settings",
    "raw_request",
    "raw_request_unchecked",
    "send",
    "set_keypairs",
    "set_settings",
]

# The verb functions are imported on first use, so `apiclient get` does not pay for TOML parsing.
_LAZY = {
    "apply_settings": "thar.apiclient.apply",
    "apply_sources": "thar.apiclient.apply",
    "get_json": "thar.apiclient.get",
    "get_prefixes": "thar.apiclient.get",
    "get_settings": "thar.apiclient.get",
    "patch_settings": "thar.apiclient.set",
    "set_keypairs": "thar.apiclient.set",
    "set_settings": "thar.apiclient.set",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'apiclient' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
