"""`apiclient set`: change settings in one transaction, then commit and apply it.

Two input forms. `key=value` items are sent to `PATCH /settings/keypair` exactly as given: the
server adds the optional `settings.` prefix, reads quoted key segments and types each value
(bool, then unsigned integer, then float, else string). A JSON object is sent to
`PATCH /settings`; a `settings` wrapper is accepted and unwrapped here. Either way the
transaction is `apiclient-set-` + 16 random letters and digits, committed with
`POST /tx/commit_and_apply`, and deleted again if anything fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from apiclient.client import Request, SocketPath, send, transaction_name
from apiclient.errors import InvalidSettingsJson
from apiclient.transaction import commit_and_apply_request, discard_on_failure, tx_query

__all__ = [
    "compact_json",
    "json_request",
    "keypair_request",
    "parse_json_settings",
    "patch_settings",
    "set_keypairs",
    "set_settings",
]


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


def set_keypairs(socket_path: SocketPath, items: Sequence[str]) -> str:
    """Stage `key=value` items in a new transaction and commit-and-apply it; return the transaction name.

    The items are not parsed here (`'kubernetes.node-labels."my.label"=hello'` goes as is).
    Raises `RequestFailed`; the transaction is deleted first.
    """
    tx = transaction_name("apiclient-set")
    _stage_and_commit(socket_path, tx, keypair_request(tx, items))
    return tx


def set_settings(socket_path: SocketPath, settings: Mapping[str, Any]) -> str:
    """Stage a settings object (no `settings` wrapper) in a new transaction and commit-and-apply it.

    Returns the transaction name. Settings that are all null stage nothing, and the commit
    answers 422 (`Tried to commit with no pending changes`). Raises `RequestFailed`; the
    transaction is deleted first.
    """
    tx = transaction_name("apiclient-set")
    _stage_and_commit(socket_path, tx, json_request(tx, settings))
    return tx


def _stage_and_commit(socket_path: SocketPath, tx: str, patch: Request) -> None:
    with discard_on_failure(socket_path, tx):
        send(socket_path, patch)
        send(socket_path, commit_and_apply_request(tx))
