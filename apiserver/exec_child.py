"""The process of one ``/exec`` session: ``ctr task exec`` into a running host container, on a PTY
or on pipes (Bottlerocket's ``apiserver/src/server/exec/child.rs``).

The command runs in the namespaces of the target container's task through containerd's ``ctr``
(``ctr -a SOCKET -n default task exec --exec-id apiexec-XXXX [--tty] TARGET COMMAND...``), with an
environment of ``TERM=screen`` only. With a TTY, ``ctr`` gets the slave end of a PTY opened at
the client's size as its stdin, stdout and stderr; without one, a pipe for stdin and one pipe for
stdout and stderr together (as a PTY merges them). Output is read 4096 bytes at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import re
import signal
import struct
import termios
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CONTAINER_ID",
    "ExecChild",
    "ExecRequest",
    "Size",
    "SpawnFailed",
    "TargetNotRunning",
    "check_target",
    "exec_argv",
]

log = logging.getLogger("apiserver")

READ_SIZE = 4096  # bytes per read of the process's output, as Bottlerocket's
WINCH_DELAY = 0.1  # seconds after the start before ctr is told to read the PTY's size
CTR_TIMEOUT = 10.0  # seconds for the ctr calls that look at the target
# containerd's identifiers (identifiers.Validate): alphanumerics joined by single '.', '_' or '-'.
CONTAINER_ID = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
MAX_CONTAINER_ID = 76
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_WINSIZE = struct.Struct("HHHH")  # struct winsize: rows, cols, xpixel, ypixel


class SpawnFailed(Exception):
    """The process could not be started; the message says why (it becomes the close reason)."""


class TargetNotRunning(SpawnFailed):
    """The target container does not exist, or its task is not running."""


@dataclass(frozen=True)
class Size:
    """A terminal's size (Bottlerocket's ``model::exec::Size``)."""

    rows: int
    cols: int


@dataclass(frozen=True)
class ExecRequest:
    """What the client's ``Initialize`` asks for: ``tty`` is None for pipes, else the PTY's
    initial size (``Size`` or None for the kernel's default, 0x0)."""

    target: str
    command: tuple[bytes, ...]
    tty: bool = False
    size: Size | None = None


def exec_argv(ctr: str, socket: Path, namespace: str, exec_id: str, request: ExecRequest) -> list[str | bytes]:
    """The ``ctr`` command line of ``request``. The FIFOs ctr makes for the process's stdio go
    beside the containerd socket (``SOCKET_DIR/fifo``, as host-ctr's), not in ctr's default
    ``/run/containerd/fifo``."""
    argv: list[str | bytes] = [ctr, "-a", str(socket), "-n", namespace, "task", "exec", "--exec-id", exec_id]
    argv += ["--fifo-dir", str(socket.parent / "fifo")]
    if request.tty:
        argv.append("--tty")
    return [*argv, request.target, *request.command]


async def _ctr_output(ctr: str, socket: Path, namespace: str, *args: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            ctr, "-a", str(socket), "-n", namespace, *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as exc:
        raise SpawnFailed(f"cannot run {ctr}: {exc.strerror or exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CTR_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise SpawnFailed(f"ctr {args[0]} {args[1]} timed out after {CTR_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
        raise SpawnFailed((lines[-1] if lines else f"ctr exited {proc.returncode}").removeprefix("ctr: "))
    return out.decode(errors="replace")


async def check_target(ctr: str, socket: Path, namespace: str, target: str) -> None:
    """Raise ``TargetNotRunning`` unless container ``target`` has a RUNNING task (thar: Bottlerocket
    leaves this to ``ctr task exec``, whose error reaches the client as the process's output)."""
    if not socket.exists():
        raise SpawnFailed(f"containerd socket {socket} does not exist (is host-containerd running?)")
    status = None
    for line in (await _ctr_output(ctr, socket, namespace, "tasks", "ls")).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == target:
            status = fields[2]
    if status == "RUNNING":
        return
    if status is not None:
        raise TargetNotRunning(f"container '{target}' is not running (its task is {status})")
    if target not in (await _ctr_output(ctr, socket, namespace, "containers", "ls", "-q")).split():
        raise TargetNotRunning(f"no container '{target}'")
    raise TargetNotRunning(f"container '{target}' is not running (it has no task)")


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


def set_winsize(fd: int, size: Size) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, _WINSIZE.pack(size.rows, size.cols, 0, 0))


class ExecChild:
    """A started ``ctr task exec``: read its output, write its input, resize its PTY, stop it.

    ``read`` returns b"" once the output is closed (EOF on the pipe, EIO on the PTY once every
    slave descriptor is closed); ``wait`` returns the exit status, 128+N for signal N.
    """

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        exec_id: str,
        read_fd: int,
        write_fd: int,
        pty: bool,
        ctr: tuple[str, ...] = (),
        target: str = "",
    ) -> None:
        self.process = process
        self.exec_id = exec_id
        self.ctr = ctr  # ctr -a SOCKET -n NAMESPACE
        self.target = target
        self.read_fd: int | None = read_fd
        self.write_fd: int | None = write_fd
        self.pty = pty
        self._winch: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def spawn(cls, ctr: str, socket: Path, namespace: str, request: ExecRequest) -> ExecChild:
        """Start ``request``'s command (``exec_argv``); raises ``SpawnFailed``."""
        exec_id = "apiexec-" + "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in os.urandom(16))
        argv = exec_argv(ctr, socket, namespace, exec_id, request)
        # ctr sets up the process's environment; nothing of the server's is passed on. TERM=screen,
        # as Bottlerocket: widely understood, and no terminal queries expecting a real terminal.
        env = {"TERM": "screen"}
        if request.tty:
            master, slave = os.openpty()
            try:
                if request.size is not None:
                    set_winsize(master, request.size)
                child_fds: tuple[int, int, int] = (slave, slave, slave)
                process = await cls._start(argv, env, child_fds)
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)  # else reads of the master never end (EIO) after the process exits
            read_fd, write_fd = master, os.dup(master)
        else:
            in_read, in_write = os.pipe()
            out_read, out_write = os.pipe()
            try:
                process = await cls._start(argv, env, (in_read, out_write, out_write))
            except BaseException:
                os.close(in_write)
                os.close(out_read)
                raise
            finally:
                os.close(in_read)
                os.close(out_write)
            read_fd, write_fd = out_read, in_write
        _nonblocking(read_fd)
        _nonblocking(write_fd)
        child = cls(process, exec_id, read_fd, write_fd, request.tty, (ctr, "-a", str(socket), "-n", namespace),
                    request.target)  # fmt: skip
        log.debug("Spawned exec %s (pid %d): %s", exec_id, process.pid, argv)
        if request.tty:
            # ctr reads the PTY's size when told by SIGWINCH; the PTY is not ctr's controlling
            # terminal (start_new_session: no terminal at all), so the server signals it itself.
            child._winch = asyncio.get_running_loop().call_later(WINCH_DELAY, child._signal, signal.SIGWINCH)
        return child

    @staticmethod
    async def _start(
        argv: list[str | bytes], env: dict[str, str], fds: tuple[int, int, int]
    ) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env, start_new_session=True
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in an argument
            raise SpawnFailed(f"{argv[0]!s}: {getattr(exc, 'strerror', None) or exc}") from exc

    def _signal(self, signum: int) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)

    async def read(self) -> bytes:
        """The next bytes of output (at most READ_SIZE), b"" at the end."""
        fd = self.read_fd
        if fd is None:
            return b""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return os.read(fd, READ_SIZE)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno == errno.EIO:  # the PTY's slave side is closed everywhere
                    return b""
                raise
            ready = loop.create_future()
            loop.add_reader(fd, _wake, ready)
            try:
                await ready
            finally:
                loop.remove_reader(fd)

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` to the process's input; raises OSError (EPIPE, EIO) when it is gone."""
        fd = self.write_fd
        if fd is None:
            raise BrokenPipeError(errno.EPIPE, "the process's input is closed")
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view) :]
                continue
            except BlockingIOError:
                pass
            ready = loop.create_future()
            loop.add_writer(fd, _wake, ready)
            try:
                await ready
            finally:
                loop.remove_writer(fd)

    def close_input(self) -> None:
        """Close the process's stdin (``ContentComplete``). With a PTY this closes only the
        writing descriptor: the terminal stays open, as in Bottlerocket."""
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def resize(self, size: Size) -> None:
        """Set the PTY's size and tell ctr (which passes it to the container's terminal); nothing
        without a PTY."""
        if not self.pty or self.read_fd is None:
            return
        with contextlib.suppress(OSError):
            set_winsize(self.read_fd, size)
        self._signal(signal.SIGWINCH)

    async def wait(self) -> int:
        """The exit status: ctr's, which is the command's (128+N when killed by signal N)."""
        code = await self.process.wait()
        return 128 - code if code < 0 else code

    async def stop(self, grace: float) -> None:
        """SIGTERM to ctr, which passes it on to the command when there is no TTY; SIGKILL to ctr
        if it is still running ``grace`` seconds later. With a TTY ctr forwards no signal, so the
        command itself is first sent SIGHUP through containerd, as a terminal hang-up (thar; in
        Bottlerocket an interactive shell outlives a dropped client). A killed ctr forwards
        nothing, so the command is then sent SIGKILL through containerd too; and a ctr the SIGTERM
        ended itself (it came before ctr set up its forwarding) passes on nothing, so the command
        is sent SIGTERM through containerd."""
        if self.process.returncode is not None:
            return
        if self.pty and self.ctr:
            await self._signal_exec("SIGHUP")
        self._signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            log.warning("exec %s in '%s' still runs %g s after SIGTERM: SIGKILL", self.exec_id, self.target, grace)
            self._signal(signal.SIGKILL)
            if self.ctr:
                await self._signal_exec("SIGKILL")
            return
        if code == -signal.SIGTERM and self.ctr and not self.pty:
            await self._signal_exec("SIGTERM")

    async def _signal_exec(self, signame: str) -> None:
        """``signame`` to the command itself, through containerd (``ctr task kill --exec-id``)."""
        argv = [*self.ctr, "task", "kill", "--exec-id", self.exec_id, "--signal", signame, self.target]
        try:
            kill = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as exc:
            log.warning("Could not send %s to exec %s in '%s': %s", signame, self.exec_id, self.target, exc)
            return
        try:
            await asyncio.wait_for(kill.wait(), CTR_TIMEOUT)
        except TimeoutError:
            log.warning("ctr task kill of exec %s timed out after %g s", self.exec_id, CTR_TIMEOUT)
            with contextlib.suppress(ProcessLookupError):
                kill.kill()
            await kill.wait()

    def close(self) -> None:
        if self._winch is not None:
            self._winch.cancel()
        for fd in (self.read_fd, self.write_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self.write_fd = None
