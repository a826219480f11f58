"""The update routes: ``GET /updates/status`` and ``POST /actions/*-update``.

The actions run the update dispatcher (``thar-be-updates``) as a program and map its exit status
(spec/apiserver.md §8.1); the dispatcher forks its long work and exits at once, its child holding
the update lock meanwhile. The status is read under a shared ``flock`` of the same lock file, so
while a command runs both answer 423 (§8.2).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .errors import NoInPlaceUpdates, UpdateDispatcherFailed, UpdateLockHeld, UpdateNotAllowed, UpdateNotFound

__all__ = ["UpdateConfig", "action", "update_status"]

log = logging.getLogger("apiserver")

NO_CHOSEN = "Previously chosen Update no longer exists"
NO_STAGED = "No update image applied to staging partition"
STATUS_KEYS = ("update_state", "available_updates", "chosen_update", "active_partition", "staging_partition")
EXITS: dict[int, Exception] = {
    64: UpdateLockHeld("Update lock held"),
    65: UpdateNotAllowed("Update action not allowed according to update state"),
    66: UpdateNotFound(NO_CHOSEN),
    67: UpdateNotFound(NO_STAGED),
}


@dataclass(frozen=True)
class UpdateConfig:
    """The dispatcher (argv prefix), its lock and status files, and whether the image can update
    itself in place (False: every update route refuses, saying so)."""

    dispatcher: tuple[str, ...] = ("thar-be-updates",)
    lock: Path = Path("/run/lock/thar-be-updates.lock")
    status: Path = Path("/run/cache/thar-be-updates/status.json")
    in_place: bool = True


def _check_in_place(config: UpdateConfig) -> None:
    if not config.in_place:
        raise NoInPlaceUpdates(
            "In-place updates are not supported on this image: it is updated by replacing it with a new image"
        )


def _read_status(config: UpdateConfig) -> dict[str, Any]:
    try:
        # /run is a tmpfs: tmpfiles.d makes the lock's directory at boot on a host (units/
        # tmpfiles.conf); a sandbox root has no tmpfiles, so make it as it would (0755).
        config.lock.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(config.lock, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise UpdateDispatcherFailed(f"Unable to open update lock file: {error}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            raise UpdateLockHeld(f"Unable to obtain shared lock for reading update status: {error}") from None
        try:
            data = json.loads(config.status.read_bytes())
        except FileNotFoundError:
            raise UpdateNotFound("Update status is uninitialized, refresh-updates to initialize it") from None
        except (OSError, ValueError):
            raise UpdateDispatcherFailed("Update dispatcher failed") from None
    finally:
        os.close(fd)  # releases the shared lock
    if not isinstance(data, dict) or "update_state" not in data or not isinstance(data.get("available_updates"), list):
        raise UpdateDispatcherFailed("Update dispatcher failed")
    status = {key: data.get(key) for key in STATUS_KEYS}
    status["most_recent_command"] = data.get("most_recent_command")
    return status


async def update_status(config: UpdateConfig) -> dict[str, Any]:
    """The status, re-serialized (unknown fields dropped, absent ones null)."""
    _check_in_place(config)
    return await asyncio.get_running_loop().run_in_executor(None, _read_status, config)


async def action(command: str, config: UpdateConfig) -> web.Response:
    """Run ``thar-be-updates COMMAND`` and answer by its exit status."""
    _check_in_place(config)
    try:
        proc = await asyncio.create_subprocess_exec(
            *config.dispatcher,
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as error:
        raise UpdateDispatcherFailed(f"Unable to start the update dispatcher: {error} ") from None
    _, stderr = await proc.communicate()
    code = proc.returncode
    if code == 0:
        return web.Response(status=204)
    log.warning("thar-be-updates %s exited %s: %s", command, code, stderr.decode(errors="replace").strip())
    if code is not None and code in EXITS:
        raise EXITS[code]
    raise UpdateDispatcherFailed("Update dispatcher failed")
