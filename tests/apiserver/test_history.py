"""History and audit (``GET /tx/history``, ``GET /tx/history/{generation}``) and rollback in place
(``POST /tx/rollback?to=N``), end to end against the real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import jsonpatch
import pytest

from .conftest import S_ALL, Api

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def commit(api: Api, settings: dict[str, Any], tx: str = "default") -> list[str]:
    api.patch_ok(f"/settings?tx={tx}", settings)
    response = api.post(f"/tx/commit_and_apply?tx={tx}")
    assert response.status == 200, response.text
    keys: list[str] = response.json()
    return keys


def history(api: Api, query: str = "") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = api.get_json("/tx/history" + query)
    return entries


def test_a_fresh_datastore_has_no_history(api: Api) -> None:
    assert history(api) == []


def test_each_commit_is_a_generation_newest_first_with_caller_and_keys(api: Api) -> None:
    commit(api, {"motd": "one"}, tx="first")
    commit(api, {"motd": "two", "ntp": {"time-servers": ["a.example"]}}, tx="second")
    entries = history(api)
    assert [e["generation"] for e in entries] == [2, 1]
    assert [e["transaction"] for e in entries] == ["second", "first"]
    assert entries[0]["keys"] == ["settings.motd", "settings.ntp.time-servers"]
    assert entries[1]["keys"] == ["settings.motd"]
    for entry in entries:
        assert RFC3339.fullmatch(entry["time"]), entry["time"]
        # The caller is this test process, as the socket's peer credentials say.
        assert entry["caller"] == {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid()}


def test_history_filters_limit_before_prefix(api: Api) -> None:
    for n in range(4):
        commit(api, {"motd": f"m{n}"} if n % 2 == 0 else {"ntp": {"time-servers": [f"s{n}.example"]}})
    assert [e["generation"] for e in history(api, "?limit=2")] == [4, 3]
    assert [e["generation"] for e in history(api, "?before=3")] == [2, 1]
    assert [e["generation"] for e in history(api, "?prefix=ntp")] == [4, 2]
    assert [e["generation"] for e in history(api, "?prefix=settings.motd&limit=1")] == [3]
    assert history(api, "?prefix=kernel") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=x", "Input 'limit' must be a whole number from 0 to 4611686018427387904, not 'x'"),
        ("?before=-1", "Input 'before' must be a whole number from 0 to 4611686018427387904, not '-1'"),
        ("?prefix=", "Input 'prefix' cannot be empty"),
    ],
)
def test_history_rejects_bad_filters(ro_api: Api, query: str, message: str) -> None:
    response = ro_api.get("/tx/history" + query)
    assert (response.status, response.text) == (400, message)


def test_a_generation_is_a_json_patch_that_turns_before_into_after(api: Api) -> None:
    before = api.get_json("/settings")
    commit(api, {"motd": "patched", "ntp": {"time-servers": ["a.example", "b.example"]},
                 "kernel": {"sysctl": {"vm.max_map_count": "262144"}}})  # fmt: skip
    after = api.get_json("/settings")
    patch = api.get_json("/tx/history/1")
    assert {op["op"] for op in patch} <= {"add", "replace", "remove"}
    assert {"op": "replace", "path": "/motd", "value": "patched"} in patch
    assert {"op": "add", "path": "/kernel/sysctl/vm.max_map_count", "value": "262144"} in patch
    assert jsonpatch.apply_patch(before, patch) == after
    # A later commit does not change what generation 1 was.
    commit(api, {"motd": "later"})
    assert api.get_json("/tx/history/1") == patch
    assert jsonpatch.apply_patch(after, api.get_json("/tx/history/2")) == api.get_json("/settings")


def test_an_unknown_generation_is_404(ro_api: Api) -> None:
    response = ro_api.get("/tx/history/7")
    assert (response.status, response.text) == (404, "Generation 7 is not in the history (newest is 0)")
    response = ro_api.get("/tx/history/seven")
    assert response.status == 400


# -- rollback -------------------------------------------------------------------------------------
def test_rollback_restores_generation_n_as_a_new_generation_and_applies(api: Api) -> None:
    commit(api, {"motd": "one"})
    at_one = api.get_json("/settings")
    commit(api, {"motd": "two", "kernel": {"sysctl": {"vm.swappiness": "10"}}})
    commit(api, {"ntp": {"time-servers": ["c.example"]}})
    api.applier_calls()  # the commits' own applier runs
    calls_before = len(api.applier_calls())
    response = api.post("/tx/rollback?to=1")
    assert response.status == 200
    keys = response.json()
    assert keys == ['settings.kernel.sysctl."vm.swappiness"', "settings.motd", "settings.ntp.time-servers"]
    assert api.get_json("/settings") == at_one  # the key created after 1 is gone
    newest = history(api, "?limit=1")[0]
    assert (newest["generation"], newest["transaction"], newest["keys"]) == (4, "thar-rollback-to-1", keys)
    calls = api.applier_calls()[calls_before:]
    assert len(calls) == 1 and json.loads(calls[0].stdin or "null") == keys


def test_a_rollback_can_be_rolled_back(api: Api) -> None:
    commit(api, {"motd": "one"})
    commit(api, {"motd": "two"})
    at_two = api.get_json("/settings")
    assert api.post("/tx/rollback?to=0").json() == ["settings.motd"]
    assert api.get_json("/settings") == S_ALL  # generation 0: F0 as it was
    assert api.post("/tx/rollback?to=2").json() == ["settings.motd"]
    assert api.get_json("/settings") == at_two


def test_rollback_to_the_current_state_changes_nothing(api: Api) -> None:
    commit(api, {"motd": "one"})
    assert api.post("/tx/rollback?to=1").json() == []
    assert [e["generation"] for e in history(api)] == [1]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, "Missing required input 'to'"),
        ("?to=", 400, "Input 'to' cannot be empty"),
        ("?to=abc", 400, "Input 'to' must be a whole number from 0 to 4611686018427387904, not 'abc'"),
        ("?to=3", 404, "Generation 3 is not in the history (newest is 0)"),
    ],
)
def test_rollback_rejects_bad_generations(ro_api: Api, query: str, status: int, message: str) -> None:
    response = ro_api.post("/tx/rollback" + query)
    assert (response.status, response.text) == (status, message)


# -- apiclient ------------------------------------------------------------------------------------
def apiclient(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), *args],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def test_apiclient_history_rollback(api: Api) -> None:
    commit(api, {"motd": "one"}, tx="first")
    commit(api, {"motd": "two", "ntp": {"time-servers": ["a.example"]}}, tx="second")
    result = apiclient(api, "history")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["GEN", "TIME", "(UTC)", "TRANSACTION", "CALLER", "KEYS"]
    assert lines[1].split()[0] == "2" and lines[1].endswith("motd, ntp.time-servers")
    assert "second" in lines[1] and f"uid {os.getuid()} pid {os.getpid()}" in lines[1]
    assert lines[2].split()[0] == "1" and lines[2].endswith("motd")
    result = apiclient(api, "history", "--prefix", "ntp")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["2"]
    result = apiclient(api, "history", "2")
    assert json.loads(result.stdout) == api.get_json("/tx/history/2")
    result = apiclient(api, "rollback", "1")
    assert (result.returncode, result.stdout) == (0, "")
    assert api.get_json("/settings")["motd"] == "one"
    result = apiclient(api, "rollback", "9")
    assert result.returncode == 1
    assert result.stderr == (
        "Generation 9 is not in the history (newest is 3) "
        "(Failed to roll back: Failed POST request to '/tx/rollback?to=9', status 404)\n"
    )
