"""A fake EC2 instance metadata service (IMDSv2) on 127.0.0.1 for the provider tests.

It hands out session tokens (valid until ``expire_token``) on ``PUT /latest/api/token`` (the
TTL header is required), serves ``GET /2021-07-15/<target>`` only with a valid token (401
otherwise), answers 404 for
what it does not hold, and can be told to fail the next requests of a target with a status.
Every request is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeImds", "Seen", "running_imds"]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    token: str | None
    ttl: str | None
    status: int


@dataclass
class FakeImds:
    documents: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    """target (or ``token``) -> statuses to answer with, one per request, before behaving."""
    seen: list[Seen] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def expire_token(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def requests_for(self, target: str) -> list[Seen]:
        return [s for s in self.seen if s.path == f"/2021-07-15/{target}"]

    def answer(self, method: str, path: str, token: str | None, ttl: str | None) -> tuple[int, bytes]:
        with self.lock:
            status, body = self._answer(method, path, token, ttl)
            self.seen.append(Seen(method, path, token, ttl, status))
            return status, body

    def _answer(self, method: str, path: str, token: str | None, ttl: str | None) -> tuple[int, bytes]:
        if method == "PUT" and path == "/latest/api/token":
            if self.failures.get("token"):
                return self.failures["token"].pop(0), b""
            if ttl is None:
                return 400, b"missing TTL"
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return 200, token.encode()
        prefix = "/2021-07-15/"
        if method != "GET" or not path.startswith(prefix):
            return 404, b""
        target = path[len(prefix) :]
        if token not in self.valid_tokens:
            return 401, b""
        if self.failures.get(target):
            return self.failures[target].pop(0), b""
        if target in self.documents:
            return 200, self.documents[target]
        return 404, b"Not Found"


class _Handler(BaseHTTPRequestHandler):
    imds: FakeImds

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.imds.answer(
            self.command,
            self.path,
            self.headers.get("X-aws-ec2-metadata-token"),
            self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"),
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _handle
    do_PUT = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_imds(documents: dict[str, bytes] | None = None) -> Iterator[FakeImds]:
    imds = FakeImds(documents=dict(documents or {}))
    handler = type("Handler", (_Handler,), {"imds": imds})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    imds.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield imds
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
