"""``GET /exec``: run a command in a host container, its input and output over a WebSocket
(Bottlerocket's ``apiserver/src/server/exec.rs``; the messages are its ``models/src/exec.rs``).

Binary messages carry the process's input (client to server) and output, stdout and stderr
together (server to client), unencoded. Text messages are JSON control messages, serde's
externally tagged enums:

- client: ``{"Initialize": {"target": NAME, "command": [ARG...], "tty": null | {"size": null |
  {"rows": R, "cols": C}}}}`` first, then ``"ContentComplete"`` (input ended: the process's stdin
  is closed) and ``{"Winch": {"rows": R, "cols": C}}`` (the terminal was resized). An argument
  is Bottlerocket's ``OsString``, ``{"Unix": [BYTE...]}``, or (thar) a JSON string.
- server: ``{"Capacity": {"max_messages_outstanding": 1024, "messages_written": N}}``, on connect
  and after every 128 input messages written to the process. A client keeps at most 1024 input
  messages unacknowledged; one that sends more is closed with 1009.

The server pings every 2 s and answers pings; a client not heard from (ping or pong) for 10 s is
disconnected. When the process exits, the connection is closed with 1000 and its exit status
(128+N for signal N) as the reason. Protocol errors close it with Bottlerocket's codes and
reasons (``Close`` below). A client that goes away has its process stopped (``ExecChild.stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import peer
from .exec_child import (
    CONTAINER_ID,
    MAX_CONTAINER_ID,
    ExecChild,
    ExecRequest,
    Size,
    SpawnFailed,
    check_target,
)

__all__ = [
    "CAPACITY_UPDATE_INTERVAL",
    "CLIENT_TIMEOUT",
    "DEFAULT_EXEC_SOCKET",
    "EXEC",
    "HEARTBEAT_INTERVAL",
    "MAX_MESSAGES_OUTSTANDING",
    "ExecConfig",
    "ExecSessions",
    "InvalidMessage",
    "exec_websocket",
    "parse_client_message",
]

log = logging.getLogger("apiserver")

DEFAULT_EXEC_SOCKET = "run/host-containerd/containerd.sock"  # below THAR_ROOT
HEARTBEAT_INTERVAL = 2.0  # seconds between the server's pings
CLIENT_TIMEOUT = 10.0  # seconds without a ping or pong from the client before it is dropped
MAX_MESSAGES_OUTSTANDING = 1024  # input messages received but not yet written to the process
CAPACITY_UPDATE_INTERVAL = 128  # a Capacity message after every this many input messages written
MAX_MESSAGE_SIZE = 65_536  # bytes in one client message (actix-web's limit in Bottlerocket)
OUTPUT_GRACE = 0.5  # seconds to finish sending output after the process exits
CLOSE_TIMEOUT = 5.0  # seconds to wait for the client's answer to our close
MAX_REASON = 123  # bytes in a close frame's reason


@dataclass(frozen=True)
class ExecConfig:
    """Where commands run: the host containers' containerd and its ``ctr``."""

    socket: Path = Path("/") / DEFAULT_EXEC_SOCKET
    ctr: str = "/usr/bin/ctr"
    namespace: str = "default"


class InvalidMessage(ValueError):
    """A text message that is not a client message; the message says what is wrong."""


# -- client messages --------------------------------------------------------------------------------
def _size(value: Any, where: str) -> Size:
    if not isinstance(value, dict) or "rows" not in value or "cols" not in value:
        raise InvalidMessage(f'{where}: expected {{"rows": R, "cols": C}}')
    rows, cols = value["rows"], value["cols"]
    for name, number in (("rows", rows), ("cols", cols)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 65535:
            raise InvalidMessage(f"{where}: `{name}` must be a whole number from 0 to 65535")
    return Size(rows, cols)


def _argument(value: Any, index: int) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raw = value.get("Unix") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(raw, list) and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in raw):
        return bytes(raw)
    raise InvalidMessage(f'command[{index}]: expected a string or {{"Unix": [bytes]}}')


def _initialize(body: Any) -> ExecRequest:
    if not isinstance(body, dict):
        raise InvalidMessage("Initialize: expected an object")
    for name in ("target", "command"):
        if name not in body:
            raise InvalidMessage(f"Initialize: missing field `{name}`")
    target, command, tty = body["target"], body["command"], body.get("tty")
    if not isinstance(target, str):
        raise InvalidMessage("Initialize: `target` must be a string")
    if not (CONTAINER_ID.fullmatch(target) and len(target) <= MAX_CONTAINER_ID):
        shown = target[:40] + ("…" if len(target) > 40 else "")
        raise InvalidMessage(f"Initialize: `target` {json.dumps(shown)} is not a container name")
    if not isinstance(command, list) or not command:
        raise InvalidMessage("Initialize: `command` must be a non-empty array")
    args = tuple(_argument(arg, i) for i, arg in enumerate(command))
    if tty is None:
        return ExecRequest(target, args)
    if not isinstance(tty, dict):
        raise InvalidMessage('Initialize: `tty` must be null or {"size": ...}')
    size = tty.get("size")
    return ExecRequest(target, args, True, None if size is None else _size(size, "Initialize: tty.size"))


def parse_client_message(text: str) -> ExecRequest | Size | None:
    """A text message from the client: ``Initialize`` as an ``ExecRequest``, ``Winch`` as its
    ``Size``, ``ContentComplete`` as None. Raises ``InvalidMessage``.

    ``'"ContentComplete"'`` -> None; ``'{"Winch": {"rows": 24, "cols": 80}}'`` -> ``Size(24, 80)``.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    if message == "ContentComplete" or message == {"ContentComplete": None}:
        return None
    if isinstance(message, dict) and len(message) == 1:
        ((variant, body),) = message.items()
        if variant == "Initialize":
            return _initialize(body)
        if variant == "Winch":
            return _size(body, "Winch")
        raise InvalidMessage(f"unknown variant `{variant}`, expected one of `Initialize`, `ContentComplete`, `Winch`")
    raise InvalidMessage("expected `Initialize`, `ContentComplete` or `Winch`")


def _capacity(written: int) -> str:
    return json.dumps(
        {"Capacity": {"max_messages_outstanding": MAX_MESSAGES_OUTSTANDING, "messages_written": written}},
        separators=(",", ":"),
    )


def _reason(text: str) -> bytes:
    """``text`` cut to fit a close frame (123 bytes of UTF-8)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_REASON:
        return data
    return data[: MAX_REASON - 3].decode("utf-8", "ignore").encode("utf-8") + "…".encode()


# -- the session ------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Session:
    ws: web.WebSocketResponse
    config: ExecConfig
    who: str
    child: ExecChild | None = None
    received: int = 0  # input messages received
    written: int = 0  # input messages written to the process
    inbox: deque[bytes | None] = field(default_factory=deque)  # None: ContentComplete
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    input_closed: bool = False
    write_failed: bool = False
    last_heard: float = 0.0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)  # output and input
    waiter: asyncio.Task[None] | None = None  # the process's exit, then the close

    async def close(self, code: int, reason: str) -> None:
        if not self.ws.closed:
            log.info("Closing exec connection (%s); code %d: %s", self.who, code, reason)
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, message=_reason(reason))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_heard = loop.time()
        await self.ws.send_str(_capacity(0))
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            async for message in self.ws:
                if not await self._handle(message):
                    break
        finally:
            heartbeat.cancel()
            await self._finish()

    async def _handle(self, message: Any) -> bool:
        """One client message; False when the session is over."""
        kind = message.type
        if kind is WSMsgType.PING:
            self.last_heard = asyncio.get_running_loop().time()
            await self.ws.pong(message.data)
        elif kind is WSMsgType.PONG:
            self.last_heard = asyncio.get_running_loop().time()
        elif kind is WSMsgType.BINARY:
            return await self._input(message.data)
        elif kind is WSMsgType.TEXT:
            return await self._control(message.data)
        elif kind is WSMsgType.ERROR:
            log.info("exec connection error (%s): %s", self.who, self.ws.exception())
            return False
        return True

    async def _input(self, data: bytes) -> bool:
        if self.child is None:
            await self.close(WSCloseCode.POLICY_VIOLATION, "process data sent before initialization")
            return False
        if self.input_closed or self.write_failed:
            # After ContentComplete, ignored as in Bottlerocket. After a failed write (the process
            # closed its stdin or ended), dropped: the exit status is what the client waits for
            # (thar; Bottlerocket closes with 1011 `writing to process failed`).
            return True
        self.received += 1
        # An obedient client waits while (received - written) > max before reading its next
        # input, so it can have max + 1 outstanding (as Bottlerocket's channel plus its writer).
        if self.received - self.written > MAX_MESSAGES_OUTSTANDING + 1:
            await self.close(WSCloseCode.MESSAGE_TOO_BIG, "write buffer full; obey capacity updates")
            return False
        self.inbox.append(data)
        self.wake.set()
        return True

    async def _control(self, text: str) -> bool:
        try:
            message = parse_client_message(text)
        except InvalidMessage as exc:
            await self.close(WSCloseCode.INVALID_TEXT, f"invalid JSON in client message: {exc}")
            return False
        if isinstance(message, ExecRequest):
            if self.child is not None:
                await self.close(WSCloseCode.POLICY_VIOLATION, "Initialize sent twice")
                return False
            return await self._start(message)
        if isinstance(message, Size):
            if self.child is not None:
                self.child.resize(message)
            return True
        if self.child is None:
            await self.close(WSCloseCode.POLICY_VIOLATION, "ContentComplete sent before initialization")
            return False
        if not self.input_closed:
            self.input_closed = True
            self.inbox.append(None)
            self.wake.set()
        return True

    async def _start(self, request: ExecRequest) -> bool:
        config = self.config
        log.info("exec in container '%s' (%s), tty: %s", request.target, self.who, request.tty)
        log.debug("exec command: %r", request.command)
        try:
            await check_target(config.ctr, config.socket, config.namespace, request.target)
            self.child = await ExecChild.spawn(config.ctr, config.socket, config.namespace, request)
        except SpawnFailed as exc:
            await self.close(WSCloseCode.INTERNAL_ERROR, f"failed to spawn process: {exc}")
            return False
        output = asyncio.create_task(self._output(self.child))
        self.pumps = [output, asyncio.create_task(self._writer(self.child))]
        self.waiter = asyncio.create_task(self._wait(self.child, output))
        return True

    async def _output(self, child: ExecChild) -> None:
        try:
            while data := await child.read():
                await self.ws.send_bytes(data)
        except (ConnectionError, RuntimeError) as exc:  # the client is gone
            log.debug("exec output stopped (%s): %s", self.who, exc)
        except OSError as exc:
            log.error("Failed reading from exec process (%s): %s", self.who, exc)

    async def _writer(self, child: ExecChild) -> None:
        while True:
            while not self.inbox:
                self.wake.clear()
                await self.wake.wait()
            data = self.inbox.popleft()
            if data is None:
                child.close_input()
                return
            try:
                await child.write(data)
            except OSError as exc:
                log.error("Failed to write to exec process (%s): %s", self.who, exc)
                self.write_failed = True
                return
            self.written += 1
            if self.written % CAPACITY_UPDATE_INTERVAL == 0 and not self.ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.send_str(_capacity(self.written))

    async def _wait(self, child: ExecChild, output: asyncio.Task[None]) -> None:
        code = await child.wait()
        # The output may still be in the PTY's or the pipe's buffer: send it before the close.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(output), OUTPUT_GRACE)
        log.info("exec process returned %d (%s)", code, self.who)
        # Shielded: the close wakes the receiving task, whose ending must not cut it short.
        await asyncio.shield(self.close(WSCloseCode.OK, str(code if 0 <= code <= 65535 else 0)))

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if loop.time() - self.last_heard > CLIENT_TIMEOUT:
                log.info("exec client heartbeat failed, disconnecting (%s)", self.who)
                await asyncio.shield(self.close(WSCloseCode.GOING_AWAY, "client heartbeat failed"))
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.ping(b"")

    async def _finish(self) -> None:
        """The client is gone or the process has exited: stop the process, end the tasks."""
        child = self.child
        if child is not None:
            if child.process.returncode is None:
                log.info("exec client disconnected (%s); stopping the process", self.who)
                await child.stop(grace=CLOSE_TIMEOUT)
            if self.waiter is not None:  # sends the exit status (or finds the connection closed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.waiter), OUTPUT_GRACE + CLOSE_TIMEOUT + 1)
            tasks = [*self.pumps, *([self.waiter] if self.waiter else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            child.close()
        if not self.ws.closed:
            await self.close(WSCloseCode.GOING_AWAY, "exec session ended")


class ExecSessions:
    """The open ``/exec`` sessions, closed when the server stops."""

    def __init__(self) -> None:
        self.sessions: set[_Session] = set()

    async def close_all(self) -> None:
        await asyncio.gather(
            *(s.close(WSCloseCode.GOING_AWAY, "apiserver is stopping") for s in list(self.sessions)),
            return_exceptions=True,
        )


EXEC = web.AppKey("exec", ExecSessions)


def _who(request: web.Request) -> str:
    caller = peer.caller(request)
    return "unknown caller" if caller is None else f"uid {caller.uid}, pid {caller.pid}"


async def exec_websocket(request: web.Request, config: ExecConfig) -> web.StreamResponse:
    """Upgrade ``request`` to the exec WebSocket and serve it until the process or the client ends.
    A request that is not a WebSocket upgrade answers 400 with an empty body, as Bottlerocket."""
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=MAX_MESSAGE_SIZE, timeout=CLOSE_TIMEOUT)
    if not ws.can_prepare(request).ok:
        return web.Response(status=400)
    await ws.prepare(request)
    session = _Session(ws, config, _who(request))
    sessions = request.app.get(EXEC)
    if sessions is not None:
        sessions.sessions.add(session)
    try:
        await session.run()
    finally:
        if sessions is not None:
            sessions.sessions.discard(session)
    return ws
