"""Bounds on the API socket's connections: how many each caller may hold open, and for how long.

- **Caps, at accept time.** The server accepts connections itself (not through the event loop's
  server), reads the peer's uid and gid (``SO_PEERCRED``) and closes a connection over a cap at
  once, before any transport or HTTP state exists for it: at most ``max_per_uid`` connections per
  uid, and ``max_connections - reserved`` in all. Privileged callers — root, and the uids and gids
  an admin rule of the access policy names — are exempt from the per-uid cap and may also use the
  ``reserved`` connections, so they can still connect while others hold everything they may.
- **Header timeout.** A request head (request line and headers) must be complete within
  ``header_timeout`` seconds of the connection's opening, or of the first byte of a later request
  on a kept-alive connection; else the connection is closed (slow or stalled heads).
- **Idle timeout.** A kept-alive connection without a byte of its next request for
  ``idle_timeout`` seconds after its last answer is closed (aiohttp's ``keepalive_timeout``).
  A request being answered — a long-poll ``GET /settings/watch`` included — is never timed out.
- **Running out of descriptors** (EMFILE, ENFILE) or memory while accepting pauses accepting for
  ``ACCEPT_RETRY`` seconds (the connections wait in the listen backlog) instead of spinning or
  stopping the server. At start-up the soft ``RLIMIT_NOFILE`` is raised, up to the hard limit, to
  hold ``max_connections`` plus a margin for the datastore, journal and applier.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = [
    "ConnectionGate",
    "ConnectionLimitError",
    "ConnectionLimits",
    "GatedUnixSite",
    "fit_to_descriptors",
]

log = logging.getLogger("apiserver")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_MAX_PER_UID = 128
DEFAULT_RESERVED = 32
FD_MARGIN = 256  # descriptors kept beyond the connections (datastore, journal, applier pipes, ...)
ACCEPT_BATCH = 16  # connections accepted per wake-up, so that a flood cannot hold the loop
ACCEPT_RETRY = 0.1  # seconds without accepting after EMFILE, ENFILE, ENOBUFS or ENOMEM
REFUSAL_LOG_INTERVAL = 10.0  # seconds between warnings about refused connections, or failing accepts
_PEERCRED = struct.Struct("3i")
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class ConnectionLimitError(Exception):
    """The connection limits cannot be met (they contradict each other, or exceed RLIMIT_NOFILE)."""


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections callers may hold and for how long (``apiserver --help``)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int | None = None  # None: DEFAULT_MAX_CONNECTIONS, or fewer under RLIMIT_NOFILE
    max_per_uid: int = DEFAULT_MAX_PER_UID
    reserved: int = DEFAULT_RESERVED

    @property
    def total(self) -> int:
        assert self.max_connections is not None, "fit_to_descriptors() decides max_connections"
        return self.max_connections


def _descriptor_ceiling(hard: int) -> int:
    if hard != resource.RLIM_INFINITY:
        return hard
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return 1 << 20


def fit_to_descriptors(limits: ConnectionLimits) -> ConnectionLimits:
    """``limits`` with ``max_connections`` decided (the default: 1024, or what the hard
    RLIMIT_NOFILE leaves after the margin), and the soft RLIMIT_NOFILE raised to hold them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = _descriptor_ceiling(hard)
    margin = min(FD_MARGIN, ceiling // 4)
    total = limits.max_connections
    if total is None:
        total = max(1, min(DEFAULT_MAX_CONNECTIONS, ceiling - margin))
    if limits.reserved >= total:
        raise ConnectionLimitError(
            f"--reserved-connections {limits.reserved} leaves no connection for other callers out of "
            f"--max-connections {total}: lower it or raise --max-connections"
        )
    needed = total + margin
    if needed > ceiling:
        raise ConnectionLimitError(
            f"--max-connections {total} needs {needed} file descriptors ({margin} beyond the connections), "
            f"more than the hard RLIMIT_NOFILE allows ({ceiling}): lower --max-connections or raise the limit "
            "(LimitNOFILE= in the service unit)"
        )
    if soft != resource.RLIM_INFINITY and soft < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        except (OSError, ValueError) as exc:
            raise ConnectionLimitError(
                f"Cannot raise the soft RLIMIT_NOFILE from {soft} to {needed} for --max-connections {total}: {exc}"
            ) from exc
    return replace(limits, max_connections=total)


class ConnectionGate:
    """The open connections counted by peer uid; admits or refuses each new one."""

    def __init__(self, limits: ConnectionLimits, privileged: Callable[[int, int], bool]) -> None:
        self.limits = limits
        self.privileged = privileged
        self.total = 0
        self.by_uid: dict[int, int] = {}
        self._others_cap = limits.total - limits.reserved
        self._refused = 0
        self._refusal: str | None = None
        self._next_warning = 0.0

    def admit(self, uid: int, gid: int) -> bool:
        """Count a new connection of ``uid`` and say True, or say False (counting nothing) when
        it is over a cap."""
        held = self.by_uid.get(uid, 0)
        if held >= self.limits.max_per_uid or self.total >= self._others_cap:
            if not self.privileged(uid, gid):
                if held >= self.limits.max_per_uid:
                    return self._refuse(
                        f"uid {uid} holds {held} connections (--max-connections-per-uid {self.limits.max_per_uid})"
                    )
                return self._refuse(
                    f"{self.total} connections are open, the rest of --max-connections {self.limits.total} "
                    f"kept for root and admins (--reserved-connections {self.limits.reserved})"
                )
            if self.total >= self.limits.total:
                return self._refuse(f"{self.total} connections are open (--max-connections {self.limits.total})")
        self.by_uid[uid] = held + 1
        self.total += 1
        return True

    def release(self, uid: int) -> None:
        """A connection of ``uid`` has closed."""
        self.total -= 1
        held = self.by_uid[uid] - 1
        if held:
            self.by_uid[uid] = held
        else:
            del self.by_uid[uid]

    def _refuse(self, why: str) -> bool:
        """Note a refusal; a warning at most every REFUSAL_LOG_INTERVAL seconds, with the count."""
        self._refused += 1
        self._refusal = why
        now = asyncio.get_running_loop().time()
        if now >= self._next_warning:
            self.flush_warning()
            self._next_warning = now + REFUSAL_LOG_INTERVAL
        return False

    def flush_warning(self) -> None:
        if self._refused:
            log.warning("Refused %d connection(s) over the caps; the last: %s", self._refused, self._refusal)
            self._refused = 0


class GatedConnection(RequestHandler):
    """aiohttp's connection handler with the header timeout, counted by the gate until it closes.

    Between requests aiohttp's keep-alive timer (the idle timeout) runs; while a head is being
    received the header timer runs instead; while a request is answered neither does. This reads
    three of ``RequestHandler``'s private attributes: ``_waiter`` (set while it waits for the next
    request), ``_keepalive_handle`` (its keep-alive timer) and ``_request_count`` (heads parsed)."""

    __slots__ = ("_gate", "_head_timer", "_header_timeout", "_uid")

    def __init__(
        self, manager: web.Server, gate: ConnectionGate, uid: int, header_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._gate: ConnectionGate | None = gate
        self._uid = uid
        self._header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def release(self) -> None:
        """Give the connection's place back to the gate (once)."""
        if self._gate is not None:
            self._gate.release(self._uid)
            self._gate = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_head_timer()

    def _start_head_timer(self) -> None:
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None
        self._head_timer = self._loop.call_later(self._header_timeout, self._head_timed_out)

    def data_received(self, data: bytes) -> None:
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:  # a head is complete: its request is being answered
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif self._head_timer is None and self._waiter is not None:  # the first bytes of the next head
            self._start_head_timer()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiter is not None and not self._waiter.done():
            log.debug(
                "Closing a connection of uid %d: no complete request head in %gs", self._uid, self._header_timeout
            )
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.release()
        super().connection_lost(exc)


class _Listener(asyncio.AbstractServer):
    """A listening Unix socket whose connections pass the gate before aiohttp sees them."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        gate: ConnectionGate,
        make: Callable[[int], GatedConnection],
    ) -> None:
        self._loop, self._sock, self._gate, self._make = loop, sock, gate, make
        self._serving = False
        self._resume: asyncio.TimerHandle | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        self._next_warning = 0.0

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._listen()

    def _listen(self) -> None:
        self._resume = None
        self._sock.setblocking(False)
        self._loop.add_reader(self._sock.fileno(), self._accept)
        self._serving = True

    async def serve_forever(self) -> None:
        raise NotImplementedError("the API server runs until serve() is told to stop")

    def close(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._serving:
            self._loop.remove_reader(self._sock.fileno())
            self._serving = False
        self._sock.close()
        self._gate.flush_warning()

    async def wait_closed(self) -> None:
        if self._adopting:
            await asyncio.gather(*self._adopting, return_exceptions=True)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._pause(exc)
                return
            try:
                _, uid, gid = _PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
            except OSError:  # gone already
                conn.close()
                continue
            if not self._gate.admit(uid, gid):
                conn.close()
                continue
            task = self._loop.create_task(self._adopt(conn, uid))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _pause(self, exc: OSError) -> None:
        """Stop accepting for a moment: the connections wait in the backlog, the loop goes on.
        Warned about at most every REFUSAL_LOG_INTERVAL seconds."""
        now = self._loop.time()
        if now >= self._next_warning:
            self._next_warning = now + REFUSAL_LOG_INTERVAL
            level = logging.WARNING if exc.errno in _OUT_OF_RESOURCES else logging.ERROR
            log.log(level, "Cannot accept connections (%s); retrying every %gs", exc.strerror or exc, ACCEPT_RETRY)
        self._loop.remove_reader(self._sock.fileno())
        self._serving = False
        self._resume = self._loop.call_later(ACCEPT_RETRY, self._listen)

    async def _adopt(self, conn: socket.socket, uid: int) -> None:
        """Hand an admitted connection to aiohttp."""
        handler: GatedConnection | None = None

        def protocol() -> GatedConnection:
            nonlocal handler
            handler = self._make(uid)
            return handler

        try:
            conn.setblocking(False)
            await self._loop.connect_accepted_socket(protocol, conn)
        except Exception as exc:
            log.debug("Dropping a connection of uid %d: %s", uid, exc)
            conn.close()
            if handler is None:
                self._gate.release(uid)
            else:
                handler.release()


class GatedUnixSite(web.BaseSite):
    """aiohttp's site for a listening Unix socket, with the connection gate and timeouts."""

    __slots__ = ("_gate", "_limits", "_sock")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, limits: ConnectionLimits, gate: ConnectionGate
    ) -> None:
        super().__init__(runner)
        self._sock, self._limits, self._gate = sock, limits, gate

    @property
    def name(self) -> str:
        return f"http://unix:{self._sock.getsockname()}:"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server, header_timeout, gate = self._runner.server, self._limits.header_timeout, self._gate
        assert server is not None
        kwargs: dict[str, Any] = {
            "loop": loop,
            "keepalive_timeout": self._limits.idle_timeout,
            "tcp_keepalive": False,
            "access_log": None,
        }

        def make(uid: int) -> GatedConnection:
            return GatedConnection(server, gate, uid, header_timeout, **kwargs)

        listener = _Listener(loop, self._sock, gate, make)
        await listener.start_serving()
        self._server = listener
