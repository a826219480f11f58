"""Property-based API testing: schemathesis drives a live apiserver with requests generated from
``openapi.yaml`` and checks every response against the same file.

The server is the real daemon (``python -m thar.apiserver``) on a Unix socket, over a datastore seeded
with the thar-dev variant's defaults. Schemathesis speaks HTTP through ``requests``; the session
handed to it carries an adapter that opens a connection to the socket instead of a TCP one, so
``http://localhost/...`` reaches the server and nothing listens on the network.

Checks: no 5xx, every status code documented, every body conforming to its documented schema and
media type. Runs are derandomized (the same examples every run) so CI is deterministic; set
``THAR_SCHEMATHESIS_RANDOM=1`` to explore with fresh examples (and ``THAR_SCHEMATHESIS_EXAMPLES=N`` for
more than 25 per operation).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Key, meta_key, to_json, to_pairs, to_pairs_with_prefix
from thar.models import load_variant

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
BASE_URL = "http://localhost"
WATCH_TIMEOUT = 0.05  # seconds: the longest a generated watch request may wait
MAX_EXAMPLES = int(os.environ.get("THAR_SCHEMATHESIS_EXAMPLES", "25"))
# A template (metadata ``template``) so that GET /metadata/templates has something to find.
TEMPLATES = {"settings.updates.metadata-base-url": "https://updates.thar.example/{{ os.variant_id }}/"}

schema = schemathesis.openapi.from_path(OPENAPI)
NOT_A_SERVER_ERROR: Callable[..., Any] = schemathesis.checks.not_a_server_error
CONFORMANCE: list[Callable[..., Any]] = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


# -- HTTP over the Unix socket ---------------------------------------------------------------------
class _UnixConnection(HTTPConnection):
    def __init__(self, socket_path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else 30)
        sock.connect(self.socket_path)
        self.sock = sock


class _UnixConnectionPool(HTTPConnectionPool):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def _new_conn(self) -> HTTPConnection:
        return _UnixConnection(self.socket_path, self.host, self.port, timeout=self.timeout.connect_timeout)


class UnixSocketAdapter(HTTPAdapter):
    """A requests transport adapter that sends every request to one Unix socket."""

    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        super().__init__()
        self.timeout = timeout
        self.pool = _UnixConnectionPool(str(socket_path), timeout)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        # Always a timeout: a hung server fails the test instead of hanging it.
        return super().send(request, stream, timeout or self.timeout, verify, cert, proxies)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> HTTPConnectionPool:
        return self.pool

    def close(self) -> None:
        self.pool.close()
        super().close()


def unix_session(socket_path: Path) -> requests.Session:
    """A session whose ``http://localhost`` requests go to ``socket_path``."""
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment
    session.mount(BASE_URL + "/", UnixSocketAdapter(socket_path))
    return session


# -- a seeded datastore and a live server ----------------------------------------------------------
def _metadata(node: Mapping[str, Any], at: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    """(data key segments, metadata name, value) for each entry of a defaults ``metadata`` table."""
    for name, value in node.items():
        if isinstance(value, dict) and not (name == "setting-generator" and at):
            yield from _metadata(value, (*at, name))
        else:
            yield at, name, value


def seed_datastore(base: Path) -> None:
    """Live data as storewolf and settings-committer leave it at boot: the thar-dev defaults."""
    defaults = load_variant(variants.path("thar-dev")).defaults
    base.mkdir(parents=True)
    store = FilesystemDataStore(base)
    try:
        store.set_keys(to_pairs_with_prefix("settings", defaults["settings"]), LIVE)
        others = {name: value for name, value in defaults.items() if name not in ("settings", "metadata")}
        store.set_keys(to_pairs(others), LIVE)
        for segments, name, value in _metadata(defaults.get("metadata", {}), ()):
            store.set_metadata(meta_key(name), Key.from_segments(segments), to_json(value))
        for key, template in TEMPLATES.items():
            store.set_metadata(meta_key("template"), Key(key), to_json(template))
    finally:
        store.close()


def _socket_dir(tmp: Path) -> Path:
    # sun_path holds at most 107 bytes: fall back to a short directory when pytest's is too long.
    if len(str(tmp / "api.sock")) < 100:
        return tmp
    return Path(tempfile.mkdtemp(prefix="thar-api-"))


@pytest.fixture(scope="module")
def api_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A live apiserver over a freshly seeded datastore; yields its socket."""
    tmp = tmp_path_factory.mktemp("api")
    datastore = tmp / "datastore"
    seed_datastore(datastore)
    os_release = tmp / "os-release"
    os_release.write_text((variants.path("thar-dev") / "os-release").read_text(encoding="utf-8"), encoding="utf-8")
    # The applier contract: read the keys on stdin (or nothing, with --all), fork, exit 0. An applier
    # that exits without reading (`true`) makes the server's stdin write race its exit.
    applier = tmp / "applier"
    applier.write_text("#!/bin/sh\nexec cat >/dev/null\n", encoding="utf-8")
    applier.chmod(0o755)
    # The update dispatcher: refuses every command as the update state would (exit 65: 409); no
    # status file, so GET /updates/status answers 404.
    dispatcher = tmp / "dispatcher"
    dispatcher.write_text("#!/bin/sh\nexit 65\n", encoding="utf-8")
    dispatcher.chmod(0o755)
    sock_dir = _socket_dir(tmp)
    sock = sock_dir / "api.sock"
    log = (tmp / "apiserver.log").open("wb")
    argv = [sys.executable, "-m", "thar.apiserver", "--datastore-path", str(datastore), "--socket-path", str(sock),
            "--os-release", str(os_release), "--arch", "x86_64", "--applier", str(applier), "--reboot-command", "true",
            "--variant", "thar-dev", "--log-level", "warn", "--update-dispatcher", str(dispatcher),
            "--update-lock", str(tmp / "update.lock"), "--update-status", str(tmp / "status.json")]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS")}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_serving(sock, proc)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if sock_dir != tmp:
            shutil.rmtree(sock_dir, ignore_errors=True)
        output = (tmp / "apiserver.log").read_text(errors="replace")
        if "Traceback" in output:
            pytest.fail(f"the apiserver logged an exception:\n{output}")


def _wait_until_serving(sock: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited with {proc.returncode} before serving")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(sock))
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"apiserver did not listen on {sock} within {timeout} s")


@pytest.fixture(scope="module")
def api(api_socket: Path) -> Iterator[requests.Session]:
    with unix_session(api_socket) as session:
        yield session


# -- the tests -------------------------------------------------------------------------------------
def test_session_reaches_the_server(api: requests.Session) -> None:
    response = api.get(BASE_URL + "/os")
    assert response.status_code == 200
    assert response.json()["variant_id"] == "thar-dev"


def test_what_the_description_promises(api: requests.Session) -> None:
    """openapi.yaml's description: unknown paths 404 with an empty body (a trailing slash makes an
    unknown path), and a known path with a method it does not serve 405 with ``Allow``."""
    for path in ("/no-such-path", "/settings/", "/settings/keypair/", "/updates/status/", "/exec/"):
        response = api.get(BASE_URL + path)
        assert (response.status_code, response.content) == (404, b""), path
    for path, item in schema.raw_schema["paths"].items():
        documented = {method.upper() for method in item}
        for method in sorted({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} - documented):
            response = api.request(method, BASE_URL + re.sub(r"\{[^}]*\}", "1", path))  # a path parameter: 1
            assert response.status_code == 405, (method, path)
            assert set(response.headers["Allow"].split(",")) == documented, (method, path)
            assert response.content == b"", (method, path)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("THAR_SCHEMATHESIS_RANDOM"),
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_openapi(case: schemathesis.Case[Any], api: requests.Session) -> None:
    if case.path == "/settings/watch":
        # A watch waits up to `timeout` seconds (60 by default) for a commit: keep each call short.
        query = dict(case.query or {})
        with contextlib.suppress(TypeError, ValueError):  # not a number: the server answers 400 at once
            query["timeout"] = min(float(query.get("timeout", WATCH_TIMEOUT)), WATCH_TIMEOUT)
        case.query = query
    response = case.call(base_url=BASE_URL, session=api)
    case.validate_response(response, checks=[NOT_A_SERVER_ERROR, *CONFORMANCE])
