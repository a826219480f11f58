"""What thar-be-settings asks the API server (spec/thar-be-settings.md §2, §3, §9).

Every request goes through the apiclient library over the Unix socket; thar-be-settings never
opens the datastore. A non-2xx answer, a transport failure or a body that is not the expected
JSON raises `ApiError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from thar.apiclient import ApiClientError
from thar.apiclient.client import SocketPath
from thar.apiclient.get import get_json
from thar.thar_be_settings.errors import ApiError

__all__ = ["affected_services", "configuration_files", "encode_query_value", "get_object", "services"]

# The characters Bottlerocket percent-encodes in a query (C0 controls, space, `"`, `#`, `<`, `>`,
# DEL and non-ASCII), plus `%`, `&` and `+`, which a query decoder would otherwise misread.
_ENCODE = {c for c in range(0x21)} | {0x7F} | set(b'"#<>%&+')


def encode_query_value(text: str) -> str:
    """`keys=` / `names=` text as sent: commas and `=` stay literal, the characters above are `%XX`."""
    out = []
    for byte in text.encode("utf-8"):
        out.append(f"%{byte:02X}" if byte in _ENCODE or byte >= 0x80 else chr(byte))
    return "".join(out)


def get_object(socket_path: SocketPath, uri: str) -> dict[str, Any]:
    """Checked `GET uri` whose body must be a JSON object."""
    try:
        value = get_json(socket_path, uri)
    except ApiClientError as exc:
        raise ApiError(f"Error GETing '{uri}': {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(f"Expected a JSON object from '{uri}', got: {json.dumps(value)[:200]}")
    return value


def _names_query(path: str, param: str, names: Iterable[str] | None) -> str:
    if names is None:
        return path
    return f"{path}?{param}=" + encode_query_value(",".join(names))


def affected_services(socket_path: SocketPath, keys: Iterable[str]) -> dict[str, list[str]]:
    """`GET /metadata/affected-services?keys=…`: `{key: [service, …]}` for the keys that have it."""
    answer = get_object(socket_path, _names_query("/metadata/affected-services", "keys", keys))
    for key, value in answer.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(f"Affected services of '{key}' are not a list of service names: {value!r}")
    return answer


def services(socket_path: SocketPath, names: Iterable[str] | None = None) -> dict[str, Any]:
    """`GET /services[?names=…]`: `{name: {"configuration-files": [...], "restart-commands": [...]}}`."""
    return get_object(socket_path, _names_query("/services", "names", names))


def configuration_files(socket_path: SocketPath, names: Iterable[str] | None = None) -> dict[str, Any]:
    """`GET /configuration-files[?names=…]`: `{name: {"path", "template-path", "mode"?}}`."""
    return get_object(socket_path, _names_query("/configuration-files", "names", names))
