"""The apiserver in the background, as ``apiserver.socket`` and ``Type=notify`` run it.

Socket activation: thar-boot binds ``DIR/run/api.sock`` and hands it to the apiserver as fd 3
with ``LISTEN_FDS=1``/``LISTEN_PID``, so clients can connect (and wait) before it serves.
Readiness: the apiserver sends ``READY=1`` to ``NOTIFY_SOCKET``, an abstract datagram socket
``ReadyWatch`` listens on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from .errors import ApiserverFailed, SandboxError
from .layout import Sandbox
from .programs import command, held_command
from .steps import Step

__all__ = ["APISERVER_READY_TIMEOUT", "APISERVER_STOP_TIMEOUT", "Apiserver", "ReadyWatch", "bind_api_socket"]

SOCKET_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the terminating NUL
APISERVER_STOP_TIMEOUT = 30.0
APISERVER_READY_TIMEOUT = 60.0


class ReadyWatch:
    """Receives the apiserver's ``READY=1`` (sd_notify) on an abstract datagram socket and notes
    when it came. ``start()`` the watching thread only after the apiserver is forked."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"thar-boot/{os.getpid()}/{os.urandom(6).hex()}"
        self.sock.bind("\0" + name)
        self.sock.settimeout(0.2)
        self.address = "@" + name
        self.ready_at: float | None = None
        self.event = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="thar-boot-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if b"READY=1" in data.split(b"\n"):
                self.ready_at = time.perf_counter()
                self.event.set()
                return

    def close(self) -> None:
        self._stop = True
        if self._thread.is_alive():
            self._thread.join()
        self.sock.close()


def api_socket_alive(path: Path) -> bool:
    """Whether something accepts connections on ``path``; a stale socket file is removed."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOTSOCK):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return False
        raise SandboxError(f"Cannot check the API socket {path}: {exc.strerror or exc}") from exc
    finally:
        probe.close()
    return True


def bind_api_socket(sandbox: Sandbox) -> socket.socket:
    """Listen on ``DIR/run/api.sock`` for the apiserver, as ``apiserver.socket`` does on a host."""
    path = sandbox.socket
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        raise SandboxError(
            f"The API socket path {path} is {len(os.fsencode(path))} bytes long, more than the "
            f"{SOCKET_PATH_MAX} a Unix socket allows: use a shorter --root"
        )
    if api_socket_alive(path):
        pid_file = sandbox.run_dir / "apiserver.pid"
        pid = pid_file.read_text().strip() if pid_file.exists() else "unknown"
        raise SandboxError(f"An apiserver (pid {pid}) is still serving {path}: stop it before booting this sandbox")
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o660)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise SandboxError(f"Cannot listen on the API socket {path}: {exc.strerror or exc}") from exc
    return sock


def reserve_fd3() -> None:
    """Keep fd 3 of this process open (on /dev/null if nothing holds it): the socket is handed
    over as fd 3 in the child, which must not be one of the pipes subprocess makes for itself."""
    try:
        os.fstat(3)
    except OSError:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd != 3:
            os.dup2(fd, 3, inheritable=False)
            os.close(fd)


class Apiserver:
    """The apiserver process of the boot, socket-activated and watched for READY=1.

    ``held=True`` starts it early, held before its ``main()`` until ``release()``."""

    def __init__(self, sandbox: Sandbox, step: Step, env: dict[str, str], held: bool = False) -> None:
        self.sandbox = sandbox
        self.watch = ReadyWatch()
        listener = bind_api_socket(sandbox)
        environment = dict(env, NOTIFY_SOCKET=self.watch.address, LISTEN_FDS="1", LISTEN_FDNAMES="api.sock")

        def activate() -> None:
            # In the child, before exec: systemd's socket-activation protocol, the listening
            # socket as fd 3 and LISTEN_PID = the pid only the child knows.
            if listener.fileno() == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(listener.fileno(), 3)
            os.environ.clear()
            os.environ.update(environment, LISTEN_PID=str(os.getpid()))

        reserve_fd3()

        program = held_command(step, step.preload(sandbox)) if held else command(step)
        try:
            self.log = sandbox.apiserver_log.open("ab")
            self.started = time.perf_counter()
            # env=None: the child's environment is the one activate() leaves. Every other fd
            # of thar-boot is close-on-exec; fd 3 is not, which is what close_fds=False keeps.
            self.proc = subprocess.Popen(
                [*program, *step.args(sandbox)],
                stdin=subprocess.PIPE if held else subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                close_fds=False,
                preexec_fn=activate,  # safe: no thread runs yet (the watch starts below)
                start_new_session=True,  # a terminal's Ctrl-C reaches thar-boot, which forwards it once
            )
        finally:
            # Only the apiserver holds the socket now: if it dies, clients fail instead of waiting.
            listener.close()
        self.released = self.started
        self.watch.start()
        (sandbox.run_dir / "apiserver.pid").write_text(f"{self.proc.pid}\n")

    def release(self) -> None:
        """Let a held apiserver go on to its main()."""
        self.released = time.perf_counter()
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write(b"1")
            self.proc.stdin.close()
            self.proc.stdin = None

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise ApiserverFailed(f"The apiserver exited with status {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.sandbox.apiserver_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "    (no log)"
        tail = text.splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in tail) or "    (no output)"

    def wait_ready(self) -> float:
        """Seconds from the start to READY=1; raises ApiserverFailed if it exits first."""
        deadline = time.monotonic() + APISERVER_READY_TIMEOUT
        while not self.watch.event.wait(0.05):
            self.check_alive()
            if time.monotonic() > deadline:
                raise ApiserverFailed(
                    f"The apiserver did not report ready in {APISERVER_READY_TIMEOUT:.0f} s:\n{self.log_tail()}"
                )
        assert self.watch.ready_at is not None
        return self.watch.ready_at - self.started

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def stop(self) -> int:
        """SIGTERM, then wait (SIGKILL after a grace period); the exit status."""
        if self.proc.stdin is not None:  # held and never released: it exits at the end of its input
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            self.proc.stdin = None
        self.signal(signal.SIGTERM)
        try:
            code = self.proc.wait(APISERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.close()
        return code

    def close(self) -> None:
        self.watch.close()
        self.log.close()
        with contextlib.suppress(FileNotFoundError):
            (self.sandbox.run_dir / "apiserver.pid").unlink()
