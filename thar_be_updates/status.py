"""The update status (``status.json``): its shape, the state machine's checks and the file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from thar.atomic import write_atomic

__all__ = [
    "COMMANDS",
    "EXIT_BAD_STATE",
    "EXIT_LOCKED",
    "EXIT_NO_CHOSEN",
    "EXIT_NO_STAGED",
    "Refused",
    "check_transition",
    "command_record",
    "new_status",
    "read_status",
    "write_status",
]

COMMANDS = ("refresh", "prepare", "activate", "deactivate")
EXIT_LOCKED, EXIT_BAD_STATE, EXIT_NO_CHOSEN, EXIT_NO_STAGED = 64, 65, 66, 67
ALLOWED = {
    "refresh": ("Idle", "Available", "Staged", "Ready"),
    "prepare": ("Available", "Staged"),
    "activate": ("Staged",),
    "deactivate": ("Ready",),
}
KEYS = ("update_state", "available_updates", "chosen_update", "active_partition", "staging_partition")


class Refused(Exception):
    """A command the state does not allow; ``code`` is the dispatcher's exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_status(image: dict[str, str], next_to_boot: bool) -> dict[str, Any]:
    """The status of a system on which no command ran yet: ``Idle``, the running image active."""
    return {
        "update_state": "Idle",
        "available_updates": [],
        "chosen_update": None,
        "active_partition": {"image": image, "next_to_boot": next_to_boot},
        "staging_partition": None,
        "most_recent_command": None,
    }


def read_status(path: Path) -> dict[str, Any]:
    """The status file; ValueError when it is not a status (``update_state`` and
    ``available_updates`` are required)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("update_state") not in ("Idle", "Available", "Staged", "Ready"):
        raise ValueError(f"{path}: 'update_state' missing or not a state")
    if not isinstance(data.get("available_updates"), list):
        raise ValueError(f"{path}: 'available_updates' missing or not a list")
    status = {key: data.get(key) for key in KEYS}
    status["most_recent_command"] = data.get("most_recent_command")
    return status


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Write ``status`` atomically: pretty JSON, 2-space indent, no trailing newline, mode 0600."""
    write_atomic(path, json.dumps(status, indent=2, ensure_ascii=False), mode=0o600)


def check_transition(command: str, status: dict[str, Any]) -> None:
    """Raise Refused unless ``command`` may run in ``status`` (the parent's checks, before the fork)."""
    state = status["update_state"]
    if state not in ALLOWED[command]:
        raise Refused(EXIT_BAD_STATE, f"Command '{command.capitalize()}' not allowed when state is '{state}'")
    if command == "prepare" and status.get("chosen_update") is None:
        raise Refused(EXIT_NO_CHOSEN, "No update has been chosen: refresh-updates first")
    if command in ("activate", "deactivate") and status.get("staging_partition") is None:
        raise Refused(EXIT_NO_STAGED, "No update image has been written to the staging partition")


def command_record(command: str, returncode: int, stderr: bytes) -> dict[str, Any]:
    """``most_recent_command`` after updog ran: a signal's number counts as the exit status."""
    code = -returncode if returncode < 0 else returncode
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "cmd_type": command,
        "cmd_status": "Success" if code == 0 else "Failed",
        "timestamp": now,
        "exit_status": code,
        "stderr": stderr.decode("utf-8", errors="replace"),
    }
