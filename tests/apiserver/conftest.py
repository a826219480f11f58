"""Harness for the apiserver tests: fixture F0 of ``api-scenarios.md`` on disk, the real
``apiserver`` running as a subprocess on a Unix socket, a settings-applier stub that records
how it was called, and a tiny synchronous HTTP client over the socket.

Fixtures:

- ``api``: a fresh F0 datastore and server per test; yields an ``Api`` (a client that also
  knows the datastore path and the applier stub). Checks the server exits 0 on SIGTERM.
- ``ro_api``: the same, shared by a whole module; only for tests that change nothing (it
  checks at the end that live is still F0 and nothing is pending).
- ``make_server``: a factory for tests that need several servers, a different datastore,
  or to kill and restart the server themselves.

Fresh F0 servers come from ``server_pool``, which keeps one launched ahead of need so that
start-up overlaps the previous test; ``tmp_path/<name>`` links to the server's directory
(``datastore/``, ``os-release``, ``applier-stub``, ``applier-calls.jsonl``, ``apiserver.log``).
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

__all__ = [
    "CF",
    "F0_LIVE",
    "F0_OS_RELEASE",
    "OS",
    "SVC",
    "S_ALL",
    "Api",
    "ApiClient",
    "ApplierCall",
    "Response",
    "ServerPool",
    "ServerProcess",
    "UnixHTTPConnection",
    "build_f0",
]

# -- fixture F0 -----------------------------------------------------------------------------------
# Paths under BASE/live and their exact bytes (stored JSON, no trailing newline).
F0_LIVE: Mapping[str, str] = {
    "settings/motd": '"hello"',
    "settings/kernel/lockdown": '"integrity"',
    "settings/kernel/sysctl/net%2Eipv4%2Eip_forward": '"1"',
    "settings/ntp/time-servers": '["pool.example.com"]',
    "settings/updates/seed": "123",
    "services/chronyd/configuration-files": '["chrony-conf"]',
    "services/chronyd/restart-commands": '["/bin/systemctl try-restart chronyd"]',
    "configuration-files/chrony-conf/path": '"/etc/chrony.conf"',
    "configuration-files/chrony-conf/template-path": '"/usr/share/templates/chrony-conf"',
    # metadata
    "settings/ntp.affected-services": '["chronyd"]',
    "settings/network/hostname.setting-generator": '"netdog generate-hostname"',
    "settings/updates/metadata-base-url.template": '"https://updates.example/{{ os.arch }}/"',
}

F0_OS_RELEASE = (
    "NAME=Bottlerocket\n"
    'PRETTY_NAME="Bottlerocket OS 1.20.0 (aws-dev)"\n'
    "VARIANT_ID=aws-dev\n"
    "VERSION_ID=1.20.0\n"
    "BUILD_ID=abcdef12\n"
)

S_ALL: dict[str, Any] = {
    "motd": "hello",
    "kernel": {"lockdown": "integrity", "sysctl": {"net.ipv4.ip_forward": "1"}},
    "ntp": {"time-servers": ["pool.example.com"]},
    "updates": {"seed": 123},
}
SVC: dict[str, Any] = {
    "chronyd": {"configuration-files": ["chrony-conf"], "restart-commands": ["/bin/systemctl try-restart chronyd"]}
}
CF: dict[str, Any] = {"chrony-conf": {"path": "/etc/chrony.conf", "template-path": "/usr/share/templates/chrony-conf"}}
OS: dict[str, Any] = {
    "pretty_name": "Bottlerocket OS 1.20.0 (aws-dev)",
    "variant_id": "aws-dev",
    "version_id": "1.20.0",
    "build_id": "abcdef12",
    "arch": "x86_64",
}

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def build_f0(base: Path, *, live_files: bool = True) -> Path:
    """Create fixture F0's datastore at ``base`` (``live/`` with F0's files; no ``pending/``).
    With ``live_files=False``, ``live/`` exists but is empty (scenario 12)."""
    (base / "live").mkdir(parents=True)
    if live_files:
        for relative, content in F0_LIVE.items():
            path = base / "live" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode())
    return base


# -- the applier stub -----------------------------------------------------------------------------
# Update dispatcher stub: records argv, exits with the code in the control file (default 0).
_DISPATCHER_STUB = """#!/bin/sh
printf '%s\\n' "$*" >> {record!r}
code=$(cat {control!r} 2>/dev/null || echo 0)
exit "$code"
"""

_APPLIER_STUB = """#!{python}
# Settings-applier stub: records argv and stdin, exits as the control file says.
import json, os, stat, sys, time

RECORD = {record!r}
CONTROL = {control!r}

argv = sys.argv[1:]
stdin = None
try:
    mode = os.fstat(0).st_mode
except OSError:
    mode = None
piped = mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))  # the server's is /dev/null
if "--all" not in argv and mode is not None and not os.isatty(0):
    stdin = sys.stdin.read()
with open(RECORD, "a", encoding="utf-8") as f:
    f.write(json.dumps({{"argv": argv, "stdin": stdin, "stdin_pipe": piped}}) + "\\n")
try:
    with open(CONTROL, encoding="utf-8") as f:
        words = f.read().split()
except FileNotFoundError:
    words = []
code = int(words[0]) if words else 0
if len(words) > 1:
    time.sleep(float(words[1]))
sys.exit(code)
"""


class ApplierCall(NamedTuple):
    """One run of the applier stub: its arguments, its stdin (None when not read: ``--all``),
    and whether its stdin was a pipe or socket from the server rather than inherited (the
    server's own stdin is ``/dev/null``)."""

    argv: list[str]
    stdin: str | None
    stdin_pipe: bool


# -- HTTP over the Unix socket --------------------------------------------------------------------
class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a Unix stream socket."""

    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Response(NamedTuple):
    """An HTTP response: status, headers, body bytes."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")


class ApiClient:
    """A tiny synchronous HTTP client for the API socket.

    By default each request uses its own connection; ``persistent=True`` keeps one
    connection (HTTP keep-alive) for every request of this client (one client per thread).
    """

    def __init__(self, socket_path: Path, *, persistent: bool = False, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.persistent = persistent
        self.timeout = timeout
        self._conn: UnixHTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; ``body`` is sent as given, with only the headers given (plus
        Host, Accept-Encoding and Content-Length, which ``http.client`` adds)."""
        conn = self._conn if self.persistent and self._conn is not None else None
        if conn is None:
            conn = UnixHTTPConnection(self.socket_path, timeout=self.timeout)
        data = body.encode() if isinstance(body, str) else body
        try:
            conn.request(method, path, body=data, headers=dict(headers or {}))
            response = conn.getresponse()
            payload = response.read()
        except BaseException:
            conn.close()
            if conn is self._conn:
                self._conn = None
            raise
        if self.persistent and not response.will_close:
            self._conn = conn
        else:
            conn.close()
            if conn is self._conn:
                self._conn = None
        return Response(response.status, response.headers, payload)

    # -- conveniences --------------------------------------------------------------------------
    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str) -> Response:
        return self.request("POST", path)

    def delete(self, path: str) -> Response:
        return self.request("DELETE", path)

    def patch(self, path: str, data: Any, content_type: str | None = "application/json") -> Response:
        """PATCH ``data`` serialized as JSON (``bytes``/``str`` are sent as they are)."""
        body = data if isinstance(data, bytes | str) else json.dumps(data)
        headers = {} if content_type is None else {"Content-Type": content_type}
        return self.request("PATCH", path, body, headers)

    def get_json(self, path: str) -> Any:
        """GET ``path``, expect 200 with a JSON body, return it parsed."""
        response = self.get(path)
        assert response.status == 200, f"GET {path} -> {response.status} {response.body!r}"
        assert response.content_type == "application/json", f"GET {path}: Content-Type {response.content_type}"
        return response.json()

    def patch_ok(self, path: str, data: Any) -> None:
        """PATCH ``data`` as JSON and expect 204 with an empty body."""
        response = self.patch(path, data)
        assert (response.status, response.body) == (204, b""), f"PATCH {path} -> {response.status} {response.body!r}"


# -- the server process ---------------------------------------------------------------------------
@dataclass
class ServerProcess:
    """The real ``apiserver`` on ``base``, started as ``python -m thar.apiserver``."""

    base: Path
    workdir: Path
    variant: str = "aws-dev"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def socket_path(self) -> Path:
        return self.workdir / "api.sock"

    @property
    def os_release(self) -> Path:
        return self.workdir / "os-release"

    @property
    def applier(self) -> Path:
        return self.workdir / "applier-stub"

    @property
    def applier_record(self) -> Path:
        return self.workdir / "applier-calls.jsonl"

    @property
    def applier_control(self) -> Path:
        return self.workdir / "applier-exit"

    @property
    def log_path(self) -> Path:
        return self.workdir / "apiserver.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def dispatcher(self) -> Path:
        return self.workdir / "dispatcher-stub"

    @property
    def dispatcher_record(self) -> Path:
        return self.workdir / "dispatcher-calls.jsonl"

    @property
    def dispatcher_control(self) -> Path:
        return self.workdir / "dispatcher-exit"

    @property
    def update_lock(self) -> Path:
        return self.workdir / "thar-be-updates.lock"

    @property
    def update_status(self) -> Path:
        return self.workdir / "update-status.json"

    def prepare(self) -> None:
        """Write the os-release file, the applier stub and the update dispatcher stub (once)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.os_release.exists():
            self.os_release.write_text(F0_OS_RELEASE)
        if not self.applier.exists():
            self.applier.write_text(
                _APPLIER_STUB.format(
                    python=sys.executable, record=str(self.applier_record), control=str(self.applier_control)
                )
            )
            self.applier.chmod(0o755)
        if not self.dispatcher.exists():
            self.dispatcher.write_text(
                _DISPATCHER_STUB.format(record=str(self.dispatcher_record), control=str(self.dispatcher_control))
            )
            self.dispatcher.chmod(0o755)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "thar.apiserver",
            "--datastore-path", str(self.base),
            "--socket-path", str(self.socket_path),
            "--os-release", str(self.os_release),
            "--arch", "x86_64",
            "--applier", str(self.applier),
            "--variant", self.variant,
            "--update-dispatcher", str(self.dispatcher),
            "--update-lock", str(self.update_lock),
            "--update-status", str(self.update_status),
        ]  # fmt: skip

    def start(self) -> ServerProcess:
        """Start the server and wait until its socket accepts connections."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the server process (without waiting for it)."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        assert len(str(self.socket_path)) < 100, f"socket path too long for AF_UNIX: {self.socket_path}"
        self.prepare()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def wait_ready(self) -> ServerProcess:
        """Wait until the launched server's socket accepts connections."""
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"apiserver exited with {self.proc.returncode} at start:\n{self.log()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.connect(str(self.socket_path))
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(f"apiserver did not accept connections:\n{self.log()}") from None
                time.sleep(0.005)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; the exit status (SIGKILL after ``timeout``, then it fails)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to end (it was signalled); its exit status. SIGKILL after
        ``timeout``, then it fails."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"apiserver still running {timeout}s after SIGTERM:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def client(self, *, persistent: bool = False) -> ApiClient:
        return ApiClient(self.socket_path, persistent=persistent)

    # -- the applier stub ------------------------------------------------------------------------
    def applier_calls(self) -> list[ApplierCall]:
        try:
            lines = self.applier_record.read_text().splitlines()
        except FileNotFoundError:
            return []
        calls = []
        for line in lines:
            record = json.loads(line)
            calls.append(ApplierCall(record["argv"], record["stdin"], record["stdin_pipe"]))
        return calls

    def set_applier(self, exit_code: int = 0, sleep: float = 0.0) -> None:
        """Make the applier stub exit with ``exit_code`` (after ``sleep`` seconds)."""
        self.applier_control.write_text(f"{exit_code} {sleep}\n")


class Api(ApiClient):
    """A client of one running server, which also reaches its files."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(server.socket_path)
        self.server = server
        self.base = server.base

    def applier_calls(self) -> list[ApplierCall]:
        return self.server.applier_calls()

    def set_applier(self, exit_code: int = 0, sleep: float = 0.0) -> None:
        self.server.set_applier(exit_code, sleep)


# -- fixtures -------------------------------------------------------------------------------------
MakeServer = Callable[..., ServerProcess]


class ServerPool:
    """Servers over fresh F0 datastores, one launched ahead of need: taking one launches the
    next, so a test's server start-up (~0.3 s of imports) overlaps the test before it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.spare: ServerProcess | None = None

    def _launch(self) -> ServerProcess:
        self.count += 1
        workdir = self.root / f"f0-{self.count}"
        server = ServerProcess(base=build_f0(workdir / "datastore"), workdir=workdir)
        server.launch()
        return server

    def take(self, link: Path) -> ServerProcess:
        """A started F0 server; ``link`` (in the test's tmp_path) points at its directory."""
        server, self.spare = self.spare or self._launch(), None
        server.wait_ready()
        link.symlink_to(server.workdir, target_is_directory=True)
        self.spare = self._launch()
        return server

    def close(self) -> None:
        if self.spare is not None:
            self.spare.kill()
            self.spare = None


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("f0"))
    yield pool
    pool.close()


def _server_factory(root: Path, pool: ServerPool) -> tuple[MakeServer, list[ServerProcess]]:
    servers: list[ServerProcess] = []

    def make(
        base: Path | None = None, *, live_files: bool = True, start: bool = True, name: str | None = None
    ) -> ServerProcess:
        """A server over ``base``, or over a new F0 datastore (empty live with
        ``live_files=False``); started unless ``start=False``. Its files are under
        ``root/name``."""
        name = name or f"server{len(servers)}"
        if base is None and live_files and start:
            server = pool.take(root / name)
        else:
            workdir = root / name
            if base is None:
                base = build_f0(workdir / "datastore", live_files=live_files)
            server = ServerProcess(base=base, workdir=workdir)
            server.prepare()
            if start:
                server.start()
        servers.append(server)
        return server

    return make, servers


def _stop_all(servers: list[ServerProcess]) -> None:
    for server in servers:
        if server.running():
            try:
                server.stop()
            except AssertionError:
                server.kill()


@pytest.fixture
def make_server(tmp_path: Path, server_pool: ServerPool) -> Iterator[MakeServer]:
    """A factory of servers (each in its own directory under ``tmp_path``); all are stopped
    at the end of the test (exit codes are the test's business)."""
    make, servers = _server_factory(tmp_path, server_pool)
    yield make
    _stop_all(servers)


def _finish(server: ServerProcess) -> None:
    code = server.stop()
    assert code == 0, f"apiserver exited {code} on SIGTERM:\n{server.log()}"


def read_live(base: Path) -> dict[str, str]:
    """Every file under ``base/live`` as ``{relative path: content}``."""
    live = base / "live"
    return {str(path.relative_to(live)): path.read_text() for path in sorted(live.rglob("*")) if path.is_file()}


@pytest.fixture
def api(tmp_path: Path, server_pool: ServerPool) -> Iterator[Api]:
    """A server over a fresh F0 datastore, for this test only; must exit 0 on SIGTERM."""
    make, servers = _server_factory(tmp_path, server_pool)
    server = make(name="server")
    try:
        yield Api(server)
    finally:
        try:
            _finish(server)
        finally:
            _stop_all(servers)


@pytest.fixture(scope="module")
def ro_api(tmp_path_factory: pytest.TempPathFactory, server_pool: ServerPool) -> Iterator[Api]:
    """A server over F0 shared by the module's read-only tests (they must change nothing)."""
    make, servers = _server_factory(tmp_path_factory.mktemp("ro-apiserver"), server_pool)
    server = make(name="server")
    try:
        yield Api(server)
    finally:
        try:
            _finish(server)
        finally:
            _stop_all(servers)
    # The tests sharing this server must have changed nothing.
    assert read_live(server.base) == dict(F0_LIVE)
    assert not (server.base / "pending").exists() or not any((server.base / "pending").iterdir())
