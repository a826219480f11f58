"""Malformed input is a 400 that names what is wrong — never a 5xx, never a silent success — and
a refused request stages nothing (not even an empty transaction) and leaves the server serving.

Through the real server over its socket. Most tests share one server (``ro_api``: each request is
refused, so nothing may change, which the fixture checks at the end of the module); the checks
after each refusal are in ``refused``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from thar.apiserver.body import MAX_DEPTH

from .conftest import F0_LIVE, S_ALL, Api, Response, read_live
from .peer_injecting_apiserver import HEADER
from .test_policy import OPERATOR_UID, POLICY, PolicyServer, _serve, operator

DEEP = 100_000
JSON, JSON_PATCH = "application/json", "application/json-patch+json"


def refused(api: Api, response: Response, *words: str, status: int = 400) -> str:
    """Check a refusal: ``status``, a message holding each of ``words``; nothing staged or
    committed; the server still answers and logged no unhandled error. The message."""
    assert response.status == status, (response.status, response.body[:300])
    text = response.text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    assert api.get_json("/tx/list") == []
    pending = api.base / "pending"
    assert not pending.exists() or not any(pending.iterdir()), sorted(p.name for p in pending.iterdir())
    assert read_live(api.base) == dict(F0_LIVE)
    assert api.get_json("/settings") == S_ALL  # still serving
    assert "Error handling request" not in api.server.log()
    return text


def nested(levels: int, inner: str = "1", *, arrays: bool = True) -> str:
    """``levels`` nested arrays (or objects under key ``a``) around ``inner``."""
    if arrays:
        return "[" * levels + inner + "]" * levels
    return '{"a":' * levels + inner + "}" * levels


# -- nesting --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        pytest.param("/settings", nested(DEEP, arrays=False), JSON, id="objects"),
        pytest.param("/settings", nested(DEEP, ""), JSON, id="arrays"),
        pytest.param("/settings", '{"motd":' + nested(DEEP, "") + "}", JSON, id="in-a-value"),
        pytest.param(
            "/settings", '[{"op":"add","path":"/motd","value":' + nested(DEEP, "") + "}]", JSON_PATCH, id="json-patch"
        ),
        pytest.param("/settings/keypair", '{"request_payload":' + nested(DEEP, '"motd=x"') + "}", JSON, id="keypair"),
        pytest.param("/settings", '{"ntp":' + nested(MAX_DEPTH, arrays=False) + "}", JSON, id="one-level-over"),
    ],
)
def test_a_body_nested_too_deeply_is_400(ro_api: Api, path: str, body: str, content_type: str) -> None:
    response = ro_api.patch(f"{path}?tx=deep", body, content_type)
    refused(ro_api, response, "Json deserialize error: ", f"nested more than {MAX_DEPTH} levels deep")


def test_a_body_nested_to_the_limit_reaches_the_model(ro_api: Api) -> None:
    """``MAX_DEPTH`` levels are parsed: the model, not the parser, refuses this one."""
    text = refused(ro_api, ro_api.patch("/settings", '{"motd":' + nested(MAX_DEPTH - 1, '"x"') + "}"))
    assert "settings.motd" in text and "must be a string" in text


# -- text that is not Unicode ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "content_type", "where"),
    [
        pytest.param("/settings", r'{"motd":"\ud800"}', JSON, "the string at /motd", id="value"),
        pytest.param("/settings", r'{"motd":"ok\udc00"}', JSON, "the string at /motd", id="lone-low-half"),
        pytest.param("/settings", r'{"\ud800":1}', JSON, "a key of the object at /", id="key"),
        pytest.param(
            "/settings",
            r'{"kernel":{"sysctl":{"a\ud800":"1"}}}',
            JSON,
            "a key of the object at /kernel/sysctl",
            id="map-key",
        ),
        pytest.param(
            "/settings/keypair", r'{"request_payload":["motd=\ud800"]}', JSON, "/request_payload/0", id="keypair-value"
        ),
        pytest.param(
            "/settings/keypair", r'{"request_payload":["\ud800=1"]}', JSON, "/request_payload/0", id="keypair-key"
        ),
        pytest.param(
            "/settings", r'[{"op":"add","path":"/motd","value":"\ud800"}]', JSON_PATCH, "/0/value", id="json-patch"
        ),
    ],
)
def test_a_lone_surrogate_is_400(ro_api: Api, path: str, body: str, content_type: str, where: str) -> None:
    text = refused(ro_api, ro_api.patch(f"{path}?tx=surrogate", body, content_type))
    assert text.startswith("Json deserialize error: lone UTF-16 surrogate \\ud"), text
    assert where in text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"motd":"\xff"}', id="invalid-byte"),
        pytest.param(b'{"motd":"\xed\xa0\x80"}', id="encoded-surrogate"),
        pytest.param('{"motd":"x"}'.encode("utf-16"), id="utf-16"),
    ],
)
def test_a_body_that_is_not_utf8_is_400(ro_api: Api, body: bytes) -> None:
    refused(ro_api, ro_api.patch("/settings?tx=bytes", body), "Json deserialize error: the body is not valid UTF-8")


def test_unicode_outside_the_bmp_is_accepted_however_it_is_written(api: Api) -> None:
    """A surrogate *pair* escape is a character, not a lone surrogate; a UTF-8 byte order mark is
    ignored."""
    api.patch_ok("/settings?tx=a", r'{"motd":"\ud83d\ude00 \uD83D\uDE00"}')
    api.patch_ok("/settings?tx=b", "\ufeff" + json.dumps({"motd": "\U0001f600"}, ensure_ascii=False))
    assert api.get_json("/tx?tx=a") == {"motd": "\U0001f600 \U0001f600"}
    assert api.get_json("/tx?tx=b") == {"motd": "\U0001f600"}


# -- query parameters that are not UTF-8 ----------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("PATCH", "/settings?tx=%ff"),
        ("PATCH", "/settings/keypair?tx=a%FFb"),
        ("DELETE", "/settings?keys=motd&tx=%ff"),
        ("GET", "/tx?tx=%ff"),
        ("DELETE", "/tx?tx=%ff"),
        ("POST", "/tx/commit?tx=%ff"),
        ("POST", "/tx/commit_and_apply?tx=%ff"),
    ],
)
def test_a_tx_that_is_not_utf8_is_400(ro_api: Api, method: str, target: str) -> None:
    body = '{"request_payload":["motd=x"]}' if "keypair" in target else '{"motd":"x"}'
    response = ro_api.request(method, target, body if method == "PATCH" else None, {"Content-Type": JSON})
    refused(ro_api, response, "Input 'tx' is not valid UTF-8 once percent-decoded", "(byte 0xFF at offset")
    assert ro_api.applier_calls() == []


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("/settings?keys=settings.%ED%A0%80", "keys"),  # a surrogate, as UTF-8 would encode one
        ("/settings?prefix=%ff", "prefix"),
        ("/services?names=%C3", "names"),
        ("/metadata/templates?keys=settings.%ff", "keys"),
        ("/tx/history?prefix=%ff", "prefix"),
    ],
)
def test_other_parameters_that_are_not_utf8_are_400(ro_api: Api, target: str, name: str) -> None:
    refused(ro_api, ro_api.get(target), f"Input '{name}' is not valid UTF-8 once percent-decoded")


def test_a_percent_encoded_replacement_character_is_a_name_like_any_other(api: Api) -> None:
    """U+FFFD sent as its UTF-8 bytes is valid: only bytes that do not decode are refused."""
    api.patch_ok("/settings?tx=%EF%BF%BD", {"motd": "x"})
    assert api.get_json("/tx/list") == ["\ufffd"]


# -- keys= names single settings ------------------------------------------------------------------
def test_keys_naming_a_map_of_settings_is_400(ro_api: Api) -> None:
    text = refused(ro_api, ro_api.get("/settings?keys=settings.motd,settings.ntp"), "'settings.ntp'")
    assert "is a map of settings, not a single one: use prefix=settings.ntp for a subtree" in text
    refused(ro_api, ro_api.get("/settings?keys=settings"), "use prefix=settings")


def test_keys_naming_something_outside_settings_that_exists_is_400(ro_api: Api) -> None:
    for name in ("services.chronyd.restart-commands", "configuration-files"):
        refused(ro_api, ro_api.get(f"/settings?keys={name}"), f"'{name}' is not under 'settings.'")
    # What does not exist is skipped, as in Bottlerocket (keys have no implicit `settings.`).
    assert ro_api.get_json("/settings?keys=motd,os.arch") == {}


@pytest.mark.parametrize("name", ["os.arch", "services.x", "settings.os.arch", "configuration-files.chrony-conf"])
def test_delete_settings_outside_settings_is_400(ro_api: Api, name: str) -> None:
    top = name.removeprefix("settings.").split(".")[0]
    text = refused(ro_api, ro_api.delete(f"/settings?keys=settings.motd,{name}&tx=reset"), f"'{name}' is not one")
    assert f"settings.{top}" in text and "no such setting (known under settings: " in text and "motd" in text


# -- JSON that is valid but not a settings document -----------------------------------------------
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"motd":"a","motd":"b"}', ("duplicate key 'motd'",)),
        ('{"ntp":{"time-servers":["a"],"time-servers":["b"]}}', ("duplicate key 'time-servers'",)),
        ('{"kernel":{"sysctl":{"k":"1","k":"2"}}}', ("duplicate key 'k'",)),  # a map: no model field to catch it
        ('{"updates":{"seed":NaN}}', ("NaN is not a JSON value",)),
        ('{"updates":{"seed":-Infinity}}', ("-Infinity is not a JSON value",)),
        ('{"updates":{"seed":1e999}}', ("number 1e999 is out of range",)),
        ('{"updates":{"seed":' + "9" * 5000 + "}}", ("an integer of more than 4300 digits is out of range",)),
        ('{"host-containers":{"":{"enabled":true}}}', ("settings.host-containers.", "empty key segment")),
        ("[]", ("must be an object of settings, not list",)),
        ('"motd"', ("must be an object of settings, not str",)),
        ("null", ("must be an object of settings, not NoneType",)),
        ("7", ("must be an object of settings, not int",)),
    ],
    ids=[
        "duplicate", "duplicate-nested", "duplicate-map-key", "nan", "infinity", "overflowing-float", "huge-integer",
        "empty-map-key", "array", "string", "null", "number",
    ],
)  # fmt: skip
def test_json_that_cannot_be_settings_is_400(ro_api: Api, body: str, words: tuple[str, ...]) -> None:
    refused(ro_api, ro_api.patch("/settings?tx=bad", body), "Json deserialize error: ", *words)


@pytest.mark.parametrize(
    ("element", "cause"),
    [
        pytest.param("updates.seed=" + "9" * 5000, "settings.updates.seed = ", id="huge-integer"),
        pytest.param("settings=1", "'settings' is the whole settings object, not a setting", id="whole-settings"),
    ],
)
def test_a_keypair_the_model_cannot_take_is_400(ro_api: Api, element: str, cause: str) -> None:
    response = ro_api.patch("/settings/keypair?tx=bad", json.dumps({"request_payload": [element]}))
    refused(ro_api, response, "Unable to match your input to the data model.", f"Cause: {cause}")


def test_a_json_patch_with_non_finite_numbers_or_duplicates_is_400(ro_api: Api) -> None:
    for body, words in (
        ('[{"op":"add","path":"/updates/seed","value":NaN}]', "NaN is not a JSON value"),
        ('[{"op":"add","op":"remove","path":"/motd"}]', "duplicate key 'op'"),
    ):
        refused(ro_api, ro_api.patch("/settings?tx=bad", body, JSON_PATCH), words)


# -- entries of services and configuration files --------------------------------------------------
def test_a_service_name_that_only_begins_another_is_not_found(ro_api: Api) -> None:
    refused(ro_api, ro_api.get("/services?names=chrony"), "Found no 'services.chrony' in datastore", status=404)
    refused(ro_api, ro_api.get("/services?names=chronyd,,x"), "Input 'names' must be a list of names without empty")


@pytest.mark.parametrize(
    "target",
    [
        "/services?prefix=services.chronyd.restart",
        "/configuration-files?prefix=chrony-conf.p",
        "/?prefix=services.chronyd.r",
    ],
)
def test_a_prefix_that_cuts_into_an_entry_is_400(ro_api: Api, target: str) -> None:
    refused(ro_api, ro_api.get(target), "Input 'prefix' must be a prefix of whole entries (such as '")


# -- refusals leave no transaction behind ---------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        pytest.param("PATCH", "/settings", '{"motd":1}', JSON, id="validation"),
        pytest.param("PATCH", "/settings", '{"motd":', JSON, id="bad-json"),
        pytest.param("PATCH", "/settings", '{"motd":"x"}', "text/plain", id="content-type"),
        pytest.param("PATCH", "/settings", '[{"op":"remove","path":"/nope"}]', JSON_PATCH, id="json-patch-fails"),
        pytest.param(
            "PATCH", "/settings", '[{"op":"add","path":"/motd","value":1}]', JSON_PATCH, id="json-patch-model"
        ),
        pytest.param("PATCH", "/settings/keypair", '{"request_payload":["motd"]}', JSON, id="keypair-split"),
        pytest.param("PATCH", "/settings/keypair", '{"request_payload":["updates.seed=x"]}', JSON, id="keypair-model"),
        pytest.param("DELETE", "/settings?keys=a..b", None, None, id="delete-bad-key"),
        pytest.param("DELETE", "/settings?keys=motd,os.arch", None, None, id="delete-outside-settings"),
    ],
)
def test_a_refusal_stages_nothing_in_an_existing_transaction(
    api: Api, method: str, path: str, body: str | None, content_type: str | None
) -> None:
    """A fresh transaction is not created (``refused`` checks that on the shared server); one that
    holds changes keeps exactly those."""
    api.patch_ok("/settings?tx=held", {"motd": "held"})
    separator = "&" if "?" in path else "?"
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = api.request(method, f"{path}{separator}tx=held", body, headers)
    assert response.status == 400, (response.status, response.body)
    assert api.get_json("/tx/list") == ["held"]
    assert api.get_json("/tx?tx=held") == {"motd": "held"}
    assert not (api.base / "pending" / "held" / "thar-removals").exists()


@pytest.fixture
def policy_server(tmp_path: Path) -> Iterator[PolicyServer]:
    yield from _serve(tmp_path, POLICY, "injected")


def test_a_policy_refusal_leaves_no_transaction_behind(policy_server: PolicyServer) -> None:
    for method, uri, body in (
        ("PATCH", "/settings?tx=op", '{"kernel": {"lockdown": "none"}}'),
        ("PATCH", "/settings/keypair?tx=op", '{"request_payload": ["updates.seed=1"]}'),
        ("PATCH", "/settings?tx=op", '{"motd": "mine", "kernel": {"lockdown": "none"}}'),  # partly allowed
        ("DELETE", "/settings?keys=motd,kernel&tx=op", None),
    ):
        status, text = operator(policy_server, method, uri, body)
        assert status == 403 and "may not change 'settings." in text, (uri, status, text)
    # A JSON Patch (its content type is not the helper's) from the same operator:
    patch = '[{"op": "replace", "path": "/kernel/lockdown", "value": "none"}]'
    headers = {HEADER: f"{OPERATOR_UID},{OPERATOR_UID}", "Content-Type": JSON_PATCH}
    response = policy_server.client().request("PATCH", "/settings?tx=op", patch, headers)
    assert response.status == 403 and "may not change 'settings.kernel.lockdown'" in response.text
    client = policy_server.client()
    assert client.get_json("/tx/list") == []
    assert not (policy_server.base / "pending").exists() or not any((policy_server.base / "pending").iterdir())


# -- values that would add a line to a rendered file ----------------------------------------------
@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(
            {"ntp": {"options": ["iburst", "iburst\nserver evil.example"]}},
            ('settings.ntp.options[1] = "iburst\\nserver evil.example": U+000A (line feed) is a control character',),
            id="chrony-directive",
        ),
        pytest.param(
            {"network": {"https-proxy": "http://proxy:3128\nLD_PRELOAD=/tmp/evil.so"}},
            ("settings.network.https-proxy = ", "a URL parser would remove U+000A (line feed)"),
            id="proxy-env-variable",
        ),
        pytest.param(
            {"kernel": {"sysctl": {"vm.max_map_count": "262144\nkernel.modules_disabled = 1"}}},
            ('settings.kernel.sysctl."vm.max_map_count" = ', "U+000A (line feed) is a control character"),
            id="sysctl-line",
        ),
        pytest.param(
            {"ntp": {"time-servers": ['https://t.example/"x']}},
            ("settings.ntp.time-servers[0] = ", "a URL parser would percent-encode '\"' (U+0022): write it as %22"),
            id="quoted-url",
        ),
    ],
)
def test_a_value_that_would_add_a_line_to_a_file_is_400_naming_the_setting(
    ro_api: Api, body: dict[str, object], words: tuple[str, ...]
) -> None:
    refused(ro_api, ro_api.patch("/settings?tx=bad", json.dumps(body)), *words)


def test_motd_keeps_its_lines(api: Api) -> None:
    api.patch_ok("/settings?tx=m", {"motd": "line one\n\tline two\r\n"})
    assert api.get_json("/tx?tx=m") == {"motd": "line one\n\tline two\r\n"}
    response = api.patch("/settings?tx=m", json.dumps({"motd": "bell\x07"}))
    assert response.status == 400
    assert "settings.motd = " in response.text and "U+0007" in response.text
