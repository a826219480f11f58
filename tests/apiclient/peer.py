"""Test peers for apiclient: small real HTTP servers that record what they receive.

`ApiPeer` listens on a Unix socket and answers each request from a route table (method, path
without query) -> reply or responder, the way spec/apiserver.md answers; anything unrouted gets
404 with an empty body, as the real server does. `HttpFiles` serves documents over TCP for
`apiclient apply http://…`. Neither is a mock of thar's code: apiclient talks to them over real
sockets; end-to-end tests against the real apiserver live elsewhere.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ApiPeer", "HttpFiles", "Recorded", "Reply", "Responder"]


@dataclass(frozen=True)
class Recorded:
    """One request as the peer received it."""

    method: str
    uri: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.uri).query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


Reply: TypeAlias = "tuple[int, str | bytes]"
Responder: TypeAlias = "Callable[[Recorded], Reply]"

# What the real server answers when all goes well (spec/apiserver.md §6).
DEFAULT_ROUTES: dict[tuple[str, str], Reply | Responder] = {
    ("PATCH", "/settings"): (204, ""),
    ("PATCH", "/settings/keypair"): (204, ""),
    ("POST", "/tx/commit_and_apply"): (200, '["settings.motd"]'),
    ("POST", "/tx/commit"): (200, '["settings.motd"]'),
    ("GET", "/tx"): (200, "{}"),
    ("DELETE", "/tx"): (200, "[]"),
    ("GET", "/tx/list"): (200, "[]"),
    ("POST", "/actions/reboot"): (204, ""),
}


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    peer: ApiPeer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnixServer

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method, including lower-case and made-up ones, goes to the peer's table.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Recorded(self.command, self.path, headers, body)
        peer = self.server.peer
        with peer.lock:
            peer.requests.append(request)
        reply = peer.reply_to(request)
        if reply is None:  # hang up without answering
            self.close_connection = True
            return
        status, payload = reply
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if data:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if data:  # the client may already have hung up after an empty (e.g. 204) response
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # AF_UNIX peers have no address to log, and tests want quiet output


class ApiPeer:
    """An HTTP/1.1 server on a Unix socket that records requests and replies from `routes`.

    A route value is a `(status, body)` pair, a function of the `Recorded` request returning
    one, or None to close the connection without answering.
    """

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], Reply | Responder | None] = dict(DEFAULT_ROUTES)
        self.lock = threading.Lock()
        self._server = _UnixServer(socket_path, _Handler)
        self._server.peer = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    def route(self, method: str, path: str, reply: Reply | Responder | None) -> None:
        """Answer `method path` (any query) with `reply` from now on."""
        self.routes[(method, path)] = reply

    def reply_to(self, request: Recorded) -> Reply | None:
        key = (request.method, request.path)
        if key not in self.routes:
            return (404, "")
        reply = self.routes[key]
        if reply is None or isinstance(reply, tuple):
            return reply
        return reply(request)

    def sent(self) -> list[tuple[str, str]]:
        """(method, uri) of every request received, in order."""
        return [(r.method, r.uri) for r in self.requests]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def running_peer(socket_path: str | None = None) -> Iterator[ApiPeer]:
    """An `ApiPeer` serving until the block ends; by default on a short path in a fresh temp dir."""
    tmp = None
    if socket_path is None:
        tmp = tempfile.mkdtemp(prefix="thar-apiclient-")  # AF_UNIX paths are limited to 107 bytes
        socket_path = os.path.join(tmp, "api.sock")
    peer = ApiPeer(socket_path)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


class _FilesHandler(http.server.BaseHTTPRequestHandler):
    server: _FilesServer

    def do_GET(self) -> None:
        status, body = self.server.files.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FilesServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, tuple[int, bytes]]


class HttpFiles:
    """A TCP HTTP server on 127.0.0.1 serving `files` (path -> (status, body)); unknown paths 404."""

    def __init__(self) -> None:
        self._server = _FilesServer(("127.0.0.1", 0), _FilesHandler)
        self._server.files = {}
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    def add(self, path: str, body: str | bytes, status: int = 200) -> str:
        """Serve `body` at `path`; returns its URL."""
        self._server.files[path] = (status, body.encode("utf-8") if isinstance(body, str) else body)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
