"""`apiclient history`, `apiclient rollback` and `apiclient confirm`: thar's commit history.

Every commit is a numbered generation. `history` lists them newest first as a table
(`GET /tx/history`); `history N` prints generation N's change as a JSON Patch
(`GET /tx/history/N`); `rollback N` restores the settings of generation N as a new generation and
applies them (`POST /tx/rollback?to=N`); `confirm` confirms the commits made with
`set --confirm SECONDS` (`POST /tx/confirm`), which the server otherwise reverts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, send
from thar.apiclient.errors import InvalidJsonResponse

__all__ = [
    "confirm",
    "format_history",
    "generation_patch",
    "history",
    "history_request",
    "rollback",
]


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidJsonResponse(body, exc) from exc


def history_request(limit: int | None = None, before: int | None = None, prefix: str | None = None) -> Request:
    """`GET /tx/history` with the filters given."""
    query = [f"{name}={value}" for name, value in (("limit", limit), ("before", before)) if value is not None]
    if prefix is not None:
        query.append("prefix=" + quote(prefix, safe=""))
    return Request("GET", "/tx/history" + ("?" + "&".join(query) if query else ""))


def history(
    socket_path: SocketPath, limit: int | None = None, before: int | None = None, prefix: str | None = None
) -> list[dict[str, Any]]:
    """The commits, newest first: `{"generation", "transaction", "time", "caller", "keys"}` each."""
    entries: list[dict[str, Any]] = _json(send(socket_path, history_request(limit, before, prefix)))
    return entries


def format_history(entries: Sequence[dict[str, Any]]) -> str:
    """A table: generation, time (to the second), transaction, caller (uid/pid), changed keys."""
    rows = [("GEN", "TIME (UTC)", "TRANSACTION", "CALLER", "KEYS")]
    for entry in entries:
        caller = entry.get("caller")
        who = "-" if not caller else f"uid {caller['uid']} pid {caller['pid']}"
        keys = [key.removeprefix("settings.") for key in entry["keys"]]
        shown = ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
        time = str(entry["time"]).replace("T", " ")[:19]
        rows.append((str(entry["generation"]), time, str(entry["transaction"]), who, shown))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4] + "\n"
        for row in rows
    )


def generation_patch(socket_path: SocketPath, generation: int) -> list[dict[str, Any]]:
    """Generation `generation`'s change, as an RFC 6902 JSON Patch over the settings object."""
    patch: list[dict[str, Any]] = _json(send(socket_path, Request("GET", f"/tx/history/{generation}")))
    return patch


def rollback(socket_path: SocketPath, generation: int) -> list[str]:
    """Restore the settings of `generation` (as a new generation) and apply; the keys changed."""
    keys: list[str] = _json(send(socket_path, Request("POST", f"/tx/rollback?to={generation}")))
    return keys


def confirm(socket_path: SocketPath) -> None:
    """Confirm every commit waiting for confirmation (`set --confirm`)."""
    send(socket_path, Request("POST", "/tx/confirm"))
