"""`apiclient set`: change settings in one transaction, then commit and apply it.

Two input forms. `key=value` items are sent to `PATCH /settings/keypair` exactly as given: the
server adds the optional `settings.` prefix, reads quoted key segments and types each value
(bool, then unsigned integer, then float, else string). A JSON object is sent to
`PATCH /settings`; a `settings` wrapper is accepted and unwrapped here. Either way the
transaction is `apiclient-set-` + 16 random letters and digits, committed with
`POST /tx/commit_and_apply`, and deleted again if anything fails. thar: `set_and_wait` (`set
--wait`) waits for the applier and returns its report.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from thar.apiclient.client import Request, SocketPath, send, transaction_name
from thar.apiclient.errors import ApiClientError, InvalidJsonResponse, InvalidSettingsJson
from thar.apiclient.transaction import (
    ApplyFailed,
    commit_and_apply_request,
    commit_and_apply_waiting,
    delete_request,
    discard_on_failure,
    dry_run_request,
    tx_query,
)

__all__ = [
    "JSON_PATCH",
    "compact_json",
    "dry_run",
    "dry_run_settings",
    "json_request",
    "keypair_request",
    "parse_json_patch",
    "parse_json_settings",
    "patch_settings",
    "set_and_wait",
    "set_json_patch",
    "set_keypairs",
    "set_settings",
]

JSON_PATCH = "application/json-patch+json"


def compact_json(value: Any) -> str:
    """JSON with no whitespace and non-ASCII characters as they are: `{"motd":"héllo"}`."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_settings(text: str) -> dict[str, Any]:
    """Parse `set --json` input into the settings object to PATCH.

    The input must be a JSON object. A `settings` key is removed and its entries (it must be an
    object) are put over the other top-level entries: `{"settings":{"motd":"a"}}` and
    `{"motd":"a"}` both give `{"motd": "a"}`; `{"settings":{"motd":"a"},"motd":"b"}` gives
    `{"motd": "a"}`. Duplicate keys: the last wins. Raises `InvalidSettingsJson` (a usage error).
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidSettingsJson(f"Couldn't parse given JSON input: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidSettingsJson("JSON input must be an object (map)")
    if "settings" in value:
        inner = value.pop("settings")
        if not isinstance(inner, dict):
            raise InvalidSettingsJson("JSON 'settings' value must be an object (map)")
        value.update(inner)
    return value


def parse_json_patch(text: str) -> list[Any]:
    """Parse `set --patch` input: a JSON array of RFC 6902 operations (checked by the server)."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidSettingsJson(f"Couldn't parse given JSON Patch: {exc}") from exc
    if not isinstance(value, list):
        raise InvalidSettingsJson("A JSON Patch must be an array of operations")
    return value


def keypair_request(tx: str, items: Sequence[str]) -> Request:
    """`PATCH /settings/keypair?tx={tx}` with body `{"request_payload":[items…]}`, items verbatim, in order."""
    return Request("PATCH", f"/settings/keypair?{tx_query(tx)}", compact_json({"request_payload": list(items)}))


def json_request(tx: str, settings: Mapping[str, Any]) -> Request:
    """`PATCH /settings?tx={tx}` with the settings object as compact JSON."""
    return Request("PATCH", f"/settings?{tx_query(tx)}", compact_json(dict(settings)))


def patch_settings(socket_path: SocketPath, settings: Mapping[str, Any], tx: str) -> None:
    """Stage a settings object in transaction `tx` without committing it.

    This is what early-boot-config and sundog do with `bottlerocket-launch`, which
    settings-committer commits later. Raises `RequestFailed`; nothing is deleted on failure.
    """
    send(socket_path, json_request(tx, settings))


def set_keypairs(socket_path: SocketPath, items: Sequence[str], confirm: int | None = None) -> str:
    """Stage `key=value` items in a new transaction and commit-and-apply it; return the transaction name.

    The items are not parsed here (`'kubernetes.node-labels."my.label"=hello'` goes as is).
    Raises `RequestFailed`; the transaction is deleted first. thar: with `confirm`, the server
    reverts the commit unless `POST /tx/confirm` follows within that many seconds.
    """
    tx = transaction_name("apiclient-set")
    _stage_and_commit(socket_path, tx, keypair_request(tx, items), confirm)
    return tx


def set_settings(socket_path: SocketPath, settings: Mapping[str, Any], confirm: int | None = None) -> str:
    """Stage a settings object (no `settings` wrapper) in a new transaction and commit-and-apply it.

    Returns the transaction name. Settings that are all null stage nothing, and the commit
    answers 422 (`Tried to commit with no pending changes`). Raises `RequestFailed`; the
    transaction is deleted first.
    """
    tx = transaction_name("apiclient-set")
    _stage_and_commit(socket_path, tx, json_request(tx, settings), confirm)
    return tx


def set_json_patch(socket_path: SocketPath, patch: Sequence[Any], confirm: int | None = None) -> str:
    """thar: stage a JSON Patch over the current settings (`PATCH /settings` as
    `application/json-patch+json`) in a new transaction and commit-and-apply it."""
    tx = transaction_name("apiclient-set")
    request = Request("PATCH", f"/settings?{tx_query(tx)}", compact_json(list(patch)), JSON_PATCH)
    _stage_and_commit(socket_path, tx, request, confirm)
    return tx


def _stage_and_commit(socket_path: SocketPath, tx: str, patch: Request, confirm: int | None = None) -> None:
    with discard_on_failure(socket_path, tx):
        send(socket_path, patch)
        send(socket_path, commit_and_apply_request(tx, confirm))


def _patch_request(
    tx: str, items: Sequence[str], settings: Mapping[str, Any] | None, patch: Sequence[Any] | None
) -> Request:
    if patch is not None:
        return Request("PATCH", f"/settings?{tx_query(tx)}", compact_json(list(patch)), JSON_PATCH)
    if settings is not None:
        return json_request(tx, settings)
    return keypair_request(tx, items)


def set_and_wait(
    socket_path: SocketPath,
    *,
    items: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    patch: Sequence[Any] | None = None,
    confirm: int | None = None,
    timeout: int | None = None,
) -> dict[str, Any]:
    """thar: `set --wait`: stage and commit as `set` does, wait until the server's applier has
    finished (at most `timeout` seconds; the server's default otherwise) and return its report
    (`committed`, `generation`, `keys`, `status`, `error`, `exit_status`, `files`, `services`).
    A failed or timed-out apply raises `ApplyFailed` with the report (the commit was made); a
    failure before the commit raises `RequestFailed` and deletes the transaction."""
    tx = transaction_name("apiclient-set")
    with discard_on_failure(socket_path, tx):
        send(socket_path, _patch_request(tx, items, settings, patch))
        status, report = commit_and_apply_waiting(
            socket_path, commit_and_apply_request(tx, confirm, wait=True, timeout=timeout)
        )
    if not 200 <= status < 300:
        raise ApplyFailed(status, report)
    return report


def dry_run(socket_path: SocketPath, patches: Sequence[Request], tx: str) -> dict[str, Any]:
    """thar: stage `patches` in `tx`, ask the server what committing and applying it would do
    (`POST /tx/commit_and_apply?tx=…&dry_run=true`), then delete the transaction whatever
    happened. The answer: `{"keys", "diff", "restarts", "reload_systemd"}`."""
    try:
        for patch in patches:
            send(socket_path, patch)
        body = send(socket_path, dry_run_request(tx))
    finally:
        with contextlib.suppress(ApiClientError):
            send(socket_path, delete_request(tx))
    try:
        result: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise InvalidJsonResponse(body, exc) from exc
    return result


def dry_run_settings(
    socket_path: SocketPath,
    *,
    items: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    patch: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """thar: `set --dry-run`: what `set` with these inputs would change; nothing is committed."""
    tx = transaction_name("apiclient-set")
    return dry_run(socket_path, [_patch_request(tx, items, settings, patch)], tx)
