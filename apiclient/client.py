"""Talking HTTP/1.1 to the apiserver over its Unix socket, with nothing but the standard library.

One request per connection, `Content-Type: application/json` on every request, a body only
when one is given, no timeouts and no retries (spec/apiclient.md §2). `raw_request` checks the
status; `raw_request_unchecked` leaves that to the caller; `send` is `raw_request` for a
`Request` with the error wrapped the way every subcommand reports it.
"""

from __future__ import annotations

# The socket type itself, which `socket` wraps: the `socket` module's enums and Python-level
# wrappers cost more start-up time than the request.
import _socket
import os
import sys
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from thar.apiclient.errors import (
    ApiClientError,
    ConnectionFailed,
    NotSupported,
    RequestFailed,
    ResponseNotUtf8,
    ResponseStatus,
    TransportError,
)
from thar.paths import thar_root_override

if TYPE_CHECKING:
    import logging

SocketPath: TypeAlias = "str | os.PathLike[str]"

__all__ = [
    "DEFAULT_SOCKET_PATH",
    "Request",
    "SocketPath",
    "default_socket_path",
    "is_success",
    "raw_request",
    "raw_request_unchecked",
    "send",
    "transaction_name",
]

DEFAULT_SOCKET_PATH = "/run/api.sock"

_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"  # string.ascii_letters + digits


def _debug(message: str, *args: object) -> None:
    """Log at debug level on the `apiclient` logger, without importing `logging` for it.

    A record can only be shown by handlers or levels that someone configured, and that takes
    importing `logging`; until then there is nothing to do (the `apiclient` CLI configures it
    only when a record could be shown).
    """
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("apiclient").debug(message, *args)


def __getattr__(name: str) -> logging.Logger:
    # `log`, the `apiclient` logger, made on first use (see `_debug`).
    if name == "log":
        import logging

        return logging.getLogger("apiclient")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_socket_path() -> str:
    """`$THAR_ROOT/run/api.sock` when THAR_ROOT is set (and not empty), else `/run/api.sock`."""
    root = thar_root_override()
    return os.path.join(root, "run", "api.sock") if root else DEFAULT_SOCKET_PATH


def transaction_name(prefix: str) -> str:
    """A fresh transaction name: `prefix` + `-` + 16 random `[A-Za-z0-9]`, e.g. `apiclient-set-Ab12…`."""
    # os.urandom rather than secrets: these names need to be unique, not secret, and
    # `secrets` pulls in hashlib (a few ms of start-up for every apiclient run).
    return f"{prefix}-" + "".join(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)] for byte in os.urandom(16))


def is_success(status: int) -> bool:
    """True for 2xx."""
    return 200 <= status < 300


class Request(NamedTuple):
    """One API request: method, path+query (sent verbatim) and an optional JSON body.

    Immutable, equal to any tuple of the same values; `Request(method='GET', uri='/settings', ...)`.
    """

    method: str
    uri: str
    body: str | None = None
    content_type: str = "application/json"  # thar: JSON Patch bodies are application/json-patch+json


class HttpProtocolError(Exception):
    """The server's answer is not an HTTP/1.1 response we can read."""


def _exchange(
    path: str, method: str, uri: str, payload: bytes | None, content_type: str = "application/json"
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh Unix-socket connection (``Connection: close``).

    Written out by hand rather than with ``http.client``, whose imports (``email``, ``ssl``)
    cost more than the whole request: ``apiclient`` runs at every boot step and in scripts.
    """
    if any(c in method + uri for c in " \r\n\0\t") or any(c in content_type for c in "\r\n\0"):
        raise ValueError("method and URI must not contain spaces or control characters")
    head = f"{method} {uri} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    if payload is not None or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Length: {len(payload or b'')}\r\n"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            raise ConnectionFailed(path, exc) from exc
        sock.sendall(head.encode("latin-1") + b"\r\n" + (payload or b""))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
    return _parse_response(b"".join(chunks))


def _parse_response(data: bytes) -> tuple[int, bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP response: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _dechunk(body)
    elif b"content-length" in headers:
        body = body[: int(headers[b"content-length"])]
    return int(parts[1]), body


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def raw_request_unchecked(
    socket_path: SocketPath, uri: str, method: str, body: str | None = None, content_type: str = "application/json"
) -> tuple[int, str]:
    """Send one request and return (status, body) whatever the status.

    Raises `ConnectionFailed` when the socket cannot be connected to, `TransportError` when
    the request cannot be sent or the response read, `ResponseNotUtf8` for a non-UTF-8 body.
    """
    path = os.fspath(socket_path)
    _debug("%s %s on %s", method, uri, path)
    try:
        payload = None if body is None else body.encode("utf-8")
        status, data = _exchange(path, method, uri, payload, content_type)
    except ConnectionFailed:
        raise
    except (OSError, HttpProtocolError, ValueError) as exc:
        raise TransportError(path, f"{method} {uri} on '{path}': {str(exc) or type(exc).__name__}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResponseNotUtf8(exc) from exc
    _debug("%s %s -> %d", method, uri, status)
    return status, text


def raw_request(
    socket_path: SocketPath, uri: str, method: str, body: str | None = None, content_type: str = "application/json"
) -> tuple[int, str]:
    """Send one request and return (status, body); a non-2xx status raises `ResponseStatus`.

    `ResponseStatus` reads `Status {code} when {METHOD}ing {uri}: {body}`. Other failures
    raise as `raw_request_unchecked` does.
    """
    status, text = raw_request_unchecked(socket_path, uri, method, body, content_type)
    if not is_success(status):
        raise ResponseStatus(method, uri, status, text)
    return status, text


def send(socket_path: SocketPath, request: Request) -> str:
    """Send a checked request and return the response body.

    Any failure raises `RequestFailed` (`Failed {METHOD} request to '{uri}': …`) whose `cause`
    is the `ResponseStatus` or transport error and whose `status` is the HTTP status, if any.
    """
    try:
        return raw_request(socket_path, request.uri, request.method, request.body, request.content_type)[1]
    except ApiClientError as exc:
        raise RequestFailed(request.method, request.uri, exc) from exc


def send_supported(socket_path: SocketPath, request: Request, verb: str, routes: str) -> str:
    """`send`, for a verb whose routes thar's server may not have yet: a bare 404 (empty body)
    raises `NotSupported` (`'apiclient {verb}' is not supported by thar yet (the server has no
    {routes} routes)`); any other failure raises `RequestFailed` as `send` does."""
    try:
        return send(socket_path, request)
    except RequestFailed as exc:
        if isinstance(exc.cause, ResponseStatus) and exc.cause.status == 404 and not exc.cause.body.strip():
            raise NotSupported(verb, f"the server has no {routes} routes") from exc
        raise
