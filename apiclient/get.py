"""`apiclient get`: read settings and other model data by prefix, or any GET URI, as JSON.

Prefixes are model prefixes (`settings.motd`, `os.arch`, `services.ntp`), each fetched with
`GET /?prefix=…` in order; the responses are deep-merged left to right, so the result is one
document such as `{"os": {"arch": "x86_64"}, "settings": {"motd": "hello"}}`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from thar.apiclient.client import Request, SocketPath, send
from thar.apiclient.errors import InvalidJsonResponse

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "DEFAULT_PREFIXES",
    "get_json",
    "get_prefixes",
    "get_settings",
    "get_uri",
    "merge_json",
    "prefix_request",
    "settings_request",
]

DEFAULT_PREFIXES: tuple[str, ...] = ("os.", "settings.")
"""What `apiclient get` with no arguments fetches."""


def prefix_request(prefix: str) -> Request:
    """`GET /?prefix={prefix}`, the prefix percent-encoded where a query needs it.

    `settings.motd` -> `/?prefix=settings.motd`; `settings.kernel.sysctl."a.b"` ->
    `/?prefix=settings.kernel.sysctl.%22a.b%22` (the server decodes it to the same prefix).
    """
    return Request("GET", "/?prefix=" + quote(prefix, safe="/"))


def settings_request(*, keys: Iterable[str] | None = None, prefix: str | None = None) -> Request:
    """`GET /settings` for all live settings, `?keys=K1,K2` for those keys, or `?prefix=P` (keys win)."""
    if keys is not None:
        return Request("GET", "/settings?keys=" + quote(",".join(keys), safe="/,"))
    if prefix is not None:
        return Request("GET", "/settings?prefix=" + quote(prefix, safe="/"))
    return Request("GET", "/settings")


def merge_json(left: Any, right: Any) -> Any:
    """Deep-merge `right` over `left`: objects merge key by key; anything else is replaced by `right`.

    `{"a": {"b": 1}}` + `{"a": {"c": 2}}` -> `{"a": {"b": 1, "c": 2}}`;
    `{"a": [1]}` + `{"a": [2]}` -> `{"a": [2]}`; `{"a": {"b": 1}}` + `{"a": 3}` -> `{"a": 3}`.
    Neither argument is modified.
    """
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_json(merged[key], value) if key in merged else value
        return merged
    return right


def get_json(socket_path: SocketPath, uri: str) -> Any:
    """Checked `GET {uri}`, the body parsed as JSON.

    Raises `RequestFailed` for a failed request, `InvalidJsonResponse` for a body that is not JSON.
    """
    body = send(socket_path, Request("GET", uri))
    return _parse(body)


def get_uri(socket_path: SocketPath, uri: str) -> tuple[Any, str | None]:
    """Checked `GET {uri}`: `(value, None)` for a JSON body, `(None, body)` for any other (the
    text of `/metrics`, say). Raises `RequestFailed` for a failed request."""
    body = send(socket_path, Request("GET", uri))
    try:
        return json.loads(body), None
    except ValueError:
        return None, body


def get_prefixes(socket_path: SocketPath, prefixes: Sequence[str], *, strict: bool = False) -> dict[str, Any]:
    """Fetch each model prefix in order and return the deep merge of the responses.

    No implicit `settings.`: `motd` matches nothing; a prefix that selects nothing is `{}`, as
    Bottlerocket answers. `strict` (the `apiclient get` command): such a prefix is asked again with
    thar's `strict=true`, which answers 404 (`RequestFailed`, the message naming the prefix and the
    nearest setting) when the variant's model has nothing of that name, and `{}` for a setting that
    has no value; Bottlerocket's server ignores the flag and answers `{}`. Raises as `get_json`.
    """
    merged: dict[str, Any] = {}
    for prefix in prefixes:
        request = prefix_request(prefix)
        value = _parse(send(socket_path, request))
        if strict and value == {}:
            send(socket_path, Request("GET", request.uri + "&strict=true"))
        merged = merge_json(merged, value)
    return merged


def get_settings(
    socket_path: SocketPath, *, keys: Iterable[str] | None = None, prefix: str | None = None
) -> dict[str, Any]:
    """Live settings (without a `settings` wrapper): all, the given `keys`, or those under `prefix`.

    Keys with no value are left out; a `prefix` without a leading `settings` is taken under
    `settings.` by the server. Raises as `get_json`; all settings when none are set is a 404.
    """
    value = _parse(send(socket_path, settings_request(keys=keys, prefix=prefix)))
    return value if isinstance(value, dict) else {}


def _parse(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidJsonResponse(body, exc) from exc
