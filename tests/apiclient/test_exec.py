"""`apiclient exec` end to end: the real apiserver's `GET /exec` running `ctr task exec` against a
real containerd (tests/containers.py), into a busybox host container that host-ctr runs; the
interactive tests drive apiclient through a real pseudoterminal."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apiserver.conftest import ServerProcess, build_f0
from tests.containers import (
    MACHINE_PATHS,
    Containerd,
    busybox_image,
    host_ctr_command,
    push_image,
    start_containerd,
    start_registry,
    stop_containerd,
)

REPO = Path(__file__).resolve().parents[2]
BOX = "box"
IDLE = "idle"  # a container without a task
# PID 1 of the box: ends at SIGTERM (host-ctr's stop), sleeps in between.
BOX_SCRIPT = "trap 'exit 0' TERM; while :; do sleep 1; done"
SOCKET_GID = 4400
READER_UID, READER_GID = 4202, 4300
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@dataclass
class ExecServer(ServerProcess):
    """The apiserver with ``--exec-socket-path`` (and a policy, its socket where every uid can reach it)."""

    exec_socket: Path = Path()
    policy: str | None = None
    sock_dir: Path | None = None

    @property
    def socket_path(self) -> Path:
        return (self.sock_dir or self.workdir) / "api.sock"

    def command(self) -> list[str]:
        argv = [*super().command(), "--exec-socket-path", str(self.exec_socket)]
        if self.policy is not None:
            (self.workdir / "policy.toml").write_text(self.policy)
            argv += ["--policy", str(self.workdir / "policy.toml"), "--socket-gid", str(SOCKET_GID)]
        return argv


@dataclass
class Host:
    """A containerd with the running host container ``box``, and an apiserver exec-ing through it."""

    daemon: Containerd
    server: ExecServer

    @property
    def socket(self) -> Path:
        return self.server.socket_path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "thar.apiclient", "-s", str(self.socket), "exec", *args]

    def run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv(*args), input=input, capture_output=True, timeout=60, env=ENV, check=False)

    def commands_in(self, container: str) -> list[str]:
        """The command lines of the processes in ``container`` (host pids from ``ctr task ps``)."""
        lines = self.daemon.ctr("tasks", "ps", container).stdout.splitlines()[1:]
        found = []
        for line in lines:
            with contextlib.suppress(OSError, IndexError):  # a process that has just ended
                found.append(Path(f"/proc/{line.split()[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        return found

    def wait_gone(self, container: str, command: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while any(c.strip() == command for c in self.commands_in(container)):
            assert time.monotonic() < deadline, f"{command!r} still runs in {container}"
            time.sleep(0.1)


def _wait_running(daemon: Containerd, name: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while daemon.tasks().get(name) != "RUNNING":
        assert process.poll() is None, f"host-ctr exited {process.returncode}"
        assert time.monotonic() < deadline, f"{name} never ran"
        time.sleep(0.1)


def _start_server(tmp: Path, daemon: Containerd, policy: str | None = None) -> ExecServer:
    workdir = tmp / ("policy-server" if policy else "server")
    sock_dir = None
    if policy is not None:  # a socket every uid can reach (pytest's folders are root's only)
        sock_dir = Path(tempfile.mkdtemp(prefix="thar-exec-"))
        sock_dir.chmod(0o755)
    server = ExecServer(
        base=build_f0(workdir / "datastore"), workdir=workdir, exec_socket=daemon.socket, policy=policy,
        sock_dir=sock_dir,
    )  # fmt: skip
    server.prepare()
    server.start()
    return server


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    tmp = tmp_path_factory.mktemp("exec")
    absent = [p for p in MACHINE_PATHS if not p.exists()]
    daemon = start_containerd(tmp)
    registry = box = server = None
    try:
        registry = start_registry(tmp)
        image = push_image(registry, "thar/box", "latest", busybox_image(cmd=["/bin/sh", "-c", BOX_SCRIPT]))
        root = tmp / "root"
        root.mkdir()
        box = subprocess.Popen(
            host_ctr_command(daemon, "run", "--container-id", BOX, "--source", image.tag),
            env={**ENV, "THAR_ROOT": str(root), "HOST_CTR_STOP_GRACE": "2"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_running(daemon, BOX, box)
        daemon.ctr("containers", "create", image.tag, IDLE)
        server = _start_server(tmp, daemon)
        yield Host(daemon, server)
    finally:
        if server is not None:
            code = server.stop()
            assert code == 0, server.log()
            assert "Traceback" not in server.log(), server.log()
        if box is not None:
            box.send_signal(signal.SIGTERM)
            box.wait(30)
        if registry is not None:
            registry.process.terminate()
            registry.process.wait(10)
        stop_containerd(daemon)
        # ctr's FIFOs are beside the test's socket (--fifo-dir), not in the machine's /run/containerd
        assert [p for p in absent if p.exists()] == [], "exec wrote to the machine's containerd paths"


# -- a real terminal ------------------------------------------------------------------------------
def _controlling_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """apiclient on a pseudoterminal of ours, the terminal it controls (as in an interactive shell)."""

    def __init__(self, argv: list[str], rows: int = 24, cols: int = 80) -> None:
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.process = subprocess.Popen(
            argv, stdin=self.slave, stdout=self.slave, stderr=self.slave, env=ENV, preexec_fn=_controlling_terminal
        )
        self.output = b""

    def resize(self, rows: int, cols: int) -> None:
        # On the terminal apiclient controls: the kernel sends it SIGWINCH, as a terminal window would.
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, pattern: str, timeout: float = 15) -> re.Match[bytes]:
        """Read until ``pattern`` (a regex over the output since the last match) appears."""
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern.encode(), self.output)) is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {pattern!r} in {self.output!r}"
            if select.select([self.master], [], [], remaining)[0]:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:  # EIO: apiclient has exited
                    assert self.process.poll() is not None
                    time.sleep(0.05)
        self.output = self.output[match.end() :]
        return match

    def lflag(self) -> int:
        return int(termios.tcgetattr(self.slave)[3])

    def wait(self, timeout: float = 15) -> int:
        return int(self.process.wait(timeout))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


def open_terminal(opened: list[Terminal], argv: list[str], rows: int = 24, cols: int = 80) -> Terminal:
    term = Terminal(argv, rows, cols)
    opened.append(term)
    return term


# -- without a terminal ---------------------------------------------------------------------------
def test_apiclient_exits_with_the_command_status_and_prints_its_output(host: Host) -> None:
    done = host.run(BOX, "sh", "-c", "echo hi; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"hi\n", b"")
    assert host.run(BOX, "true").returncode == 0
    killed = host.run(BOX, "sh", "-c", "kill -TERM $$")
    assert killed.returncode == 128 + signal.SIGTERM


def test_stdin_is_streamed_to_the_command(host: Host) -> None:
    done = host.run(BOX, "cat", input=b"data\n")
    assert (done.returncode, done.stdout) == (0, b"data\n")
    # 8 MiB: 2048 messages of 4096 bytes, twice what the server takes outstanding, so apiclient
    # must wait for the server's capacity updates.
    big = os.urandom(8 * 1024 * 1024)
    done = host.run(BOX, "wc", "-c", input=big)
    assert (done.returncode, done.stdout.split()) == (0, [str(len(big)).encode()]), done.stderr
    done = host.run(BOX, "md5sum", input=big)
    import hashlib

    assert done.stdout.split()[0].decode() == hashlib.md5(big).hexdigest()


def test_input_the_command_stops_reading_does_not_change_its_status(host: Host) -> None:
    done = host.run(BOX, "head", "-n", "1", input=b"y\n" * 2_000_000)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"y\n", b"")


def test_stdout_and_stderr_of_the_command_both_reach_stdout(host: Host) -> None:
    done = host.run(BOX, "sh", "-c", "echo out; echo err >&2")
    assert (done.returncode, sorted(done.stdout.splitlines()), done.stderr) == (0, [b"err", b"out"], b"")


def test_without_a_terminal_the_command_has_no_tty_unless_asked(host: Host) -> None:
    done = host.run(BOX, "tty")
    assert (done.returncode, done.stdout) == (1, b"not a tty\n")
    forced = host.run("--tty", BOX, "sh", "-c", "sleep 0.3; tty")
    assert forced.returncode == 0, forced
    assert re.match(rb"/dev/pts/\d+\r\r?\n", forced.stdout), forced.stdout


def test_a_container_not_running_is_a_clear_error(host: Host) -> None:
    done = host.run(IDLE, "true")
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr == b"Failed to exec: failed to spawn process: container 'idle' is not running (it has no task)\n"


def test_an_unknown_container_is_a_clear_error(host: Host) -> None:
    done = host.run("nope", "true")
    assert (done.returncode, done.stderr) == (1, b"Failed to exec: failed to spawn process: no container 'nope'\n")


def test_a_signal_ends_apiclient_and_stops_the_command(host: Host) -> None:
    process = subprocess.Popen(host.argv(BOX, "sleep", "31"), env=ENV, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while "sleep 31" not in [c.strip() for c in host.commands_in(BOX)]:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 128 + signal.SIGINT
    host.wait_gone(BOX, "sleep 31")  # the server's SIGTERM to ctr, passed on to the command


# -- on a terminal --------------------------------------------------------------------------------
def test_an_interactive_shell(host: Host, terminal: list[Terminal]) -> None:
    before = termios.tcgetattr(os.openpty()[1])[3]  # a fresh terminal's modes
    term = open_terminal(terminal, host.argv(BOX, "sh"), rows=24, cols=80)
    term.expect(r"/ # ")  # busybox sh's prompt for root
    assert term.lflag() & (termios.ECHO | termios.ICANON) == 0, "the local terminal is in raw mode"
    term.send(b"echo hel''lo\r")
    term.expect(r"\r\nhello\r")  # the output, after the echo of what was typed
    term.send(b"stty size\r")
    term.expect(r"\r\n24 80\r")
    term.resize(40, 100)
    deadline = time.monotonic() + 10
    while True:  # the new size travels: SIGWINCH, Winch, the server's PTY, ctr, the container's
        term.send(b"stty size\r")
        size = term.expect(r"\r\n(\d+ \d+)\r").group(1)
        if size == b"40 100":
            break
        assert time.monotonic() < deadline, f"the size is still {size!r}"
        time.sleep(0.2)
    # Ctrl-C goes to the remote terminal (raw mode: not a local signal) and interrupts the command.
    started = time.monotonic()
    term.send(b"sleep 30\r")
    term.expect(r"sleep 30")
    time.sleep(0.5)
    term.send(b"\x03")
    term.expect(r"/ # ")
    assert time.monotonic() - started < 10 and term.process.poll() is None
    term.send(b"exit 3\r")
    assert term.wait() == 3
    assert term.lflag() == before, "the local terminal's modes are restored"


def test_no_tty_on_a_terminal_keeps_the_terminal_and_its_signals(host: Host, terminal: list[Terminal]) -> None:
    term = open_terminal(terminal, host.argv("--no-tty", BOX, "tty"))
    term.expect(r"not a tty")
    assert term.wait() == 1
    term = open_terminal(terminal, host.argv("-T", BOX, "sleep", "34"))
    deadline = time.monotonic() + 15
    while "sleep 34" not in [c.strip() for c in host.commands_in(BOX)]:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    assert term.lflag() & termios.ISIG, "no raw mode without a TTY"
    term.send(b"\x03")  # the local terminal's SIGINT, to apiclient
    assert term.wait() == 128 + signal.SIGINT
    host.wait_gone(BOX, "sleep 34")


def test_a_dropped_interactive_session_hangs_up_its_shell(host: Host, terminal: list[Terminal]) -> None:
    term = open_terminal(terminal, host.argv(BOX, "sh", "-c", "exec sleep 32"))
    deadline = time.monotonic() + 15
    while "sleep 32" not in [c.strip() for c in host.commands_in(BOX)]:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    term.process.kill()  # no close, no signal handling: the connection just drops
    term.wait()
    host.wait_gone(BOX, "sleep 32")  # SIGHUP through containerd (ctr forwards nothing with a TTY)


# -- access control -------------------------------------------------------------------------------
POLICY = f"""
default = "none"

[[rule]]
name = "root"
uids = [0]
role = "admin"

[[rule]]
name = "readers"
gids = [{READER_GID}]
role = "reader"
"""


def run_as(uid: int, gid: int, argv: list[str]) -> tuple[int, bytes, bytes]:
    """``apiclient ARGV`` in a forked child that became ``uid``/``gid`` (the interpreter may not be
    reachable by other uids, so it is not run anew): its exit status, stdout and stderr."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the caller under test, then run apiclient's main
        code = 99
        try:
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            for fd in (out_read, out_write, err_read, err_write):
                os.close(fd)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
            os.setgroups([SOCKET_GID])
            os.setgid(gid)
            os.setuid(uid)
            from thar.apiclient.cli import main

            code = main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(out_write)
    os.close(err_write)
    with os.fdopen(out_read, "rb") as out, os.fdopen(err_read, "rb") as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stdout, stderr


def test_under_a_policy_only_admins_may_exec(host: Host, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("sending as another uid needs root")
    server = _start_server(tmp_path, host.daemon, POLICY)
    try:
        argv = ["-s", str(server.socket_path), "exec", BOX, "echo", "hi"]
        code, out, err = run_as(READER_UID, READER_GID, argv)
        assert (code, out) == (1, b""), err
        assert err.decode() == (
            f"Forbidden: uid {READER_UID}, gid {READER_GID}, role 'reader' by rule 'readers' of "
            f"{server.workdir / 'policy.toml'}: may not GET /exec (admins only) "
            "(Failed to exec: Failed GET request to '/exec', status 403)\n"
        )
        allowed = subprocess.run(
            [sys.executable, "-m", "thar.apiclient", *argv], capture_output=True, timeout=60, env=ENV, check=False
        )
        assert (allowed.returncode, allowed.stdout) == (0, b"hi\n"), allowed.stderr
    finally:
        assert server.stop() == 0, server.log()
        assert server.sock_dir is not None
        for leftover in server.sock_dir.iterdir():
            leftover.unlink()
        server.sock_dir.rmdir()
