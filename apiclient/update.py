"""`apiclient update check | apply [-c|--check] [-r|--reboot] | cancel`: drive the update system.

Each step is Bottlerocket's `wait_request` (spec/apiclient.md §8): read the status's
`most_recent_command.timestamp` as a baseline, POST the action (the server starts
thar-be-updates, which forks and returns at once), then poll `GET /updates/status` until
`most_recent_command` is this command with a new timestamp. A 423 (the dispatcher's child still
holds the update lock) is retried without counting as a failure; any other failed poll counts,
and five of them, or `max_attempts` polls, end the wait. Each action has upstream's interval and
number of attempts (`POLICIES`); `wait_request` takes others, for callers that need them.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from thar.apiclient.client import is_success, raw_request, raw_request_unchecked
from thar.apiclient.errors import ApiClientError

if TYPE_CHECKING:
    from thar.apiclient.client import SocketPath

__all__ = [
    "POLICIES",
    "STATUS_URI",
    "Policy",
    "UpdateFailed",
    "WaitFailed",
    "apply_update",
    "cancel_update",
    "check_updates",
    "wait_request",
]

log = logging.getLogger("apiclient")

STATUS_URI = "/updates/status"
FIRST_CALL = "first call"
MAX_FAILURES = 5
STILL_WAITING_EVERY = 5.0  # seconds between "Still waiting" lines


class Policy(NamedTuple):
    """How often to poll the status after an action, and how many times at most."""

    interval: float  # seconds
    max_attempts: int


# Bottlerocket's: refresh 10 s, prepare 600 s (it downloads and writes the images), activate and
# deactivate 5 s.
POLICIES = {
    "refresh": Policy(0.1, 100),
    "prepare": Policy(0.5, 1200),
    "activate": Policy(0.1, 50),
    "deactivate": Policy(0.1, 50),
}

ACTION_URIS = {
    "refresh": "/actions/refresh-updates",
    "prepare": "/actions/prepare-update",
    "activate": "/actions/activate-update",
    "deactivate": "/actions/deactivate-update",
}

PREPARE_HINT = (
    "Failed to prepare update.  This could mean that we don't have a list of updates yet or that an update is "
    "already applied.  Running 'apiclient update check' will help you find out.  You can cancel an applied "
    "('Ready') update with 'apiclient update cancel' if desired.  Detail: "
)


class WaitFailed(ApiClientError):
    """One step of `wait_request` failed; the message is Bottlerocket's. `cause` is the failed
    request's error, if a request failed."""

    def __init__(self, message: str, cause: ApiClientError | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class UpdateFailed(ApiClientError):
    """An update subcommand failed: `{wrapper}: {cause}` (`Failed to check for updates: …`)."""

    def __init__(self, wrapper: str, cause: ApiClientError) -> None:
        self.wrapper = wrapper
        self.cause = cause
        super().__init__(f"{wrapper}: {cause}")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "<unknown status code>"


def _command(body: str) -> dict[str, Any] | None:
    """The status's `most_recent_command` object, if the body is JSON holding one."""
    try:
        status = json.loads(body)
    except ValueError:
        return None
    command = status.get("most_recent_command") if isinstance(status, dict) else None
    return command if isinstance(command, dict) else None


def _seconds(value: float) -> str:
    """A duration as Rust's `Debug` of a `Duration` prints whole and fractional seconds: `10s`, `0.5s`."""
    return f"{round(value, 3):g}s"


def wait_request(
    socket_path: SocketPath,
    action_uri: str,
    cmd_name: str,
    interval: float | None = None,
    max_attempts: int | None = None,
) -> str:
    """POST `action_uri` and wait until the status records `cmd_name`'s new result; returns the
    status body. `interval` (seconds) and `max_attempts` default to `POLICIES[cmd_name]`.

    Raises `WaitFailed`: the initial status could not be read, the POST failed, the command
    failed (`{cmd_name} attempt failed with status 'Failed' (-1): {stderr}`), five polls
    failed, or `max_attempts` polls passed without a result.
    """
    policy = POLICIES[cmd_name]
    interval = policy.interval if interval is None else interval
    max_attempts = policy.max_attempts if max_attempts is None else max_attempts

    status, body = raw_request_unchecked(socket_path, STATUS_URI, "GET")
    if status == 404:
        baseline = FIRST_CALL
    elif is_success(status):
        command = _command(body)
        timestamp = command.get("timestamp") if command is not None else None
        baseline = timestamp if isinstance(timestamp, str) else FIRST_CALL
    else:
        raise WaitFailed(f"Unable to check initial update status, got code '{status} {_reason(status)}': {body}")

    try:
        raw_request(socket_path, action_uri, "POST")
    except ApiClientError as exc:
        raise WaitFailed(f"Failed to make {cmd_name} request: {exc}", exc) from exc

    attempt = 0
    failures = 0
    waited = 0.0
    since_notice = 0.0
    limit = interval * max_attempts
    while True:
        attempt += 1
        if attempt >= max_attempts:
            raise WaitFailed(
                f"Timed out after waiting {_seconds(limit)} seconds after POST to {action_uri}, unsure of result"
            )
        if failures >= MAX_FAILURES:
            raise WaitFailed(f"Failed to check status {failures} times after POST to {action_uri}, unsure of result")
        time.sleep(interval)
        waited += interval
        since_notice += interval
        if since_notice >= STILL_WAITING_EVERY:
            since_notice = 0.0
            log.info("Still waiting for updated status, will wait up to %s longer...", _seconds(limit - waited))
        try:
            status, body = raw_request_unchecked(socket_path, STATUS_URI, "GET")
        except ApiClientError as exc:
            failures += 1
            log.debug("Failed to read the update status: %s", exc)
            continue
        if status == 423:  # the update lock is held: the command is still running
            log.debug("Update status locked, retrying")
            continue
        if not is_success(status):
            failures += 1
            log.debug("Update status answered %d: %s", status, body)
            continue
        command = _command(body)
        if command is None or command.get("cmd_type") != cmd_name or command.get("timestamp") == baseline:
            continue
        cmd_status = command.get("cmd_status")
        if cmd_status == "Success":
            return body
        # QUIRK: Bottlerocket reads the numeric exit_status as a string, which always fails, so
        # its message always says -1.
        raise WaitFailed(f"{cmd_name} attempt failed with status '{cmd_status}' (-1): {command.get('stderr', '')}")


def _check(socket_path: SocketPath) -> tuple[str, Any]:
    log.info("Refreshing updates...")
    body = wait_request(socket_path, ACTION_URIS["refresh"], "refresh")
    try:
        return body, json.loads(body)
    except ValueError:
        return body, None


def check_updates(socket_path: SocketPath) -> tuple[str, Any]:
    """Refresh the list of updates and return the status: (body, parsed JSON or None when the
    body is not JSON). Raises `UpdateFailed` (`Failed to check for updates: …`)."""
    try:
        return _check(socket_path)
    except ApiClientError as exc:
        raise UpdateFailed("Failed to check for updates", exc) from exc


def apply_update(socket_path: SocketPath, *, check: bool = False, reboot: bool = False,
                 show_status: Any = None) -> None:  # fmt: skip
    """Download and write the chosen update, mark it to boot next, and with `reboot` reboot.

    With `check`, first refresh (the status is passed to `show_status`, a callable, if given):
    nothing to do (`Idle`) or already applied (`Ready`) ends there. Raises `UpdateFailed`
    (`Failed to check for updates: …`, `Failed to apply update: …`, `Failed to reboot: …`).
    """
    if check:
        body, status = check_updates(socket_path)
        if show_status is not None:
            show_status(body, status)
        state = status.get("update_state") if isinstance(status, dict) else None
        if state == "Idle":
            log.info("No updates available.")
            return
        if state == "Ready":
            log.info("Update already applied; reboot for it to take effect, or request a cancel.")
            return
    try:
        log.info("Downloading and applying update to disk...")
        try:
            wait_request(socket_path, ACTION_URIS["prepare"], "prepare")
        except ApiClientError as exc:
            raise WaitFailed(PREPARE_HINT + str(exc), exc) from exc
        log.info("Setting the update active so it will apply on the next reboot...")
        wait_request(socket_path, ACTION_URIS["activate"], "activate")
    except ApiClientError as exc:
        raise UpdateFailed("Failed to apply update", exc) from exc
    if reboot:
        from thar.apiclient.reboot import reboot as reboot_host

        try:
            reboot_host(socket_path)
        except ApiClientError as exc:
            raise UpdateFailed("Failed to reboot", exc) from exc
    else:
        log.info("Update has been applied and will take effect on next reboot.")


def cancel_update(socket_path: SocketPath) -> None:
    """Mark the booted image to boot next again (the applied update becomes `Staged`).
    Raises `UpdateFailed` (`Failed to cancel update: …`)."""
    log.info("Canceling update...")
    try:
        wait_request(socket_path, ACTION_URIS["deactivate"], "deactivate")
    except ApiClientError as exc:
        raise UpdateFailed("Failed to cancel update", exc) from exc
