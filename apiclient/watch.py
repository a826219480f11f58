"""`apiclient watch [PREFIX]`: print each change of the settings under a prefix as it is committed.

Long-polls `GET /settings/watch?prefix=P&since=G`; each answer with changes is printed as one
line of JSON, `{"generation": G, "settings": {...}}` (removed settings are `null`), and its
generation is the next `since`, so no commit is missed between polls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, send
from thar.apiclient.errors import InvalidJsonResponse

__all__ = ["POLL_SECONDS", "watch", "watch_once", "watch_request"]

POLL_SECONDS = 300
"""How long one poll waits for a change before asking again."""


def watch_request(prefix: str | None, since: int | None, timeout: float = POLL_SECONDS) -> Request:
    query = [f"timeout={timeout:g}"]
    if prefix:
        query.append("prefix=" + quote(prefix, safe=""))
    if since is not None:
        query.append(f"since={since}")
    return Request("GET", "/settings/watch?" + "&".join(query))


def watch_once(
    socket_path: SocketPath, prefix: str | None, since: int | None, timeout: float = POLL_SECONDS
) -> dict[str, Any]:
    """One poll: `{"generation": G, "settings": {...}}` (`{}` settings when it timed out)."""
    body = send(socket_path, watch_request(prefix, since, timeout))
    try:
        event: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise InvalidJsonResponse(body, exc) from exc
    return event


def watch(
    socket_path: SocketPath,
    prefix: str | None,
    on_change: Callable[[dict[str, Any]], None],
    since: int | None = None,
    count: int | None = None,
) -> None:
    """Call `on_change` with each change under `prefix` after generation `since` (default: from
    now on); stop after `count` changes (default: never)."""
    seen = 0
    while count is None or seen < count:
        event = watch_once(socket_path, prefix, since)
        since = int(event["generation"])
        if event["settings"]:
            on_change(event)
            seen += 1
