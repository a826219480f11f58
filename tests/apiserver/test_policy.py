"""Access control per caller (``apiserver --policy FILE``), end to end over a real socket, in two
ways. ``setuid``: real processes under other uids — when the suite runs as root, each request is
sent by a forked child that has dropped to the uid and gid under test before it connects, and the
server reads them from the socket (SO_PEERCRED) exactly as it would for any other program.
``injected``: the same requests from this process, the uid and gid injected at the transport
boundary (``peer_injecting_apiserver.py``), which any machine can run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from thar.apiclient.client import raw_request_unchecked
from thar.apiserver.policy import ADMIN, OPERATOR, READER, PolicyError, parse_policy
from thar.datastore import Caller, Key

from .conftest import S_ALL, ServerProcess, build_f0
from .peer_injecting_apiserver import HEADER

SOCKET_GID = 4400
INJECTOR = Path(__file__).with_name("peer_injecting_apiserver.py")
# The admin rule names this process's uid, so that the test's own client (no injected
# credentials) is an admin in both ways of sending.
ROOT = os.geteuid()
OPERATOR_UID, READER_UID, READER_GID, STRANGER = 4201, 4202, 4300, 4203

POLICY = f"""
default = "none"

[[rule]]
name = "root"
uids = [{ROOT}]
role = "admin"

[[rule]]
name = "ntp-operators"
uids = [{OPERATOR_UID}]
role = "operator"
prefixes = ["ntp", "settings.motd"]

[[rule]]
name = "readers"
gids = [{READER_GID}]
role = "reader"
"""

MODES = [
    pytest.param(
        "setuid",
        marks=pytest.mark.skipif(os.geteuid() != 0, reason="sending as other uids needs root (setuid in a child)"),
    ),
    "injected",
]


@dataclass
class PolicyServer(ServerProcess):
    """A server with a policy, its socket in a directory every uid can reach (group SOCKET_GID)."""

    sock_dir: Path = Path()
    policy: str | None = None
    mode: str = "setuid"

    @property
    def socket_path(self) -> Path:
        return self.sock_dir / "api.sock"

    def command(self) -> list[str]:
        extra = [] if self.policy is None else ["--policy", str(self.workdir / "policy.toml")]
        base = super().command()
        if self.mode == "injected":
            assert base[1:3] == ["-m", "thar.apiserver"]
            return [base[0], str(INJECTOR), *base[3:], *extra]
        return [*base, *extra, "--socket-gid", str(SOCKET_GID)]


def _serve(tmp_path: Path, policy: str | None, mode: str) -> Iterator[PolicyServer]:
    sock_dir = Path(tempfile.mkdtemp(prefix="thar-policy-"))
    sock_dir.chmod(0o755)
    workdir = tmp_path / "server"
    server = PolicyServer(
        base=build_f0(workdir / "datastore"), workdir=workdir, sock_dir=sock_dir, policy=policy, mode=mode
    )
    server.prepare()
    if policy is not None:
        (workdir / "policy.toml").write_text(policy)
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)
        assert code == 0, server.log()


@pytest.fixture(params=MODES)
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PolicyServer]:
    yield from _serve(tmp_path, POLICY, request.param)


@pytest.fixture(params=MODES)
def open_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PolicyServer]:
    yield from _serve(tmp_path, None, request.param)


def send_injected(
    server: PolicyServer, uid: int, gid: int, method: str, uri: str, body: str | None = None
) -> tuple[int, str]:
    """One request from this process, with ``uid``/``gid`` injected as the caller."""
    headers = {HEADER: f"{uid},{gid}", "Content-Type": "application/json"}
    response = server.client().request(method, uri, body, headers)
    return response.status, response.text


def send_as(
    server: PolicyServer, uid: int, gid: int, method: str, uri: str, body: str | None = None
) -> tuple[int, str]:
    """One request from a caller running as ``uid``/``gid`` (a child process that became them, or
    injected credentials, as the server's mode says)."""
    if server.mode == "injected":
        return send_injected(server, uid, gid, method, uri, body)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the caller under test, then connect and send
        code = 0
        try:
            os.close(read_end)
            os.setgroups([SOCKET_GID])
            os.setgid(gid)
            os.setuid(uid)
            answer = raw_request_unchecked(server.socket_path, uri, method, body)
            os.write(write_end, json.dumps(answer).encode())
        except BaseException as exc:
            os.write(write_end, json.dumps([-1, repr(exc)]).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    status, text = json.loads(data)
    assert status != -1, text
    return int(status), str(text)


def reader(server: PolicyServer, method: str, uri: str, body: str | None = None) -> tuple[int, str]:
    return send_as(server, READER_UID, READER_GID, method, uri, body)


def operator(server: PolicyServer, method: str, uri: str, body: str | None = None) -> tuple[int, str]:
    return send_as(server, OPERATOR_UID, OPERATOR_UID, method, uri, body)


def stranger(server: PolicyServer, method: str, uri: str, body: str | None = None) -> tuple[int, str]:
    return send_as(server, STRANGER, STRANGER, method, uri, body)


# -- end to end -----------------------------------------------------------------------------------
def test_a_reader_may_read_only(server: PolicyServer) -> None:
    status, text = reader(server, "GET", "/settings")
    assert (status, json.loads(text)) == (200, S_ALL)
    assert reader(server, "GET", "/tx/history")[0] == 200
    status, text = reader(server, "PATCH", "/settings", '{"motd": "no"}')
    assert status == 403
    assert text == (
        f"Forbidden: uid {READER_UID}, gid {READER_GID}, role 'reader' by rule 'readers' of "
        f"{server.workdir / 'policy.toml'}: may not PATCH /settings"
    )
    assert reader(server, "POST", "/tx/commit")[0] == 403


def test_an_operator_may_change_its_prefixes_only(server: PolicyServer) -> None:
    assert operator(server, "PATCH", "/settings?tx=op", '{"ntp": {"time-servers": ["op.example"]}, "motd": "op"}') == (
        204,
        "",
    )
    status, text = operator(server, "POST", "/tx/commit_and_apply?tx=op")
    assert (status, json.loads(text)) == (200, ["settings.motd", "settings.ntp.time-servers"])
    status, text = operator(server, "PATCH", "/settings?tx=op2", '{"kernel": {"lockdown": "none"}}')
    assert status == 403
    assert text.endswith(
        "role 'operator' by rule 'ntp-operators' of "
        f"{server.workdir / 'policy.toml'}: may not change 'settings.kernel.lockdown' "
        "(allowed prefixes: settings.ntp, settings.motd)"
    )
    assert operator(server, "PATCH", "/settings/keypair?tx=op2", '{"request_payload": ["updates.seed=1"]}')[0] == 403
    assert operator(server, "DELETE", "/settings?keys=kernel&tx=op2")[0] == 403
    assert operator(server, "POST", "/tx/rollback?to=0")[0] == 403  # rollback and reboot: admins only
    assert operator(server, "POST", "/actions/reboot")[0] == 403
    client = server.client()
    assert client.get_json("/tx?tx=op2") == {}  # nothing was staged


def test_an_operator_cannot_commit_what_someone_else_staged_outside_its_prefixes(server: PolicyServer) -> None:
    client = server.client()  # this test process: root, an admin
    client.patch_ok("/settings?tx=shared", {"kernel": {"lockdown": "none"}})
    status, text = operator(server, "POST", "/tx/commit?tx=shared")
    assert status == 403 and "may not change 'settings.kernel.lockdown'" in text
    assert operator(server, "DELETE", "/tx?tx=shared")[0] == 403  # nor discard it
    assert client.get_json("/settings") == S_ALL
    assert client.post("/tx/commit?tx=shared").status == 200  # the admin may
    operator(server, "PATCH", "/settings?tx=mine", '{"motd": "mine"}')
    assert operator(server, "DELETE", "/tx?tx=mine") == (200, '["settings.motd"]')  # its own, it may


def test_a_caller_no_rule_matches_gets_the_default_role(server: PolicyServer) -> None:
    status, text = stranger(server, "GET", "/settings")
    assert status == 403
    assert text == (
        f"Forbidden: uid {STRANGER}, gid {STRANGER}, role 'none' by the default of "
        f"{server.workdir / 'policy.toml'} (no rule matches): may not GET /settings"
    )


def test_denials_are_logged_and_counted(server: PolicyServer) -> None:
    stranger(server, "GET", "/os")
    reader(server, "POST", "/tx/commit")
    assert server.log().count("Denied ") == 2
    metrics = server.client().get("/metrics").text
    assert "thar_access_denied_total 2.0" in metrics


def test_without_a_policy_every_caller_is_an_admin(open_server: PolicyServer) -> None:
    assert stranger(open_server, "PATCH", "/settings", '{"motd": "anyone"}') == (204, "")
    assert stranger(open_server, "POST", "/tx/commit")[0] == 200
    assert stranger(open_server, "POST", "/tx/rollback?to=0")[0] == 200


def test_a_bad_policy_stops_the_server_at_start(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text('[[rule]]\nuids = [1]\nrole = "superuser"\n')
    build_f0(tmp_path / "datastore")
    result = subprocess.run(
        [sys.executable, "-m", "thar.apiserver", "--datastore-path", str(tmp_path / "datastore"),
         "--socket-path", str(tmp_path / "api.sock"), "--policy", str(tmp_path / "policy.toml")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{tmp_path / 'policy.toml'}: rule 1: 'role' must be one of admin, operator, reader, none, not 'superuser'"
    )


# -- the policy's rules ---------------------------------------------------------------------------
def test_first_matching_rule_decides() -> None:
    policy = parse_policy(
        {"rule": [{"uids": [5], "role": "reader"}, {"gids": [5], "role": "operator", "prefixes": ["motd"]}]}, "p"
    )
    assert policy.access(Caller(5, 5, 1)).role == READER
    access = policy.access(Caller(6, 5, 1))
    assert (access.role, access.prefixes) == (OPERATOR, (Key("settings.motd"),))
    assert policy.access(Caller(7, 7, 1)).role == "none"
    assert parse_policy({"default": "admin"}, "p").access(None).role == ADMIN


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"rules": []}, "unknown top-level entries ['rules']"),
        ({"rule": [{"role": "reader"}]}, "give 'uids' or 'gids'"),
        ({"rule": [{"uids": [1], "role": "operator"}]}, "an operator needs 'prefixes'"),
        ({"rule": [{"uids": [1], "role": "reader", "prefixes": ["motd"]}]}, "only apply to the operator role"),
        ({"rule": [{"uids": ["1"], "role": "reader"}]}, "'uids' must be a list of integers"),
        ({"rule": [{"uids": [1], "role": "operator", "prefixes": ["a..b"]}]}, "is not a valid key"),
    ],
)
def test_policy_problems_are_named(data: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(data, "p")
