"""``GET /exec``'s WebSocket protocol, in process: ``make_app`` driven by aiohttp's test client, the
server's ``ctr`` a stand-in script that answers ``tasks ls`` / ``containers ls`` as a containerd
with the containers ``box`` (running), ``stopped`` and ``idle`` (no task) would, and runs ``task
exec``'s command here. The real containerd is in tests/apiclient/test_exec.py."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from thar.apiserver import peer
from thar.apiserver.exec import (
    CAPACITY_UPDATE_INTERVAL,
    HEARTBEAT_INTERVAL,
    MAX_MESSAGES_OUTSTANDING,
    ExecConfig,
    InvalidMessage,
    parse_client_message,
)
from thar.apiserver.exec_child import ExecRequest, Size
from thar.apiserver.policy import parse_policy
from thar.apiserver.routes import ServerConfig
from thar.apiserver.server import make_app
from thar.datastore import Caller

from .test_handlers import f0_controller

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]

CTR_STUB = """#!/bin/sh
# A stand-in for containerd's ctr: records its arguments and environment, one line each.
printf '%s\\n' "$*" >> {record}
env | sort | tr '\\n' ' ' >> {record}; echo >> {record}
while [ $# -gt 0 ]; do case "$1" in -a|-n) shift 2;; *) break;; esac; done
case "$1 $2" in
"tasks ls") printf 'TASK    PID    STATUS\\nbox     10     RUNNING\\nstopped 11     STOPPED\\n'; exit 0;;
"containers ls") printf 'box\\nstopped\\nidle\\n'; exit 0;;
"task kill") exit 0;;
"task exec") shift 2;;
*) echo "ctr: unknown command $*" >&2; exit 1;;
esac
while :; do case "$1" in --exec-id|--fifo-dir) shift 2;; --tty) shift;; *) break;; esac; done
shift  # the container
echo $$ > {pid}
exec "$@"
"""


def init(command: list[Any], target: str = "box", tty: Any = None) -> str:
    return json.dumps({"Initialize": {"command": command, "target": target, "tty": tty}})


def unix(arg: str) -> dict[str, list[int]]:
    return {"Unix": list(arg.encode())}


@pytest_asyncio.fixture
async def make_client(tmp_path: Path, aiohttp_client: Any) -> MakeClient:
    async def make(**config: Any) -> Client:
        socket = tmp_path / "host-containerd" / "containerd.sock"
        socket.parent.mkdir(exist_ok=True)
        socket.touch()
        stub = tmp_path / "ctr"
        stub.write_text(CTR_STUB.format(record=tmp_path / "ctr-calls", pid=tmp_path / "pid"))
        stub.chmod(0o755)
        config = {"applier": ("true",), "exec": ExecConfig(socket=socket, ctr=str(stub)), **config}
        client: Client = await aiohttp_client(make_app(f0_controller(tmp_path), ServerConfig(**config)))
        return client

    return make


@pytest_asyncio.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


Close = tuple[int | None, str | None]


async def until_closed(
    ws: Any, on_output: Callable[[bytes], Awaitable[None]] | None = None
) -> tuple[bytes, list[Any], Close]:
    """Read ``ws`` to its close: the output, the control messages, the close's (code, reason)."""
    output, controls = b"", []
    while True:
        message = await ws.receive()
        if message.type is WSMsgType.BINARY:
            output += message.data
            if on_output is not None:
                await on_output(output)
        elif message.type is WSMsgType.TEXT:
            controls.append(json.loads(message.data))
        elif message.type is WSMsgType.CLOSE:
            return output, controls, (message.data, message.extra)
        elif message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return output, controls, (ws.close_code, None)


async def session(client: Client, *messages: str, binary: tuple[bytes, ...] = ()) -> tuple[bytes, list[Any], Close]:
    """Open /exec, send ``messages`` (text) then ``binary``; return what ``until_closed`` does."""
    async with client.ws_connect("/exec") as ws:
        for text in messages:
            await ws.send_str(text)
        for data in binary:
            await ws.send_bytes(data)
        return await until_closed(ws)


# -- messages -------------------------------------------------------------------------------------
def test_client_messages_are_bottlerocket_s_serde_enums() -> None:
    assert parse_client_message('"ContentComplete"') is None
    assert parse_client_message('{"Winch": {"rows": 24, "cols": 80}}') == Size(24, 80)
    assert parse_client_message(init([unix("ls"), unix("-l")])) == ExecRequest("box", (b"ls", b"-l"))
    assert parse_client_message(init(["ls", {"Unix": [255]}], tty={"size": None})) == ExecRequest(
        "box", (b"ls", b"\xff"), True, None
    )
    with_size = init(["sh"], "admin", {"size": {"rows": 1, "cols": 2}})
    assert parse_client_message(with_size) == ExecRequest("admin", (b"sh",), True, Size(1, 2))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{", "Expecting property name"),
        ('"Hello"', "expected `Initialize`, `ContentComplete` or `Winch`"),
        ('{"Run": {}}', "unknown variant `Run`"),
        ('{"Initialize": {"command": ["ls"]}}', "missing field `target`"),
        (init([]), "`command` must be a non-empty array"),
        (init(["ls"], target="../etc"), 'Initialize: `target` "../etc" is not a container name'),
        (init(["ls"], target="-d"), "is not a container name"),
        (init([{"Unix": [256]}]), "command[0]: expected a string"),
        (init(["sh"], tty={"size": {"rows": 70000, "cols": 1}}), "`rows` must be a whole number from 0 to 65535"),
        ('{"Winch": {"rows": 1}}', 'Winch: expected {"rows": R, "cols": C}'),
    ],
)
def test_malformed_client_messages_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(InvalidMessage) as raised:
        parse_client_message(text)
    assert why in str(raised.value)


# -- the route ------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_get_that_is_not_an_upgrade_is_400_with_an_empty_body(client: Client) -> None:
    async with client.get("/exec") as response:
        assert (response.status, await response.read()) == (400, b"")
    async with client.post("/exec") as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET")


@pytest.mark.asyncio
async def test_protocol_errors_close_with_bottlerocket_s_codes(client: Client) -> None:
    _, controls, close = await session(client, binary=(b"ls\n",))
    assert controls == [{"Capacity": {"max_messages_outstanding": 1024, "messages_written": 0}}]
    assert close == (1008, "process data sent before initialization")
    assert (await session(client, '"ContentComplete"'))[2] == (1008, "ContentComplete sent before initialization")
    code, reason = (await session(client, "not json"))[2]
    assert code == 1007 and reason is not None and reason.startswith("invalid JSON in client message: Expecting value")


@pytest.mark.asyncio
async def test_the_exit_status_is_the_close_reason_after_the_output(client: Client) -> None:
    output, _, close = await session(client, init([unix("sh"), unix("-c"), unix("echo out; echo err >&2; exit 3")]))
    assert (sorted(output.splitlines()), close) == ([b"err", b"out"], (1000, "3"))
    assert (await session(client, init(["sh", "-c", "kill -TERM $$"])))[2] == (1000, "143")


@pytest.mark.asyncio
async def test_ctr_runs_the_command_as_bottlerocket_runs_it(client: Client, tmp_path: Path) -> None:
    await session(client, init(["true"]))
    await session(client, init(["sh", "-c", "sleep 0.2"], tty={"size": None}))
    calls = (tmp_path / "ctr-calls").read_text().splitlines()
    socket = tmp_path / "host-containerd" / "containerd.sock"
    fifo = socket.parent / "fifo"
    execs = [calls[i : i + 2] for i in range(0, len(calls), 2) if " task exec " in calls[i]]
    assert [argv for argv, _ in execs] == [
        f"-a {socket} -n default task exec --exec-id {execs[0][0].split()[7]} --fifo-dir {fifo} box true",
        f"-a {socket} -n default task exec --exec-id {execs[1][0].split()[7]} --fifo-dir {fifo} --tty box sh -c "
        "sleep 0.2",
    ]
    assert all(re.fullmatch(r"apiexec-[A-Za-z0-9]{16}", argv.split()[7]) for argv, _ in execs)
    # the environment: TERM=screen and what the shell adds itself
    assert all("TERM=screen" in env.split() and "HOME=" not in env for _, env in execs)


@pytest.mark.asyncio
async def test_a_target_that_is_not_running_is_named(client: Client, make_client: MakeClient, tmp_path: Path) -> None:
    for target, reason in [
        ("stopped", "container 'stopped' is not running (its task is STOPPED)"),
        ("idle", "container 'idle' is not running (it has no task)"),
        ("nope", "no container 'nope'"),
    ]:
        assert (await session(client, init(["true"], target)))[2] == (1011, f"failed to spawn process: {reason}")
    missing = tmp_path / "gone" / "containerd.sock"
    other = await make_client(exec=ExecConfig(socket=missing, ctr=str(tmp_path / "ctr")))
    reason = f"failed to spawn process: containerd socket {missing} does not exist (is host-containerd running?)"
    assert (await session(other, init(["true"])))[2] == (1011, reason.encode()[:120].decode() + "…")


@pytest.mark.asyncio
async def test_capacity_updates_acknowledge_the_input_written(client: Client) -> None:
    count = 2 * CAPACITY_UPDATE_INTERVAL + 10
    async with client.ws_connect("/exec") as ws:
        await ws.send_str(init(["cat"]))
        for _ in range(count):
            await ws.send_bytes(b"x")
        await ws.send_str('"ContentComplete"')
        output, controls, close = await until_closed(ws)
        written = [control["Capacity"]["messages_written"] for control in controls]
        assert (output, written, close) == (b"x" * count, [0, 128, 256], (1000, "0"))


@pytest.mark.asyncio
async def test_a_client_ignoring_capacity_is_closed(client: Client, tmp_path: Path) -> None:
    # sleep never reads its input: the pipe fills, nothing more is written, and the server's
    # patience ends at MAX_MESSAGES_OUTSTANDING (+1 being written) unacknowledged messages.
    async with client.ws_connect("/exec") as ws:
        await ws.send_str(init(["sleep", "30"]))
        pid = await _started(tmp_path)
        for _ in range(MAX_MESSAGES_OUTSTANDING + 40):
            await ws.send_bytes(b"y" * 4096)
        close = (await until_closed(ws))[2]
        assert close == (1009, "write buffer full; obey capacity updates")
    await _gone(pid)


async def _started(tmp_path: Path) -> int:
    """The pid of the command the stand-in ctr runs, once it has started."""
    pid_file = tmp_path / "pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError("the command never started")


async def _gone(pid: int, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert loop.time() < deadline, f"process {pid} still runs"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_a_client_that_goes_away_has_its_process_stopped(client: Client, tmp_path: Path) -> None:
    ws = await client.ws_connect("/exec")
    await ws.send_str(init(["sleep", "30"]))
    pid = await _started(tmp_path)
    await ws.close()
    await _gone(pid)  # SIGTERM to ctr (here, the command itself)


@pytest.mark.asyncio
async def test_a_pty_of_the_client_s_size_follows_its_resizes(client: Client) -> None:
    async with client.ws_connect("/exec") as ws:
        await ws.send_str(
            init(["sh", "-c", "stty size; read line; stty size"], tty={"size": {"rows": 30, "cols": 100}})
        )
        resized = False

        async def resize_after_the_first_size(output: bytes) -> None:
            nonlocal resized
            if not resized and re.search(rb"30 100\r?\n", output):
                resized = True
                await ws.send_str('{"Winch": {"rows": 50, "cols": 120}}')
                await ws.send_bytes(b"\r")

        output, _, close = await until_closed(ws, resize_after_the_first_size)
        assert close == (1000, "0")
        assert re.fullmatch(rb"30 100\r\n\r\n50 120\r\n", output), output


@pytest.mark.asyncio
async def test_the_server_answers_pings_and_pings_every_2_s(client: Client) -> None:
    async with client.ws_connect("/exec", autoping=False) as ws:
        await ws.receive()  # the first capacity update
        await ws.ping(b"hb")
        message = await ws.receive()
        assert (message.type, message.data) == (WSMsgType.PONG, b"hb")
        message = await ws.receive(timeout=HEARTBEAT_INTERVAL + 1)
        assert message.type is WSMsgType.PING


@pytest.mark.asyncio
async def test_stopping_the_server_closes_the_sessions_and_stops_their_processes(
    client: Client, tmp_path: Path
) -> None:
    async with client.ws_connect("/exec") as ws:
        await ws.send_str(init(["sleep", "30"]))
        pid = await _started(tmp_path)
        shutdown = asyncio.create_task(client.app.shutdown())
        assert (await until_closed(ws))[2] == (1001, "apiserver is stopping")
        await shutdown
    await _gone(pid)


@pytest.mark.asyncio
async def test_under_a_policy_only_admins_may_exec(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = parse_policy(
        {"default": "reader", "rule": [{"name": "ops", "uids": [1200], "role": "operator", "prefixes": ["motd"]},
                                       {"name": "root", "uids": [0], "role": "admin"}]}, "p",
    )  # fmt: skip
    client = await make_client(policy=policy)
    who = [Caller(uid=1300, gid=1300, pid=1)]
    monkeypatch.setattr(peer, "caller", lambda request: who[0])
    for uid, rule in ((1300, "the default of p (no rule matches)"), (1200, "rule 'ops' of p")):
        who[0] = Caller(uid=uid, gid=uid, pid=1)
        async with client.get("/exec", headers={"Upgrade": "websocket", "Connection": "Upgrade"}) as response:
            assert response.status == 403
            assert (await response.text()).endswith(f"by {rule}: may not GET /exec (admins only)")
    who[0] = Caller(uid=0, gid=0, pid=1)
    assert (await session(client, init(["true"])))[2] == (1000, "0")
