"""The API conformance scenarios of ``spec/api-scenarios.md`` against the real server.

One test per scenario (a *(cont.)* chain is one test). Scenarios that must leave the
datastore as it is (reads, and requests rejected with "nothing written") share a server
(``ro_api``, which checks at the end that live is still F0 and nothing is pending); the
others get a fresh F0 server each (``api``). Where thar deliberately
differs from the spec (405 for a wrong method on a known path, keypair integers), the test
checks thar's behaviour and says so.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

import pytest

from .conftest import CF, OS, S_ALL, SVC, Api, MakeServer, Response, ServerProcess

KEYPAIR_MISMATCH = (
    "Unable to match your input to the data model.  We may not have enough type information.  "
    "Please try the --json input form.  Cause: "
)
NO_PENDING = "Tried to commit with no pending changes"


def expect(response: Response, status: int, body: str | None = None, *, prefix: str | None = None) -> None:
    """``response`` has ``status`` and the exact ``body`` (or a body starting with ``prefix``)."""
    detail = f"{response.status} {response.body!r}"
    assert response.status == status, detail
    if body is not None:
        assert response.text == body, detail
    if prefix is not None:
        assert response.text.startswith(prefix), detail


def expect_json(response: Response, value: Any) -> None:
    """200, ``Content-Type: application/json``, body parsing to ``value``."""
    assert response.status == 200, f"{response.status} {response.body!r}"
    assert response.content_type == "application/json"
    assert response.json() == value


def expect_json_set(response: Response, items: set[str]) -> None:
    """200 with a JSON array equal, as a set, to ``items`` (and without duplicates)."""
    assert response.status == 200, f"{response.status} {response.body!r}"
    value = response.json()
    assert isinstance(value, list)
    assert len(value) == len(set(value)) and set(value) == items


def expect_no_content(response: Response) -> None:
    assert (response.status, response.body) == (204, b""), f"{response.status} {response.body!r}"


# -- Reading live settings (1-12) -----------------------------------------------------------------
def test_01_get_settings_returns_all_live_settings(ro_api: Api) -> None:
    response = ro_api.get("/settings")
    expect_json(response, S_ALL)


def test_02_get_settings_by_keys(ro_api: Api) -> None:
    expect_json(
        ro_api.get("/settings?keys=settings.motd,settings.kernel.lockdown"),
        {"motd": "hello", "kernel": {"lockdown": "integrity"}},
    )


def test_03_get_settings_skips_missing_keys(ro_api: Api) -> None:
    expect_json(ro_api.get("/settings?keys=settings.motd,settings.does-not-exist"), {"motd": "hello"})


def test_04_get_settings_keys_have_no_implicit_prefix(ro_api: Api) -> None:
    expect_json(ro_api.get("/settings?keys=motd"), {})


def test_05_get_settings_quoted_key_segment(ro_api: Api) -> None:
    expect_json(
        ro_api.get("/settings?keys=settings.kernel.sysctl.%22net.ipv4.ip_forward%22"),
        {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}},
    )


def test_06_get_settings_prefix_is_implicitly_under_settings(ro_api: Api) -> None:
    expect_json(
        ro_api.get("/settings?prefix=kernel"),
        {"kernel": {"lockdown": "integrity", "sysctl": {"net.ipv4.ip_forward": "1"}}},
    )


def test_07_get_settings_prefix_matches_partial_segment(ro_api: Api) -> None:
    expect_json(ro_api.get("/settings?prefix=settings.kernel.lock"), {"kernel": {"lockdown": "integrity"}})


def test_08_get_settings_keys_beat_prefix(ro_api: Api) -> None:
    expect_json(ro_api.get("/settings?keys=settings.motd&prefix=ntp"), {"motd": "hello"})


def test_09_get_settings_prefix_without_match_is_empty(ro_api: Api) -> None:
    expect_json(ro_api.get("/settings?prefix=nomatch"), {})
    expect_json(ro_api.get("/settings?prefix=settingsfoo"), {})


def test_10_get_settings_rejects_empty_inputs(ro_api: Api) -> None:
    expect(ro_api.get("/settings?prefix="), 400, "Input 'prefix' cannot be empty")
    expect(ro_api.get("/settings?keys="), 400, "Input 'keys' cannot be empty")


def test_11_get_settings_rejects_invalid_key(ro_api: Api) -> None:
    expect(
        ro_api.get("/settings?keys=settings.motd,bad%20key"),
        400,
        "Unable to make data key 'bad key': Key name 'bad key' has invalid format: invalid character in key: ' '",
    )


def test_12_empty_live_store_has_no_settings(make_server: MakeServer) -> None:
    server: ServerProcess = make_server(live_files=False)
    assert (server.base / "live").is_dir() and not any((server.base / "live").iterdir())
    client = server.client()
    expect(client.get("/settings"), 404, "Found no 'settings' in datastore")
    expect_json(client.get("/settings?prefix=motd"), {})
    expect(client.get("/"), 404, "Found no 'settings' in datastore")
    assert server.stop() == 0


# -- Transactions (13-26) -------------------------------------------------------------------------
def test_13_to_15_patch_stages_commit_publishes_then_nothing_pending(api: Api) -> None:
    # 13: PATCH stages in the default transaction only.
    expect_no_content(api.patch("/settings", {"motd": "pending"}))
    expect_json(api.get("/settings?keys=settings.motd"), {"motd": "hello"})
    expect_json(api.get("/tx"), {"motd": "pending"})
    expect_json(api.get("/tx/list"), ["default"])
    assert (api.base / "pending/default/settings/motd").read_bytes() == b'"pending"'
    # 14: commit publishes it and empties the transaction; the applier is not run.
    expect_json(api.post("/tx/commit"), ["settings.motd"])
    expect_json(api.get("/settings?keys=settings.motd"), {"motd": "pending"})
    expect_json(api.get("/tx"), {})
    expect_json(api.get("/tx/list"), [])
    assert (api.base / "live/settings/motd").read_bytes() == b'"pending"'
    assert api.applier_calls() == []
    # 15: a second commit has nothing to commit.
    expect(api.post("/tx/commit"), 422, NO_PENDING)


def test_16_commit_of_unused_transaction_is_422(ro_api: Api) -> None:
    expect(ro_api.post("/tx/commit?tx=never-used"), 422, NO_PENDING)
    expect(ro_api.post("/tx/commit_and_apply"), 422, NO_PENDING)
    assert ro_api.applier_calls() == []
    expect_json(ro_api.get("/tx/list"), [])


def _setup_17(api: Api) -> None:
    expect_no_content(api.patch("/settings?tx=alpha", {"motd": "A"}))
    expect_no_content(api.patch("/settings?tx=beta", {"ntp": {"time-servers": ["b.example"]}}))


def test_17_to_19_transactions_are_isolated(api: Api) -> None:
    # 17: each transaction sees only its own changes.
    _setup_17(api)
    expect_json(api.get("/tx?tx=alpha"), {"motd": "A"})
    expect_json(api.get("/tx?tx=beta"), {"ntp": {"time-servers": ["b.example"]}})
    expect_json(api.get("/tx"), {})
    expect_json_set(api.get("/tx/list"), {"alpha", "beta"})
    # 18: committing alpha leaves beta alone.
    expect_json(api.post("/tx/commit?tx=alpha"), ["settings.motd"])
    expect_json(api.get("/tx?tx=beta"), {"ntp": {"time-servers": ["b.example"]}})
    expect_json(api.get("/tx/list"), ["beta"])
    expect_json(api.get("/settings?prefix=ntp"), {"ntp": {"time-servers": ["pool.example.com"]}})
    # 19: deleting beta drops its changes without touching live.
    expect_json(api.delete("/tx?tx=beta"), ["settings.ntp.time-servers"])
    expect_json(api.get("/tx?tx=beta"), {})
    expect_json(api.get("/tx/list"), [])
    expect_json(api.get("/settings?prefix=ntp"), {"ntp": {"time-servers": ["pool.example.com"]}})


def test_20_delete_of_unused_transaction_is_empty_list(ro_api: Api) -> None:
    expect_json(ro_api.delete("/tx?tx=nothing"), [])
    expect_json(ro_api.delete("/tx"), [])
    expect_json(ro_api.get("/tx/list"), [])


def test_21_patches_accumulate_in_one_transaction(api: Api) -> None:
    expect_no_content(api.patch("/settings", {"motd": "one"}))
    expect_no_content(api.patch("/settings", {"updates": {"seed": 5}}))
    expect_no_content(api.patch("/settings", {"motd": "two"}))
    expect_json(api.get("/tx"), {"motd": "two", "updates": {"seed": 5}})
    expect_json_set(api.post("/tx/commit"), {"settings.motd", "settings.updates.seed"})


def test_22_map_entries_merge_and_key_names_are_quoted(api: Api) -> None:
    expect_no_content(api.patch("/settings", {"kernel": {"sysctl": {"vm.max_map_count": "262144"}}}))
    expect_json(api.post("/tx/commit"), ['settings.kernel.sysctl."vm.max_map_count"'])
    expect_json(
        api.get("/settings?prefix=kernel.sysctl"),
        {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1", "vm.max_map_count": "262144"}}},
    )
    assert (api.base / "live/settings/kernel/sysctl/vm%2Emax_map_count").read_bytes() == b'"262144"'


def test_23_lists_are_replaced_whole(api: Api) -> None:
    expect_no_content(api.patch("/settings", {"ntp": {"time-servers": ["x.example", "y.example"]}}))
    expect_json(api.post("/tx/commit"), ["settings.ntp.time-servers"])
    expect_json(api.get("/settings?prefix=ntp"), {"ntp": {"time-servers": ["x.example", "y.example"]}})
    assert (api.base / "live/settings/ntp/time-servers").read_bytes() == b'["x.example","y.example"]'


def test_24_unchanged_values_are_still_reported_as_committed(api: Api) -> None:
    expect_no_content(api.patch("/settings", {"motd": "hello"}))
    expect_json(api.post("/tx/commit"), ["settings.motd"])


def test_25_transaction_names_are_percent_encoded_on_disk(api: Api) -> None:
    expect_no_content(api.patch("/settings?tx=my%20tx", {"motd": "s"}))
    expect_json(api.get("/tx/list"), ["my tx"])
    assert (api.base / "pending/my%20tx").is_dir()
    expect_json(api.get("/tx?tx=my+tx"), {"motd": "s"})


def test_26_duplicate_query_parameters_last_wins(api: Api) -> None:
    _setup_17(api)
    expect_json(api.get("/tx?tx=alpha&tx=beta"), {"ntp": {"time-servers": ["b.example"]}})


# -- PATCH validation (27-35) ---------------------------------------------------------------------
JSON_ERROR = "Json deserialize error: "


def test_27_wrong_type_is_rejected(ro_api: Api) -> None:
    expect(ro_api.patch("/settings", {"motd": 42}), 400, prefix=JSON_ERROR)
    expect_json(ro_api.get("/tx/list"), [])


def test_28_unknown_top_level_field_is_rejected(ro_api: Api) -> None:
    response = ro_api.patch("/settings", {"no-such-setting": 1})
    expect(response, 400, prefix=JSON_ERROR)
    assert "unknown field" in response.text
    expect_json(ro_api.get("/tx/list"), [])


def test_29_unknown_nested_field_rejects_the_whole_patch(ro_api: Api) -> None:
    response = ro_api.patch("/settings", {"kernel": {"lockdown": "none", "bogus": True}})
    expect(response, 400, prefix=JSON_ERROR)
    assert "unknown field" in response.text
    expect_json(ro_api.get("/tx"), {})


def test_30_bad_enum_value_is_rejected(ro_api: Api) -> None:
    expect(ro_api.patch("/settings", {"kernel": {"lockdown": "maximum"}}), 400, prefix=JSON_ERROR)
    expect_json(ro_api.get("/tx"), {})


def test_31_malformed_or_empty_json_is_rejected(ro_api: Api) -> None:
    expect(ro_api.patch("/settings", b'{"motd": "x"'), 400, prefix=JSON_ERROR)
    expect(ro_api.patch("/settings", b""), 400, prefix=JSON_ERROR)
    expect_json(ro_api.get("/tx/list"), [])


def test_32_content_type_must_be_json(api: Api) -> None:
    # thar: Bottlerocket's `Content type error`, then which types are accepted and what was sent
    expect(api.patch("/settings", {"motd": "x"}, content_type=None), 400, prefix="Content type error: ")
    response = api.patch("/settings", {"motd": "x"}, content_type="text/plain")
    expect(response, 400, prefix="Content type error: ")
    assert "'Content-Type: application/json'" in response.text and response.text.endswith("not 'text/plain'")
    expect_json(api.get("/tx/list"), [])
    expect_no_content(api.patch("/settings", {"motd": "x"}, content_type="application/json; charset=utf-8"))
    expect_json(api.get("/tx"), {"motd": "x"})


def test_33_settings_wrapper_is_an_unknown_field(ro_api: Api) -> None:
    response = ro_api.patch("/settings", {"settings": {"motd": "x"}})
    expect(response, 400, prefix=JSON_ERROR)
    assert "unknown field" in response.text
    expect_json(ro_api.get("/tx/list"), [])


def test_34_empty_and_null_patches_are_no_ops(api: Api) -> None:
    expect_no_content(api.patch("/settings", {}))
    expect_json(api.get("/tx/list"), [])
    expect_no_content(api.patch("/settings", {"motd": None}))
    expect_json(api.get("/tx"), {})
    expect(api.post("/tx/commit"), 422, NO_PENDING)


def test_35_body_over_two_mebibytes_is_413(api: Api) -> None:
    limit = 2_097_152
    valid = b'{"motd":"x"}'
    body = valid + b" " * (limit + 1 - len(valid))
    assert len(body) == 2_097_153
    expect(
        api.patch("/settings", body),
        413,
        "JSON payload (2097153 bytes) is larger than allowed (limit: 2097152 bytes).",
    )
    expect_json(api.get("/tx/list"), [])
    # Exactly at the limit is fine.
    expect_no_content(api.patch("/settings", body[:limit]))


# -- Key=value endpoint (36-41) -------------------------------------------------------------------
def keypair(api: Api, *elements: str, tx: str | None = None) -> Response:
    path = "/settings/keypair" + (f"?tx={tx}" if tx else "")
    return api.patch(path, {"request_payload": list(elements)})


def test_36_keypair_values_are_typed_from_the_model(api: Api) -> None:
    expect_no_content(
        keypair(api, "motd=hi there", "kernel.lockdown=none", "settings.updates.seed=77", "updates.ignore-waves=true")
    )
    expect_json(
        api.get("/tx"),
        {"motd": "hi there", "kernel": {"lockdown": "none"}, "updates": {"seed": 77, "ignore-waves": True}},
    )


def test_37_keypair_quoted_and_map_keys(api: Api) -> None:
    expect_no_content(keypair(api, "host-containers.admin.enabled=true", 'kernel.sysctl."net.core.somaxconn"=x4096'))
    expect_json(
        api.get("/tx"),
        {"host-containers": {"admin": {"enabled": True}}, "kernel": {"sysctl": {"net.core.somaxconn": "x4096"}}},
    )


def test_38_keypair_values_the_model_cannot_take(ro_api: Api) -> None:
    for element in [
        "motd=42",
        "motd=true",
        # thar keeps -1 an integer (Bottlerocket makes it a float); u32 still rejects it.
        "updates.seed=-1",
        'kernel.sysctl."net.core.somaxconn"=4096',
        "nosuch.key=1",
    ]:
        expect(keypair(ro_api, element), 400, prefix=KEYPAIR_MISMATCH)
        expect_json(ro_api.get("/tx"), {})
        expect_json(ro_api.get("/tx/list"), [])


def test_39_keypair_values_that_stay_strings(api: Api) -> None:
    cases = [
        ('motd="42"', '"42"'),
        ("motd=True", "True"),
        ("motd=", ""),
        ("motd=a=b", "a=b"),
        ("motd=007", "007"),
    ]
    for element, motd in cases:
        expect_no_content(keypair(api, element))
        expect_json(api.get("/tx"), {"motd": motd})


def test_40_keypair_errors(ro_api: Api) -> None:
    expect(keypair(ro_api, "motd"), 400, "Failed to split the string: motd")
    expect(
        keypair(ro_api, "bad key=1"),
        400,
        "Prefix 'bad key' is not a valid key: Key name 'bad key' has invalid format: invalid character in key: ' '",
    )
    expect(keypair(ro_api, "=x"), 400, "Prefix '' is not a valid key: Key name '' has invalid format: cannot be empty")
    response = ro_api.patch("/settings/keypair", {"payload": []})
    expect(response, 400, prefix=JSON_ERROR)
    assert "missing field" in response.text
    expect(keypair(ro_api, "motd=ok", "motd"), 400, "Failed to split the string: motd")
    expect_json(ro_api.get("/tx"), {})
    expect_json(ro_api.get("/tx/list"), [])


def test_41_keypair_routing_and_transaction(api: Api) -> None:
    response = api.patch("/settings/keypair/", {"request_payload": ["motd=x"]})
    expect(response, 404, "")
    expect_no_content(keypair(api, "motd=x", tx="kp"))
    expect_json(api.get("/tx?tx=kp"), {"motd": "x"})
    expect_json(api.get("/tx"), {})


# -- Apply / commit_and_apply (42-44) -------------------------------------------------------------
def test_42_commit_and_apply_runs_applier_with_committed_keys(api: Api) -> None:
    expect_no_content(api.patch("/settings", {"motd": "applied"}))
    expect_json(api.post("/tx/commit_and_apply"), ["settings.motd"])
    calls = api.applier_calls()
    assert len(calls) == 1
    assert calls[0].argv == ["--daemon"]
    assert calls[0].stdin == '["settings.motd"]'
    assert calls[0].stdin_pipe
    expect_json(api.get("/settings?keys=settings.motd"), {"motd": "applied"})


def test_43_applier_failure_after_commit_is_500_and_commit_stays(api: Api) -> None:
    api.set_applier(exit_code=3)
    expect_no_content(api.patch("/settings", {"motd": "x"}))
    expect(api.post("/tx/commit_and_apply"), 500, "Config applier was unable to fork child, returned 3")
    expect_json(api.get("/settings?keys=settings.motd"), {"motd": "x"})
    expect_json(api.get("/tx/list"), [])
    assert [call.argv for call in api.applier_calls()] == [["--daemon"]]


def test_44_apply_runs_applier_without_committing(api: Api) -> None:
    # All settings: --all, stdin inherited (not a pipe from the server) and not read.
    expect_no_content(api.post("/tx/apply"))
    (call,) = api.applier_calls()
    assert call.argv == ["--daemon", "--all"]
    assert call.stdin is None and not call.stdin_pipe
    # Some keys: on stdin as a compact JSON array.
    expect_no_content(api.post("/tx/apply?keys=settings.motd,settings.ntp"))
    call = api.applier_calls()[1]
    assert call.argv == ["--daemon"] and call.stdin_pipe
    assert call.stdin is not None
    keys = json.loads(call.stdin)
    assert sorted(keys) == ["settings.motd", "settings.ntp"]
    assert call.stdin == json.dumps(keys, separators=(",", ":"))
    # Empty keys: rejected before the applier runs.
    expect(api.post("/tx/apply?keys="), 400, "Input 'keys' cannot be empty")
    assert len(api.applier_calls()) == 2
    # Applying does not commit.
    expect_no_content(api.patch("/settings", {"motd": "p"}))
    expect_no_content(api.post("/tx/apply"))
    expect_json(api.get("/tx"), {"motd": "p"})
    expect_json(api.get("/settings?keys=settings.motd"), {"motd": "hello"})
    assert len(api.applier_calls()) == 3


# -- Model, OS, services, metadata (45-52) --------------------------------------------------------
def test_45_get_model(ro_api: Api) -> None:
    expect_json(ro_api.get("/"), {"settings": S_ALL, "services": SVC, "configuration-files": CF, "os": OS})


def test_46_get_model_by_prefix(ro_api: Api) -> None:
    expect_json(ro_api.get("/?prefix=settings.motd"), {"settings": {"motd": "hello"}})
    expect_json(ro_api.get("/?prefix=os.arch"), {"os": {"arch": "x86_64"}})
    expect_json(ro_api.get("/?prefix=os.zzz"), {"os": {}})
    expect_json(ro_api.get("/?prefix=settings.zzz"), {})
    expect_json(ro_api.get("/?prefix=motd"), {})
    expect_json(ro_api.get("/?prefix=s"), {"settings": S_ALL, "services": SVC})
    expect_json(ro_api.get("/?prefix=c"), {"configuration-files": CF})
    expect(ro_api.get("/?prefix="), 400, "Input 'prefix' cannot be empty")


def test_47_get_os_and_bad_os_release(api: Api) -> None:
    expect_json(api.get("/os"), OS)
    expect_json(api.get("/os?prefix=variant"), {"variant_id": "aws-dev"})
    expect_json(api.get("/os?prefix=os.version"), {"version_id": "1.20.0"})
    expect_json(api.get("/os?prefix=osx"), {})
    # os-release is read on every request: a version that is not X.Y.Z fails.
    os_release = api.server.os_release
    os_release.write_text(os_release.read_text().replace("VERSION_ID=1.20.0", "VERSION_ID=1.20"))
    expect(api.get("/os"), 500, prefix="Unable to get OS release data: ")


def test_48_get_services(ro_api: Api) -> None:
    expect_json(ro_api.get("/services"), SVC)
    expect_json(ro_api.get("/services?names=chronyd"), SVC)
    expect(ro_api.get("/services?names=chronyd,missing"), 404, "Found no 'services.missing' in datastore")
    expect_json(ro_api.get("/services?prefix=chr"), SVC)
    expect_json(ro_api.get("/services?prefix=zzz"), {})
    expect_json(ro_api.get("/services?names=chronyd&prefix=zzz"), SVC)
    expect(ro_api.get("/services?names="), 400, "Input 'names' cannot be empty")


def test_49_get_configuration_files(ro_api: Api) -> None:
    response = ro_api.get("/configuration-files?names=chrony-conf")
    expect_json(response, CF)
    assert "mode" not in response.json()["chrony-conf"]
    expect(ro_api.get("/configuration-files?names=nope"), 404, "Found no 'configuration-files.nope' in datastore")


def test_50_get_affected_services_metadata_is_inherited(ro_api: Api) -> None:
    expect_json(
        ro_api.get("/metadata/affected-services?keys=settings.ntp.time-servers,settings.updates.seed"),
        {"settings.ntp.time-servers": ["chronyd"]},
    )
    expect_json(ro_api.get("/metadata/affected-services?keys=settings.ntp"), {"settings.ntp": ["chronyd"]})
    expect(ro_api.get("/metadata/affected-services"), 400, "Missing required input 'keys'")
    expect(
        ro_api.get("/metadata/affected-services?keys=a..b"),
        400,
        "Unable to make data key 'a..b': Key name 'a..b' has invalid format: empty key segment",
    )


def test_51_get_setting_generators(ro_api: Api) -> None:
    expect_json(ro_api.get("/metadata/setting-generators"), {"settings.network.hostname": "netdog generate-hostname"})


def test_52_get_templates_metadata(ro_api: Api) -> None:
    expect(ro_api.get("/metadata/templates"), 400, "Missing required input 'keys'")
    expect_json(
        ro_api.get("/metadata/templates?keys=settings.updates.metadata-base-url"),
        {"settings.updates.metadata-base-url": "https://updates.example/{{ os.arch }}/"},
    )


# -- Routing (53) ---------------------------------------------------------------------------------
def _allowed(response: Response) -> set[str]:
    return {method.strip() for method in response.headers.get("Allow", "").split(",") if method.strip()}


def test_53_routing_wrong_method_is_405_unknown_path_is_404(ro_api: Api) -> None:
    # thar: a wrong method on a known path is 405 with Allow (Bottlerocket answers 404).
    for method, path, allowed in [
        ("POST", "/settings", {"GET", "PATCH", "DELETE"}),  # thar: DELETE resets settings
        ("GET", "/tx/commit", {"POST"}),
        ("PUT", "/tx", {"GET", "DELETE"}),
    ]:
        response = ro_api.request(method, path)
        expect(response, 405, "")
        assert _allowed(response) == allowed, f"{method} {path}: Allow {response.headers.get('Allow')!r}"
    # Unknown paths, trailing slashes: 404 with an empty body.
    expect(ro_api.get("/settings/"), 404, "")
    expect(ro_api.get("/nope"), 404, "")


def test_53_exec_wrong_method_is_405_and_get_without_upgrade_is_400(ro_api: Api) -> None:
    expect(ro_api.post("/exec"), 405, "")
    expect(ro_api.get("/exec"), 400, "")


# -- Reports, updates, ephemeral storage (54-57) ----------------------------------------------------------
@pytest.mark.skip(reason="GET /report (reports) is not implemented by thar yet")
def test_54_report_list(ro_api: Api) -> None:
    expect_json(ro_api.get("/report"), [{"name": "cis", "description": "CIS Bottlerocket Benchmark"}])


UPDATE_STATUS = {
    "update_state": "Available",
    "available_updates": ["1.21.0", "1.20.0"],
    "chosen_update": {"arch": "x86_64", "version": "1.21.0", "variant": "aws-dev"},
    "active_partition": {"image": {"arch": "x86_64", "version": "1.20.0", "variant": "aws-dev"}, "next_to_boot": True},
    "staging_partition": None,
    "most_recent_command": {
        "cmd_type": "refresh",
        "cmd_status": "Success",
        "timestamp": "2024-10-24T17:26:52.123456789Z",
        "exit_status": 0,
        "stderr": "",
    },
}


def test_55_update_status(api: Api) -> None:
    server = api.server
    expect(api.get("/updates/status"), 404, "Update status is uninitialized, refresh-updates to initialize it")
    server.update_status.write_text(json.dumps(UPDATE_STATUS))
    expect_json(api.get("/updates/status"), UPDATE_STATUS)
    fd = os.open(server.update_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        response = api.get("/updates/status")
        assert response.status == 423
        assert response.text.startswith("Unable to obtain shared lock for reading update status: ")
    finally:
        os.close(fd)
    expect_json(api.get("/updates/status"), UPDATE_STATUS)


@pytest.mark.parametrize(
    ("code", "status", "body"),
    [
        (0, 204, ""),
        (64, 423, "Update lock held"),
        (65, 409, "Update action not allowed according to update state"),
        (66, 404, "Previously chosen Update no longer exists"),
        (67, 404, "No update image applied to staging partition"),
        (1, 500, "Update dispatcher failed"),
    ],
)
def test_56_update_dispatcher_exit_mapping(api: Api, code: int, status: int, body: str) -> None:
    server = api.server
    server.dispatcher_control.write_text(f"{code}\n")
    expect(api.post("/actions/prepare-update"), status, body)
    assert server.dispatcher_record.read_text().splitlines() == ["prepare"]


@pytest.mark.skip(reason="GET /actions/ephemeral-storage/list-dirs is not implemented by thar yet")
def test_57_ephemeral_storage_list_dirs() -> None:
    raise AssertionError("not implemented")


# -- apiclient scenarios (58-63) ------------------------------------------------------------------
@pytest.mark.skip(reason="apiclient request-sequence scenario; covered by the apiclient tests")
@pytest.mark.parametrize("scenario", [58, 59, 60, 61, 62, 63])
def test_58_to_63_apiclient_scenarios(scenario: int) -> None:
    raise AssertionError(f"scenario {scenario} belongs to apiclient")
