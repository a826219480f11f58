"""`apiclient reboot`: ask the server to reboot the host (`POST /actions/reboot`)."""

from __future__ import annotations

import logging

from thar.apiclient.client import Request, SocketPath, send

__all__ = ["REBOOT_REQUEST", "reboot"]

log = logging.getLogger("apiclient")

REBOOT_REQUEST = Request("POST", "/actions/reboot")


def reboot(socket_path: SocketPath) -> None:
    """Request a reboot; on success log `Rebooting, goodbye...`. Raises `RequestFailed`."""
    send(socket_path, REBOOT_REQUEST)
    log.info("Rebooting, goodbye...")
