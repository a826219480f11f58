"""Reset to default (``DELETE /settings``, ``apiclient unset``) and JSON Patch input
(``PATCH /settings`` as ``application/json-patch+json``, ``apiclient set --patch``), end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from thar import variants
from thar.models import load_variant

from .conftest import S_ALL, Api, MakeServer, ServerProcess

JSON_PATCH = "application/json-patch+json"
DEV_DEFAULTS: dict[str, Any] = load_variant(variants.path("thar-dev")).defaults["settings"]


@pytest.fixture
def dev_api(make_server: MakeServer) -> Iterator[Api]:
    """F0's datastore served with the thar-dev variant's model and defaults (motd, ntp, host containers…)."""
    server: ServerProcess = make_server(start=False, name="thar-dev")
    server.variant = "thar-dev"
    server.start()
    yield Api(server)


def commit(api: Api, tx: str = "default") -> list[str]:
    response = api.post(f"/tx/commit_and_apply?tx={tx}")
    assert response.status == 200, response.text
    keys: list[str] = response.json()
    return keys


def apiclient(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thar.apiclient", "-s", str(api.server.socket_path), *args],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


# -- reset ----------------------------------------------------------------------------------------
def test_a_setting_with_a_default_returns_to_it(dev_api: Api) -> None:
    response = dev_api.request("DELETE", "/settings?keys=motd,settings.ntp.time-servers&tx=r")
    assert (response.status, response.body) == (204, b"")
    expected = {"motd": DEV_DEFAULTS["motd"], "ntp": {"time-servers": DEV_DEFAULTS["ntp"]["time-servers"]}}
    assert dev_api.get_json("/tx?tx=r") == expected
    assert commit(dev_api, "r") == ["settings.motd", "settings.ntp.time-servers"]
    settings = dev_api.get_json("/settings")
    assert (settings["motd"], settings["ntp"]["time-servers"]) == (expected["motd"], expected["ntp"]["time-servers"])


def test_a_setting_without_a_default_disappears_and_history_shows_it(dev_api: Api) -> None:
    assert commit_patch(dev_api, {"kernel": {"sysctl": {"vm.swappiness": "10"}}}) == [
        'settings.kernel.sysctl."vm.swappiness"'
    ]
    response = dev_api.request("DELETE", '/settings?keys=kernel.sysctl."vm.swappiness"')
    assert response.status == 204
    assert commit(dev_api) == ['settings.kernel.sysctl."vm.swappiness"']
    assert "vm.swappiness" not in dev_api.get_json("/settings")["kernel"]["sysctl"]
    entry = dev_api.get_json("/tx/history?limit=1")[0]
    assert entry["keys"] == ['settings.kernel.sysctl."vm.swappiness"']
    patch = dev_api.get_json(f"/tx/history/{entry['generation']}")
    assert patch == [{"op": "remove", "path": "/kernel/sysctl/vm.swappiness"}]


def commit_patch(api: Api, settings: dict[str, Any]) -> list[str]:
    api.patch_ok("/settings", settings)
    return commit(api)


def test_a_map_entry_is_removed_whole(dev_api: Api) -> None:
    commit_patch(dev_api, {"host-containers": {"extra": {"enabled": True, "source": "registry.example/extra:1"}}})
    assert "extra" in dev_api.get_json("/settings?prefix=host-containers")["host-containers"]
    assert dev_api.request("DELETE", "/settings?keys=host-containers.extra").status == 204
    assert commit(dev_api) == ["settings.host-containers.extra.enabled", "settings.host-containers.extra.source"]
    assert "extra" not in dev_api.get_json("/settings?prefix=host-containers").get("host-containers", {})


def test_a_value_staged_after_the_reset_wins_and_one_before_is_dropped(dev_api: Api) -> None:
    dev_api.patch_ok("/settings?tx=t", {"motd": "before the reset", "ntp": {"time-servers": ["x.example"]}})
    assert dev_api.request("DELETE", "/settings?keys=kernel,motd&tx=t").status == 204
    dev_api.patch_ok("/settings?tx=t", {"kernel": {"lockdown": "none"}})
    commit(dev_api, "t")
    settings = dev_api.get_json("/settings")
    assert settings["motd"] == DEV_DEFAULTS["motd"]
    assert settings["kernel"]["lockdown"] == "none"  # set after the reset
    assert settings["kernel"]["sysctl"] == DEV_DEFAULTS["kernel"]["sysctl"]  # back to the defaults
    assert settings["ntp"]["time-servers"] == ["x.example"]


def test_deleting_the_transaction_drops_the_staged_reset(api: Api) -> None:
    assert api.request("DELETE", "/settings?keys=motd&tx=t").status == 204
    assert api.delete("/tx?tx=t").json() == []  # F0's variant (aws-dev here) has no defaults
    assert api.post("/tx/commit?tx=t").status == 422
    assert api.get_json("/settings") == S_ALL


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Missing required input 'keys'"),
        ("?keys=", "Input 'keys' cannot be empty"),
        ("?keys=a..b", "Unable to make data key 'a..b': Key name 'a..b' has invalid format: empty key segment"),
    ],
)
def test_reset_rejects_bad_keys(ro_api: Api, query: str, message: str) -> None:
    response = ro_api.request("DELETE", "/settings" + query)
    assert (response.status, response.text) == (400, message)


def test_apiclient_unset(dev_api: Api) -> None:
    commit_patch(dev_api, {"motd": "changed"})
    result = apiclient(dev_api, "unset", "motd")
    assert (result.returncode, result.stderr) == (0, "")
    assert dev_api.get_json("/settings?keys=settings.motd") == {"motd": DEV_DEFAULTS["motd"]}
    assert dev_api.get_json("/tx/list") == []


# -- JSON Patch -----------------------------------------------------------------------------------
def patch(api: Api, operations: Any, tx: str = "default") -> tuple[int, str]:
    response = api.patch(f"/settings?tx={tx}", operations, content_type=JSON_PATCH)
    return response.status, response.text


def test_a_list_is_appended_to_without_resending_it(api: Api) -> None:
    assert patch(api, [{"op": "add", "path": "/ntp/time-servers/-", "value": "b.example"}]) == (204, "")
    assert api.get_json("/tx") == {"ntp": {"time-servers": ["pool.example.com", "b.example"]}}
    # The view is live overlaid with the transaction: a second append builds on the first.
    assert patch(api, [{"op": "add", "path": "/ntp/time-servers/-", "value": "c.example"}]) == (204, "")
    assert commit(api) == ["settings.ntp.time-servers"]
    assert api.get_json("/settings")["ntp"]["time-servers"] == ["pool.example.com", "b.example", "c.example"]


def test_replace_test_and_remove_stage_only_the_difference(api: Api) -> None:
    operations = [
        {"op": "test", "path": "/motd", "value": "hello"},
        {"op": "replace", "path": "/motd", "value": "patched"},
        {"op": "remove", "path": "/kernel/sysctl"},
        {"op": "add", "path": "/kernel/sysctl", "value": {"vm.swappiness": "5"}},
    ]
    assert patch(api, operations) == (204, "")
    assert api.get_json("/tx") == {"motd": "patched", "kernel": {"sysctl": {"vm.swappiness": "5"}}}
    assert commit(api) == ['settings.kernel.sysctl."net.ipv4.ip_forward"', 'settings.kernel.sysctl."vm.swappiness"',
                           "settings.motd"]  # fmt: skip
    expected = dict(S_ALL, motd="patched", kernel={"lockdown": "integrity", "sysctl": {"vm.swappiness": "5"}})
    assert api.get_json("/settings") == expected


@pytest.mark.parametrize(
    ("operations", "status", "start"),
    [
        ([{"op": "test", "path": "/motd", "value": "not hello"}], 400, "JSON Patch error: "),
        ([{"op": "remove", "path": "/no-such-setting"}], 400, "JSON Patch error: "),
        ([{"op": "jump", "path": "/motd"}], 400, "JSON Patch error: "),
        ({"op": "add"}, 400, "JSON Patch error: the body must be a JSON array of operations"),
        ([{"op": "replace", "path": "/motd", "value": 42}], 400, "Json deserialize error: "),
        ([{"op": "add", "path": "/ntp/time-servers/-", "value": {"not": "a url"}}], 400, "Json deserialize error: "),
    ],
)
def test_a_patch_that_fails_or_gives_an_invalid_result_stages_nothing(
    ro_api: Api, operations: Any, status: int, start: str
) -> None:
    code, text = patch(ro_api, operations, tx="bad-patch")
    assert code == status and text.startswith(start), text
    assert ro_api.get_json("/tx?tx=bad-patch") == {}


def test_apiclient_set_patch(api: Api) -> None:
    operations = json.dumps([{"op": "add", "path": "/ntp/time-servers/0", "value": "first.example"}])
    result = apiclient(api, "set", "--patch", operations)
    assert (result.returncode, result.stderr) == (0, "")
    assert api.get_json("/settings")["ntp"]["time-servers"] == ["first.example", "pool.example.com"]
