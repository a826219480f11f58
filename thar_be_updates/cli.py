"""The ``thar-be-updates`` command: check the command against the update state under the update
lock, then fork; the child runs updog, records what it did and writes the new status."""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import platform
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thar.osrelease import OS_RELEASE, in_place_updates, read_os_release
from thar.paths import thar_root
from thar.signpost.state import SignpostError, State
from thar.update_metadata import Version, VersionError, VersionLockError, parse_version_lock

from .status import (
    COMMANDS,
    EXIT_LOCKED,
    Refused,
    check_transition,
    command_record,
    new_status,
    read_status,
    write_status,
)

__all__ = ["LOCK_FILE", "STATUS_FILE", "UpdatesError", "choose_update", "main"]

log = logging.getLogger("thar-be-updates")

LOCK_FILE = "run/lock/thar-be-updates.lock"
STATUS_FILE = "run/cache/thar-be-updates/status.json"
CONFIG_FILE = "etc/thar-be-updates.toml"
UPDOG = {
    "refresh": ["whats", "--all", "--json"],
    "prepare": ["update-image"],
    "activate": ["update-apply"],
    "deactivate": ["update-revert"],
}
NO_IN_PLACE = "In-place updates are not supported on this image: it is updated by replacing it with a new image"


class UpdatesError(Exception):
    """An error the dispatcher reports on stderr (exit 1)."""


def _os_release(root: Path) -> dict[str, str]:
    path = root / OS_RELEASE
    try:
        return read_os_release(path)
    except (OSError, UnicodeDecodeError) as error:
        raise UpdatesError(f"Unable to read os-release {path}: {error}") from None


def _initial_status(root: Path, os_release: dict[str, str]) -> dict[str, Any]:
    try:
        image = {
            "arch": platform.machine(),  # as updog filters updates
            "version": os_release["VERSION_ID"],
            "variant": os_release["VARIANT_ID"],
        }
    except KeyError as missing:
        raise UpdatesError(f"os-release has no {missing.args[0]}") from None
    try:
        state = State.load(root)
    except SignpostError as error:
        raise UpdatesError(f"Unable to read the partition table: {error}") from None
    following = state.next()
    if following is None:
        raise UpdatesError("No partition set is set to boot next")
    return new_status(image, following == state.active)


def choose_update(updates: list[dict[str, Any]], running: str, lock: str) -> dict[str, str] | None:
    """The update a refresh chooses from updog's list (already filtered and in its order)."""
    current = Version.parse(running)
    wanted = parse_version_lock(lock)
    if wanted is None:
        for update in updates:
            version = Version.parse(update["version"])
            if current < version or current > Version.parse(update["max_version"]):
                return {key: update[key] for key in ("arch", "version", "variant")}
        return None
    if wanted == current:
        return None
    for update in updates:
        if Version.parse(update["version"]) == wanted:
            return {key: update[key] for key in ("arch", "version", "variant")}
    return None


def _version_lock(config: Path) -> str:
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UpdatesError(f"Failed to read config file {config}: {error}") from None
    lock = data.get("version-lock")
    if not isinstance(lock, str):
        raise UpdatesError("Failed to get required setting 'version-lock'")
    parse_version_lock(lock)  # raises for a lock that is no version
    return lock


def _updates(stdout: bytes) -> list[dict[str, Any]]:
    try:
        updates = json.loads(stdout)
        if not isinstance(updates, list):
            raise ValueError("not a JSON array")
        for update in updates:
            for key in ("arch", "version", "variant", "max_version"):
                if not isinstance(update.get(key), str):
                    raise ValueError(f"an update without '{key}'")
            Version.parse(update["version"])
            Version.parse(update["max_version"])
    except (ValueError, AttributeError, VersionError) as error:
        raise UpdatesError(f"Unable to parse updog's list of updates: {error}") from None
    return updates


def _child(command: str, status: dict[str, Any], status_path: Path, config: Path, running: str) -> int:
    """Run updog and record the outcome (in the forked child, which holds the lock)."""
    try:
        proc = subprocess.run(["updog", *UPDOG[command]], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as error:
        log.error("Unable to run updog: %s", error)
        write_status(status_path, status)
        return 1
    status["most_recent_command"] = command_record(command, proc.returncode, proc.stderr)
    state, ok = status["update_state"], proc.returncode == 0
    code = 0
    if command == "refresh":
        if not ok:
            if state in ("Idle", "Available"):
                status["update_state"] = "Idle"  # the lists stay as they were (upstream's quirk)
        else:
            try:
                updates = _updates(proc.stdout)
                status["available_updates"] = [update["version"] for update in updates]
                chosen = choose_update(updates, running, _version_lock(config))
                status["chosen_update"] = chosen
                if state in ("Idle", "Available"):
                    status["update_state"] = "Available" if chosen is not None else "Idle"
            except (UpdatesError, VersionLockError) as error:
                log.error("%s", error)
                code = 1
    elif ok and command == "prepare":
        status["staging_partition"] = {"image": status["chosen_update"], "next_to_boot": False}
        status["update_state"] = "Staged"
    elif ok and command in ("activate", "deactivate"):
        activating = command == "activate"
        status["staging_partition"]["next_to_boot"] = activating
        if status["active_partition"] is not None:
            status["active_partition"]["next_to_boot"] = not activating
        status["update_state"] = "Ready" if activating else "Staged"
    write_status(status_path, status)
    return code if ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thar-be-updates",
        description="Run an update command (through updog) in the background and keep the update status.",
    )
    parser.add_argument("command", choices=COMMANDS, help="what to do")
    parser.add_argument("--config-path", type=Path, default=None, help=f"default $THAR_ROOT/{CONFIG_FILE}")
    parser.add_argument(
        "--log-level", default="info", type=str.lower, choices=["trace", "debug", "info", "warn", "error"]
    )
    return parser


def _lock(path: Path) -> int:
    # /run/lock and /run/cache/thar-be-updates come from tmpfiles.d on a host (units/
    # tmpfiles.conf); made here as well (0755, as there) for a root that has no tmpfiles.
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        raise Refused(EXIT_LOCKED, f"Unable to obtain lock on lockfile '{path}': {error}") from None
    return fd


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}
    logging.basicConfig(level=levels.get(args.log_level, logging.ERROR), format="thar-be-updates: %(message)s")
    root = thar_root()
    status_path, config = root / STATUS_FILE, args.config_path or root / CONFIG_FILE
    try:
        os_release = _os_release(root)
        if not in_place_updates(os_release):
            raise UpdatesError(NO_IN_PLACE)
        lock_fd = _lock(root / LOCK_FILE)  # held (and inherited by the child) until the process ends
        if not status_path.is_file():
            status_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            write_status(status_path, _initial_status(root, os_release))
        try:
            status = read_status(status_path)
        except (OSError, ValueError) as error:
            raise UpdatesError(f"Unable to read the update status: {error}") from None
        try:
            check_transition(args.command, status)
        except Refused:
            write_status(status_path, status)  # rewritten unchanged (upstream does so too)
            raise
    except Refused as refused:
        print(refused, file=sys.stderr)
        return refused.code
    except UpdatesError as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as error:
        print(f"Unable to fork: {error}", file=sys.stderr)
        return 1
    if pid:
        return 0
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # so that whoever waits for the parent's output is not kept waiting
            os.dup2(devnull, fd)
        # Nor by descriptors the caller leaked to us (an event loop's pipes or sockets): only
        # the lock stays open.
        os.closerange(3, lock_fd)
        os.closerange(lock_fd + 1, os.sysconf("SC_OPEN_MAX"))
        os.setsid()
        code = _child(args.command, status, status_path, config, os_release["VERSION_ID"])
    except BaseException:
        log.exception("the update command failed")
    finally:
        os._exit(code)
