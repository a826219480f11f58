"""A minimal WebSocket client (RFC 6455) over the API's Unix socket, with the standard library only.

What `apiclient exec` needs and no more: the opening handshake (`GET PATH` with `Upgrade:
websocket`, the `Sec-WebSocket-Accept` checked), masked frames out, unmasked frames in (fragmented
messages reassembled), no extensions or subprotocols. The caller owns the socket's readiness
(`select`/`poll` on `sock`) and feeds what it reads to `feed`, which returns whole messages.
"""

from __future__ import annotations

import _socket
import base64
import contextlib
import hashlib
import os
import struct
from typing import TYPE_CHECKING, NamedTuple

from thar.apiclient.errors import ConnectionFailed, ResponseStatus, TransportError
from thar.apiclient.errors import WebSocketProtocolError as ProtocolError

if TYPE_CHECKING:
    from thar.apiclient.client import SocketPath

__all__ = ["BINARY", "CLOSE", "PING", "PONG", "TEXT", "Message", "ProtocolError", "WebSocket", "connect"]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 16 * 1024 * 1024  # bytes in one message from the server
MAX_HEAD = 65_536  # bytes of the server's handshake answer


class Message(NamedTuple):
    """One message: its opcode (TEXT, BINARY, CLOSE, PING, PONG) and payload."""

    opcode: int
    data: bytes


def _accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def _mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    # XOR four bytes at a time through one big integer: fast for the 4 KiB messages exec sends.
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


class WebSocket:
    """An open WebSocket on `sock` (blocking sends; receiving through `feed`)."""

    def __init__(self, sock: _socket.socket, socket_path: str, pending: bytes = b"") -> None:
        self.sock = sock
        self.socket_path = socket_path
        self._buffer = bytearray(pending)
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self.close_sent = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, opcode: int, payload: bytes = b"") -> None:
        """Send one masked frame (FIN set). Raises OSError when the connection is gone."""
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        key = os.urandom(4)
        self.sock.sendall(head + key + _mask(payload, key))

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode("utf-8"))

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame once; a connection already gone is not an error."""
        if self.close_sent:
            return
        self.close_sent = True
        with contextlib.suppress(OSError):
            self.send(CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123])

    def feed(self, data: bytes) -> list[Message]:
        """Take bytes read from the socket; return the messages they complete (control frames as
        they come, data messages once whole). Raises `ProtocolError`."""
        self._buffer += data
        messages = []
        while (frame := self._frame()) is not None:
            fin, opcode, payload = frame
            if opcode >= CLOSE:
                if not fin or len(payload) > 125:
                    raise ProtocolError(self.socket_path, "a fragmented or oversized control frame")
                messages.append(Message(opcode, payload))
                continue
            if opcode == CONTINUATION:
                if not self._fragments:
                    raise ProtocolError(self.socket_path, "a continuation frame with nothing to continue")
            elif self._fragments:
                raise ProtocolError(self.socket_path, "a new message inside a fragmented one")
            else:
                self._fragment_opcode = opcode
            self._fragments.append(payload)
            if sum(map(len, self._fragments)) > MAX_MESSAGE:
                raise ProtocolError(self.socket_path, f"a message of more than {MAX_MESSAGE} bytes")
            if fin:
                messages.append(Message(self._fragment_opcode, b"".join(self._fragments)))
                self._fragments = []
        return messages

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(self.socket_path, "a frame with reserved bits set (no extension was agreed)")
        opcode = first & 0x0F
        if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            raise ProtocolError(self.socket_path, f"a frame of unknown opcode {opcode:#x}")
        length, offset = second & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            (length,), offset = struct.unpack_from("!H", buffer, 2), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            (length,), offset = struct.unpack_from("!Q", buffer, 2), 10
        if length > MAX_MESSAGE:
            raise ProtocolError(self.socket_path, f"a frame of {length} bytes")
        key = b""
        if second & 0x80:  # servers do not mask; accepted all the same
            if len(buffer) < offset + 4:
                return None
            key, offset = bytes(buffer[offset : offset + 4]), offset + 4
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset : offset + length])
        del buffer[: offset + length]
        return bool(first & 0x80), opcode, _mask(payload, key) if key else payload

    def close(self) -> None:
        self.sock.close()


def connect(socket_path: SocketPath, path: str) -> WebSocket:
    """Open a WebSocket to `path` on the API socket.

    Raises `ConnectionFailed` when nothing accepts connections there, `ResponseStatus` when the
    server answers with anything but 101 (its status and body, e.g. a 403 of the access policy),
    `ProtocolError` for a handshake answer that is not a WebSocket's, `TransportError` otherwise.
    """
    where = os.fspath(socket_path)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(where)
        except OSError as exc:
            raise ConnectionFailed(where, exc) from exc
        key = base64.b64encode(os.urandom(16))
        head = (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        try:
            sock.sendall(head.encode("latin-1"))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ProtocolError(where, "the server closed the connection during the handshake")
                data += chunk
                if len(data) > MAX_HEAD:
                    raise ProtocolError(where, "an oversized handshake answer")
            answer, _, rest = data.partition(b"\r\n\r\n")
            lines = answer.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(where, f"not an HTTP answer: {lines[0][:60]!r}")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(parts[1])
            if status != 101:
                body = _read_body(sock, rest, headers)
                raise ResponseStatus("GET", path, status, body.decode("utf-8", "replace"))
            if headers.get("upgrade", "").lower() != "websocket":
                raise ProtocolError(where, "the server did not upgrade the connection to a WebSocket")
            if headers.get("sec-websocket-accept", "").encode() != _accept(key):
                raise ProtocolError(where, "the server's Sec-WebSocket-Accept does not match the key sent")
        except OSError as exc:
            raise TransportError(where, f"GET {path} on '{where}': {exc.strerror or exc}") from exc
    except BaseException:
        sock.close()
        raise
    return WebSocket(sock, where, rest)


def _read_body(sock: _socket.socket, data: bytes, headers: dict[str, str]) -> bytes:
    length = headers.get("content-length")
    if length is None or not length.isdigit():
        return data
    while len(data) < int(length):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data[: int(length)]
