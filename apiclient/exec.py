"""`apiclient exec`: run a command in a host container through the server's `GET /exec` WebSocket
(Bottlerocket's `apiclient/src/exec.rs`, `exec/terminal.rs` and `exec/connect.rs`).

`exec_command` returns the command's exit status. Input goes to the server as binary messages,
one byte at a time with a TTY (so that keys reach the program at once), else up to 4096 bytes,
never more than the server's last `Capacity` allows outstanding; end of input sends
`"ContentComplete"`. Output is written to stdout as it comes. With a TTY the local terminal is in
raw mode (restored at the end), its size is sent at the start and on every SIGWINCH. SIGTERM,
SIGINT and SIGQUIT end apiclient with 128+N. apiclient pings every 2 s and gives up on a server
not heard from for 10 s.

One thread and `poll`, where Bottlerocket has a thread per source: the socket, stdin, the
signals (through `signal.set_wakeup_fd`) and the heartbeat's clock are waited on together.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

from thar.apiclient import websocket
from thar.apiclient.errors import ExecFailed, RequestFailed, ResponseStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from thar.apiclient.client import SocketPath

__all__ = ["CLIENT_TIMEOUT", "HEARTBEAT_INTERVAL", "Terminal", "exec_command", "initialize_message"]

HEARTBEAT_INTERVAL = 2.0  # seconds between pings
SERVER_TIMEOUT = 10.0  # seconds without a ping or pong from the server before giving up
CLIENT_TIMEOUT = SERVER_TIMEOUT
READ_SIZE = 4096  # bytes of stdin per message without a TTY
TERMINAL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
_WINSIZE = struct.Struct("HHHH")


def _debug(message: str, *args: object) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("apiclient").debug(message, *args)


def get_winsize(fd: int) -> dict[str, int] | None:
    """The terminal's size on `fd` as `{"rows": R, "cols": C}`, or None when it is not a terminal."""
    import fcntl
    import termios

    try:
        rows, cols, _, _ = _WINSIZE.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(_WINSIZE.size)))
    except OSError:
        return None
    return {"rows": rows, "cols": cols}


class Terminal:
    """Whether the command gets a TTY, and the local terminal in raw mode while it runs.

    `tty`: True (`--tty`), False (`--no-tty`) or None: a TTY when stdin and stdout are both
    terminals, as Bottlerocket decides. With a TTY, the terminal on stdout (else on stdin, thar) is
    set to raw mode — keys such as Ctrl-C reach the remote program instead of signalling apiclient
    — and `restore` puts back its settings. Without any terminal, `--tty` still gets the command a
    PTY on the server (thar; Bottlerocket fails to read the terminal's attributes).
    """

    def __init__(self, tty: bool | None) -> None:
        stdin_tty, stdout_tty = os.isatty(0), os.isatty(1)
        self.tty = (stdin_tty and stdout_tty) if tty is None else tty
        self.fd: int | None = None
        self._saved: list[Any] | None = None
        if self.tty and (stdout_tty or stdin_tty):
            self.fd = 1 if stdout_tty else 0

    def size(self) -> dict[str, int] | None:
        return None if self.fd is None else get_winsize(self.fd)

    def raw(self) -> None:
        """Set the terminal to raw mode, as cfmakeraw(3) (TCSANOW: nothing is flushed)."""
        if self.fd is None:
            return
        import termios

        self._saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        iflag, oflag, cflag, lflag = 0, 1, 2, 3
        mode[iflag] &= ~(
            termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
            | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON
        )  # fmt: skip
        mode[oflag] &= ~termios.OPOST
        mode[lflag] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
        mode[cflag] = (mode[cflag] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)

    def restore(self) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            with contextlib.suppress(OSError):
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            self._saved = None


def _os_string(arg: str | bytes) -> dict[str, list[int]]:
    """Bottlerocket's serde form of an `OsString` on Unix: `"ls"` -> `{"Unix": [108, 115]}`."""
    return {"Unix": list(arg if isinstance(arg, bytes) else os.fsencode(arg))}


def initialize_message(target: str, command: Sequence[str | bytes], tty: bool, size: dict[str, int] | None) -> str:
    """The `Initialize` message, as Bottlerocket's apiclient sends it."""
    init = {"command": [_os_string(arg) for arg in command], "target": target, "tty": {"size": size} if tty else None}
    return json.dumps({"Initialize": init}, separators=(",", ":"))


class _Signals:
    """SIGWINCH and the terminal signals, caught and reported through a pipe polled with the rest."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self._previous = {sig: signal.signal(sig, self._ignore) for sig in (signal.SIGWINCH, *TERMINAL_SIGNALS)}
        self._wakeup = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)

    @staticmethod
    def _ignore(signum: int, frame: object) -> None:
        pass  # the number reaches the wakeup pipe; the loop acts on it

    def pending(self) -> list[int]:
        try:
            return list(os.read(self.read_fd, 64))
        except BlockingIOError:
            return []

    def close(self) -> None:
        signal.set_wakeup_fd(self._wakeup)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.close(self.read_fd)
        os.close(self.write_fd)


class _Closed(Exception):
    """The server closed the session (its close frame was read while a send failed)."""


class _Session:
    def __init__(self, ws: websocket.WebSocket, terminal: Terminal) -> None:
        self.ws = ws
        self.terminal = terminal
        self.max_outstanding = 0  # nothing is sent until the server says how much it takes
        self.written = 0
        self.read = 0
        self.stdin_open = True
        self.close: tuple[int | None, str] | None = None  # the server's close: code, reason

    def run(self, signals: _Signals) -> int:
        ws, poller = self.ws, select.poll()
        poller.register(ws.fileno(), select.POLLIN)
        poller.register(signals.read_fd, select.POLLIN)
        polling_stdin = False
        last_heard = next_ping = time.monotonic()
        next_ping += HEARTBEAT_INTERVAL
        while True:
            want_stdin = self.stdin_open and self.read - self.written <= self.max_outstanding
            if want_stdin != polling_stdin:
                if want_stdin:
                    poller.register(0, select.POLLIN)
                else:
                    poller.unregister(0)
                polling_stdin = want_stdin
            timeout = max(0.0, next_ping - time.monotonic())
            for fd, _events in poller.poll(timeout * 1000):
                if fd == ws.fileno():
                    if self._from_server():
                        last_heard = time.monotonic()
                    if self.close is not None:
                        return self._exit_status()
                elif fd == signals.read_fd:
                    for signum in signals.pending():
                        if signum == signal.SIGWINCH:
                            self._winch()
                        elif signum in TERMINAL_SIGNALS:
                            _debug("Received signal %d", signum)
                            ws.send_close(1001, "apiclient received a signal")
                            return 128 + signum
                elif fd == 0 and self.stdin_open:
                    self._from_user()
            now = time.monotonic()
            if now >= next_ping:
                if now - last_heard > SERVER_TIMEOUT:
                    raise ExecFailed("Server heartbeat died")
                self._send(websocket.PING)
                next_ping = now + HEARTBEAT_INTERVAL

    def _send(self, opcode: int, data: bytes = b"") -> None:
        try:
            self.ws.send(opcode, data)
        except OSError as exc:
            # The server may have closed after sending the exit status: read what it sent.
            self._read_rest()
            if self.close is not None:
                raise _Closed() from None
            raise ExecFailed(f"Failed to send to the server: {exc.strerror or exc}") from exc

    def _read_rest(self) -> None:
        self.ws.sock.settimeout(1.0)
        try:
            while self.close is None and (data := self.ws.sock.recv(65536)):
                self._messages(data)
        except (OSError, ExecFailed):
            pass

    def _from_server(self) -> bool:
        """Read what the socket has; True when a ping or pong came (the heartbeat)."""
        try:
            data = self.ws.sock.recv(65536)
        except OSError as exc:
            raise ExecFailed(f"Failed to read from WebSocket: {exc.strerror or exc}") from exc
        if not data:
            raise ExecFailed("The server closed the connection without an exit status")
        return self._messages(data)

    def _messages(self, data: bytes) -> bool:
        heard = False
        for message in self.ws.feed(data):
            if message.opcode == websocket.BINARY:
                _write_all(message.data)
            elif message.opcode == websocket.TEXT:
                self._control(message.data)
            elif message.opcode == websocket.PING:
                heard = True
                self._send(websocket.PONG, message.data)
            elif message.opcode == websocket.PONG:
                heard = True
            elif message.opcode == websocket.CLOSE:
                code = struct.unpack("!H", message.data[:2])[0] if len(message.data) >= 2 else None
                reason = message.data[2:].decode("utf-8", "replace")
                self.ws.send_close(code or 1000)
                self.close = (code, reason)
                return heard
        return heard

    def _control(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise ExecFailed(f"Failed to deserialize message from server: {exc}") from exc
        capacity = message.get("Capacity") if isinstance(message, dict) else None
        if isinstance(capacity, dict):
            self.max_outstanding = int(capacity.get("max_messages_outstanding", 0))
            self.written = int(capacity.get("messages_written", 0))
            if self.written > self.read:
                raise ExecFailed(
                    f"Server said {self.written} messages written, but we've only read {self.read}?  Logic error!"
                )
            _debug("Capacity: %d outstanding at most, %d written", self.max_outstanding, self.written)

    def _from_user(self) -> None:
        try:
            data = os.read(0, 1 if self.terminal.tty else READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno not in (errno.EBADF, errno.EIO):  # no stdin, or its terminal went away: end of input
                raise ExecFailed(f"Failed to read input: {exc.strerror or exc}") from exc
            data = b""
        if not data:
            _debug("Finished reading input")
            self.stdin_open = False
            self._send(websocket.TEXT, b'"ContentComplete"')
            return
        self.read += 1
        self._send(websocket.BINARY, data)

    def _winch(self) -> None:
        size = self.terminal.size()
        if size is not None:
            _debug("Sending new window size to server: %d cols %d rows", size["cols"], size["rows"])
            self._send(websocket.TEXT, json.dumps({"Winch": size}).encode())

    def _exit_status(self) -> int:
        assert self.close is not None
        code, reason = self.close
        if code == 1000 and reason.isdigit() and int(reason) <= 65535:
            return int(reason)
        raise ExecFailed(reason or f"The server closed the connection (close code {code})", code)


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(1, view) :]
    except BlockingIOError:  # stdout left non-blocking by someone: wait for it
        select.select([], [1], [])
        _write_all(bytes(view))
    except OSError as exc:
        raise ExecFailed(f"Failed to write output: {exc.strerror or exc}") from exc


def exec_command(socket_path: SocketPath, target: str, command: Sequence[str | bytes], tty: bool | None = None) -> int:
    """Run `command` in host container `target`; return its exit status (128+N for signal N, or
    128+N when apiclient itself gets SIGTERM, SIGINT or SIGQUIT).

    Raises `RequestFailed` when the server refuses the WebSocket (e.g. 403 under an access policy),
    `ExecFailed` when the session ends without an exit status (the close reason says why: no such
    container, not running, ...), `ConnectionFailed` when the socket cannot be reached.
    """
    terminal = Terminal(tty)
    size = terminal.size() if terminal.tty else None
    try:
        ws = websocket.connect(socket_path, "/exec")
    except ResponseStatus as exc:
        raise RequestFailed("GET", "/exec", exc) from exc
    signals = _Signals()
    try:
        _debug("Initialize: target %s, tty %s, command %r", target, terminal.tty, list(command))
        ws.send_text(initialize_message(target, command, terminal.tty, size))
        terminal.raw()
        session = _Session(ws, terminal)
        try:
            return session.run(signals)
        except _Closed:
            return session._exit_status()
    except OSError as exc:
        raise ExecFailed(f"Failed to send to the server: {exc.strerror or exc}") from exc
    finally:
        terminal.restore()
        signals.close()
        ws.close()
