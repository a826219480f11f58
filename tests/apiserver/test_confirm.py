"""Commit-confirmed (``POST /tx/commit_and_apply?confirm=SECONDS``, ``POST /tx/confirm``): a commit
not confirmed in time is reverted and re-applied — also when the server was killed and restarted
before (or after) the deadline, since the deadline is recorded durably."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import S_ALL, Api, MakeServer, ServerProcess

WAIT = 20.0  # seconds: the most a test waits for a revert before it fails


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def commit_confirmed(api: Api, settings: dict[str, Any], seconds: int, tx: str = "default") -> list[str]:
    api.patch_ok(f"/settings?tx={tx}", settings)
    response = api.post(f"/tx/commit_and_apply?tx={tx}&confirm={seconds}")
    assert response.status == 200, response.text
    keys: list[str] = response.json()
    return keys


def motd(api: Api) -> str:
    value: str = api.get_json("/settings?keys=settings.motd")["motd"]
    return value


def pending_file(server: ServerProcess) -> dict[str, float]:
    path = server.base / "confirm-pending.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_confirmed_commit_stays(api: Api) -> None:
    assert commit_confirmed(api, {"motd": "tentative"}, 600) == ["settings.motd"]
    assert list(pending_file(api.server)) == ["1"]  # recorded on disk, beside the journal
    response = api.post("/tx/confirm")
    assert (response.status, response.body) == (204, b"")
    assert pending_file(api.server) == {}
    response = api.post("/tx/confirm")
    assert (response.status, response.text) == (409, "No commit is waiting for confirmation")
    assert motd(api) == "tentative"
    assert [e["generation"] for e in api.get_json("/tx/history")] == [1]


def test_an_unconfirmed_commit_is_reverted_and_reapplied(api: Api) -> None:
    commit_confirmed(api, {"motd": "tentative", "kernel": {"sysctl": {"vm.swappiness": "1"}}}, 1)
    wait_until(lambda: motd(api) == "hello", "the revert")
    assert api.get_json("/settings") == S_ALL  # the key the commit created is gone again
    newest = api.get_json("/tx/history?limit=1")[0]
    assert newest["transaction"] == "thar-confirm-timeout-1"
    assert newest["caller"]["pid"] == api.server.pid  # the server itself made it
    assert newest["keys"] == ['settings.kernel.sysctl."vm.swappiness"', "settings.motd"]
    wait_until(lambda: len(api.applier_calls()) == 2, "the applier run of the revert")
    assert json.loads(api.applier_calls()[1].stdin or "null") == newest["keys"]
    assert pending_file(api.server) == {}


def test_a_key_changed_again_after_the_commit_is_not_reverted(api: Api) -> None:
    commit_confirmed(api, {"motd": "tentative", "ntp": {"time-servers": ["t.example"]}}, 1)
    api.patch_ok("/settings", {"motd": "changed since"})
    assert api.post("/tx/commit").status == 200
    wait_until(lambda: api.get_json("/settings")["ntp"] == S_ALL["ntp"], "the revert")
    assert motd(api) == "changed since"


def test_the_deadline_survives_a_kill_and_restart_before_it(make_server: MakeServer) -> None:
    server = make_server()
    api = Api(server)
    commit_confirmed(api, {"motd": "tentative"}, 2)
    server.kill()
    server.start()  # before the deadline: the restarted server waits for it, then reverts
    wait_until(lambda: motd(api) == "hello", "the revert after the restart")
    assert api.get_json("/tx/history?limit=1")[0]["transaction"] == "thar-confirm-timeout-1"


def test_a_deadline_that_passed_while_down_reverts_at_start(make_server: MakeServer) -> None:
    server = make_server()
    api = Api(server)
    commit_confirmed(api, {"motd": "tentative"}, 1)
    server.kill()
    deadline = pending_file(server)["1"]
    while time.time() <= deadline:
        time.sleep(0.05)
    server.start()
    wait_until(lambda: motd(api) == "hello", "the revert at start")
    assert pending_file(server) == {}


def test_a_failed_commit_leaves_no_deadline(api: Api) -> None:
    response = api.post("/tx/commit_and_apply?tx=empty&confirm=5")
    assert response.status == 422
    assert pending_file(api.server) == {}
    assert api.post("/tx/confirm").status == 409


@pytest.mark.parametrize("value", ["0", "86401", "-1", "soon", ""])
def test_confirm_must_be_1_to_86400_seconds(ro_api: Api, value: str) -> None:
    response = ro_api.post(f"/tx/commit_and_apply?tx=nothing-staged&confirm={value}")
    assert response.status == 400, response.text


def test_apiclient_set_confirm_and_confirm(api: Api) -> None:
    base = [sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path)]
    result = subprocess.run([*base, "set", "--confirm", "600", "motd=tentative"], capture_output=True, text=True,
                            timeout=30)  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert list(pending_file(api.server)) == ["1"]
    result = subprocess.run([*base, "confirm"], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (0, "")
    assert pending_file(api.server) == {}
    result = subprocess.run([*base, "confirm"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("No commit is waiting") and "(Failed to confirm: " in result.stderr


def test_a_deadline_for_a_commit_that_never_happened_is_dropped_at_start(make_server: MakeServer) -> None:
    """The deadline is written before the commit; a crash in between leaves one for a generation
    the journal does not hold, which the next start drops instead of reverting anything."""
    server = make_server(start=False)
    (server.base / "confirm-pending.json").write_text(json.dumps({"1": time.time() - 5}))
    server.start()
    api = Api(server)
    assert pending_file(server) == {}
    assert api.get_json("/settings") == S_ALL
    assert api.get_json("/tx/history") == []
