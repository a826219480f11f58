"""Unit tests of the custom helpers (spec/schnauzer.md §6): each helper's fn called directly.

Every row of the §6.1 table, errors included; toml_encode (§6.2), CIDRs (§6.3), region maps
(§6.4), /etc/hosts helpers with an injected resolver (§6.5), oci_defaults with injected EFA
detection (§6.6), and thar's quote_string. Host facts always come from a ``HelperEnvironment`` built here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from thar.schnauzer.helper_api import Helper, HelperError, HelperKind, Param
from thar.schnauzer.helpers import OWNERS, HelperEnvironment, HostFactError, all_helpers, helpers_for
from thar.schnauzer.helpers.environment import (
    cgroup_cpu_quota,
    host_cpu_count,
    host_efa_attached,
    host_fips_enabled,
    host_resolve,
    parse_lspci_devices,
)

MISSING = object()
"""A parameter whose path resolved to nothing."""


def _unexpected(what: str) -> Callable[..., Any]:
    def fail(*args: object) -> Any:
        raise AssertionError(f"the helper asked for {what}, which this test did not expect")

    return fail


def make_env(
    *,
    cpus: int | None = None,
    efa: bool | None = None,
    fips: bool | None = None,
    dns: dict[str, list[str]] | None = None,
) -> HelperEnvironment:
    """An environment whose facts are the given ones; asking for any other fact fails the test."""

    def resolve(name: str) -> list[str]:
        assert dns is not None, f"unexpected DNS lookup of {name!r}"
        if name not in dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return dns[name]

    return HelperEnvironment(
        cpu_count=(lambda: cpus) if cpus is not None else _unexpected("the CPU count"),
        efa_attached=(lambda: efa) if efa is not None else _unexpected("EFA detection"),
        fips_enabled=(lambda: fips) if fips is not None else _unexpected("FIPS mode"),
        resolve=resolve,
    )


def to_param(value: Any) -> Param:
    if value is MISSING:
        return Param(None, missing=True, path="settings.absent")
    if isinstance(value, Param):
        return value
    return Param(value)


def call(name: str, *values: Any, env: HelperEnvironment | None = None) -> Any:
    helper = all_helpers(env or make_env())[name]
    return helper.fn([to_param(v) for v in values], {})


def fails(name: str, *values: Any, env: HelperEnvironment | None = None) -> str:
    with pytest.raises(HelperError) as info:
        call(name, *values, env=env)
    message = str(info.value)
    assert message.startswith(f"{name}: "), message
    return message


# --- the registry -------------------------------------------------------------------------------


def test_owner_map_lists_every_helper_once() -> None:
    names = [name for helpers in OWNERS.values() for name in helpers]
    assert len(names) == len(set(names)) == 31  # Bottlerocket's 30 and thar's quote_string
    assert set(names) == set(all_helpers(make_env()))


def test_owner_map_matches_spec_extensions() -> None:
    assert set(OWNERS) == {"std", "aws", "ecs", "kubernetes", "network", "updates", "oci-defaults"}
    assert OWNERS["network"] == ("localhost_aliases", "etc_hosts_entries", "host")
    assert OWNERS["updates"] == ("tuf-prefix", "metadata-prefix")


VALUE_HELPERS = {"any_enabled", "is_null", "is_bool", "is_number", "is_string", "is_array", "is_object"}
VALUE_HELPERS |= {"is_ipv4", "is_ipv6"}


def test_helper_kinds_and_strictness() -> None:
    helpers = all_helpers(make_env())
    for name, helper in helpers.items():
        assert isinstance(helper, Helper) and helper.name == name
        if name == "if_not_null":
            assert helper.kind is HelperKind.CONDITION
        elif name in VALUE_HELPERS:
            assert helper.kind is HelperKind.VALUE
        else:
            assert helper.kind is HelperKind.STRING
        assert helper.strict_params == (1 if name in {"any_enabled", "is_ipv4", "is_ipv6"} else 0), name


def test_default_environment_is_the_real_host() -> None:
    helpers = all_helpers()
    assert call("kube_reserve_cpu", "30m") == "30m"
    assert helpers["kube_reserve_cpu"].fn([Param(None)], {}).endswith("m")


EXACT_COUNTS = {
    "base64_decode": 1,
    "join_map": 4,
    "join_array": 2,
    "default": 2,
    "if_not_null": 1,
    "toml_encode": 1,
    "quote_string": 1,
    "goarch": 1,
    "negate_or_else": 2,
    "is_null": 1,
    "is_bool": 1,
    "is_number": 1,
    "is_string": 1,
    "is_array": 1,
    "is_object": 1,
    "cidr_to_ipaddr": 1,
    "replace_ipv4_octet": 3,
    "ecr-prefix": 1,
    "tuf-prefix": 1,
    "metadata-prefix": 1,
    "host": 1,
    "localhost_aliases": 3,
    "etc_hosts_entries": 1,
    "join_node_taints": 1,
    "kube_reserve_cpu": 1,
    "kube_reserve_memory": 2,
    "ecs_metadata_service_limits": 2,
    "oci_defaults": 2,
}


@pytest.mark.parametrize("name", sorted(EXACT_COUNTS))
def test_exact_parameter_count(name: str) -> None:
    expected = EXACT_COUNTS[name]
    for count in (expected - 1, expected + 1):
        if count < 0:
            continue
        message = fails(name, *(["x"] * count))
        assert f"{expected} expected" in message and f"{count} received" in message


@pytest.mark.parametrize("name", ["any_enabled", "is_ipv4", "is_ipv6"])
def test_macro_helpers_ignore_extra_params_but_need_one(name: str) -> None:
    first = [{"enabled": True}] if name == "any_enabled" else "10.0.0.0/8"
    assert call(name, first, "extra", 5) is (name != "is_ipv6")
    assert "couldn't read parameter 1" in fails(name)


def test_error_names_helper_parameter_and_value() -> None:
    message = fails("goarch", Param("x86", path="os.arch"))
    assert message.startswith('goarch: parameter 1 (arch) = "x86" (from os.arch)')
    assert "missing (from settings.absent)" in fails("base64_decode", MISSING)


# --- base64_decode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decoded"), [("SGk=", "Hi"), ("", ""), ("aGVsbG8gd29ybGQ=", "hello world"), ("4pyT", "✓")]
)
def test_base64_decode(text: str, decoded: str) -> None:
    assert call("base64_decode", text) == decoded


@pytest.mark.parametrize("text", ["hi", "SGk", "SGl=", "SG k=", "SGk=\n", "SGk=SGk=", "SG-_"])
def test_base64_decode_rejects_bad_base64(text: str) -> None:
    assert "ValidBase64" in fails("base64_decode", text)


def test_base64_decode_rejects_non_utf8_and_non_strings() -> None:
    assert "UTF-8" in fails("base64_decode", "wygK")
    for value in (5, None, MISSING, ["SGk="], True):
        assert "expected a string" in fails("base64_decode", value)


# --- join_map -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"hi": "there"}, "hi=there"),
        ({"hi": "there", "whats": "up"}, "hi=there,whats=up"),
        ({"hi": 42, "f": 1.5, "big": 1e20, "no": False}, "hi=42,f=1.5,big=1e20,no=false"),
        ({}, ""),
    ],
)
def test_join_map(mapping: dict[str, Any], expected: str) -> None:
    assert call("join_map", "=", ",", "fail-if-missing", mapping) == expected
    assert call("join_map", "=", ",", "no-fail-if-missing", mapping) == expected


@pytest.mark.parametrize("value", [MISSING, None, ["a"], "text", 3])
def test_join_map_non_object(value: Any) -> None:
    assert call("join_map", "=", ",", "no-fail-if-missing", value) == ""
    assert "expected an object" in fails("join_map", "=", ",", "fail-if-missing", value)


def test_join_map_errors() -> None:
    assert "mode" in fails("join_map", "=", ",", "sup", {"a": "b"})
    assert "kv_sep" in fails("join_map", 1, ",", "fail-if-missing", {})
    assert "pair_sep" in fails("join_map", "=", None, "fail-if-missing", {})
    assert "mode" in fails("join_map", "=", ",", MISSING, {})
    for bad in (None, [1], {"too": "deep"}):
        assert "'hi'" in fails("join_map", "=", ",", "no-fail-if-missing", {"hi": bad})


# --- join_array ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delim", "array", "expected"),
    [
        (", ", [], ""),
        (", ", ["a"], '"a"'),
        (", ", ["a", "b"], '"a", "b"'),
        ("~ ", ["a", "b", "c"], '"a"~ "b"~ "c"'),
        (", ", ["a", "", "c"], '"a", "", "c"'),
        (",", ['say "hi"', "back\\slash"], '"say "hi"","back\\slash"'),
    ],
)
def test_join_array(delim: str, array: list[str], expected: str) -> None:
    assert call("join_array", delim, array) == expected


def test_join_array_errors() -> None:
    for value in (MISSING, None, {"a": "b"}, "a"):
        assert "expected an array" in fails("join_array", ", ", value)
    assert "element 1" in fails("join_array", ", ", ["a", 1])
    assert "delim" in fails("join_array", 1, ["a"])


# --- default ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dflt", "value", "expected"),
    [
        ("42", "hi", "hi"),
        ("42", MISSING, "42"),
        ("42", None, "42"),
        ("42", True, "true"),
        ("42", 42.42, "42.42"),
        (42, MISSING, "42"),
        (True, MISSING, "true"),
        (1.0, MISSING, "1.0"),
        ("x", 0, "0"),
        ("x", "", ""),
    ],
)
def test_default(dflt: Any, value: Any, expected: str) -> None:
    assert call("default", dflt, value) == expected


def test_default_errors() -> None:
    for dflt in (None, MISSING, [], {}):
        assert "dflt" in fails("default", dflt, "x")
    bad_values: list[Any] = [[], {"a": 1}]
    for value in bad_values:
        assert "value" in fails("default", "x", value)


# --- if_not_null --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(MISSING, False), (None, False), (0, True), ("", True)])
def test_if_not_null(value: Any, expected: bool) -> None:
    assert call("if_not_null", value) is expected
    assert call("if_not_null", False) is True
    assert call("if_not_null", []) is True


# --- toml_encode --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], '["a", "b"]'),
        ({"hello": "world"}, '{ hello = "world" }'),
        ([], "[]"),
        ({}, "{}"),
        ([""], '[""]'),
        ("hello', 'echo pwned\"", "'''hello', 'echo pwned\"'''"),
        ('hello", "x"', '\'hello", "x"\''),
        ("x\", 'echo pwned2'", '"x\\", \'echo pwned2\'"'),
        ("back\\slash", "'back\\slash'"),
        ("it's", '"it\'s"'),
        ("a'''b\"", "\"a'''b\\\"\""),
        ("tab\there", '"tab\\there"'),
        ("line\nbreak", '"""\nline\nbreak"""'),
        ('line\n"q"', "'''\nline\n\"q\"'''"),
        ("ctl\x01\x7f\b\f\r", '"ctl\\u0001\\u007F\\b\\f\\r"'),
        ("ünï", '"ünï"'),
        (42, "42"),
        (-(2**63), "-9223372036854775808"),
        (1.5, "1.5"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e20, "100000000000000000000.0"),
        (1e-7, "0.0000001"),
        (True, "true"),
        ([[1, 2], ["a"]], '[[1, 2], ["a"]]'),
        ({"a b": 1, "c.d": 2, 'q"': 3, "": 4}, '{ "a b" = 1, "c.d" = 2, \'q"\' = 3, "" = 4 }'),
        (
            {"t": {"x": 1}, "arr": [{"y": 2}], "s": "v", "n": []},
            '{ s = "v", n = [], arr = [{ y = 2 }], t = { x = 1 } }',
        ),
    ],
)
def test_toml_encode(value: Any, expected: str) -> None:
    assert call("toml_encode", value) == expected


@pytest.mark.parametrize("value", [None, MISSING, [1, None], {"a": {"b": None}}, 2**63, -(2**63) - 1])
def test_toml_encode_errors(value: Any) -> None:
    assert "TOML" in fails("toml_encode", value)


# --- quote_string (thar) -------------------------------------------------------------------------

QUOTED = [
    ("https://k8s.example:6443", '"https://k8s.example:6443"'),
    ("", '""'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ('it\'s "x"', '"it\'s \\"x\\""'),
    ("\\", '"\\\\"'),
    ("l1\nl2\t\r\b\f", '"l1\\nl2\\t\\r\\b\\f"'),
    ("\x00\x1b\x7f\x85\u2028\u2029\ufeff", '"\\u0000\\u001B\\u007F\\u0085\\u2028\\u2029\\uFEFF"'),
    ("é ☃ 𝄞 #[=}}", '"é ☃ 𝄞 #[=}}"'),
]


@pytest.mark.parametrize(("text", "expected"), QUOTED)
def test_quote_string(text: str, expected: str) -> None:
    assert call("quote_string", text) == expected


@pytest.mark.parametrize(("text", "expected"), QUOTED)
def test_quote_string_reads_back_the_same_in_json_toml_and_yaml(text: str, expected: str) -> None:
    quoted = call("quote_string", text)
    assert json.loads(quoted) == text
    assert tomllib.loads(f"value = {quoted}\n[table.{quoted}]\n") == {"value": text, "table": {text: {}}}
    assert yaml.safe_load(f"value: {quoted}\nlist:\n- {quoted}\n") == {"value": text, "list": [text]}


@pytest.mark.parametrize("value", [None, MISSING, 1, True, ["a"], {"a": "b"}, "lone \ud800"])
def test_quote_string_takes_only_strings(value: Any) -> None:
    assert fails("quote_string", value).startswith("quote_string: parameter 1 (s) = ")


# --- goarch, negate_or_else ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "expected"), [("x86_64", "amd64"), ("amd64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")]
)
def test_goarch(arch: str, expected: str) -> None:
    assert call("goarch", arch) == expected


@pytest.mark.parametrize("arch", ["", "amdarm", "x86", "aarch32", "X86_64", None, 64])
def test_goarch_errors(arch: Any) -> None:
    fails("goarch", arch)


@pytest.mark.parametrize(
    ("fallback", "value", "expected"),
    [(False, True, "false"), (False, False, "true"), (False, None, "false"), (True, MISSING, "true")],
)
def test_negate_or_else(fallback: bool, value: Any, expected: str) -> None:
    assert call("negate_or_else", fallback, value) == expected


def test_negate_or_else_errors() -> None:
    bad_values: list[Any] = [[], {}, "", "true", 0]
    for value in bad_values:
        assert "parameter 2 (v)" in fails("negate_or_else", False, value)
    for fallback in (None, "false", 0):
        assert "parameter 1 (fallback)" in fails("negate_or_else", fallback, True)


# --- any_enabled and the type tests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([{"foo": [], "enabled": True}], True),
        ({"foo": {"enabled": False}, "bar": {"enabled": True}}, True),
        ([{"enabled": False}], False),
        ({"foo": {"enabled": False}, "bar": {"enabled": False}}, False),
        ([], False),
        ({}, False),
        ([{"enabled": "true"}], False),
        ([{"enabled": 1}], False),
        ([{"name": "fred"}], False),
        ({"test": {"name": "fred"}}, False),
        ({"state": "enabled"}, False),
        ([[True]], True),
        ([[True, 1]], False),
        ([[False]], False),
        (None, False),
        ("enabled", False),
        (True, False),
    ],
)
def test_any_enabled(value: Any, expected: bool) -> None:
    assert call("any_enabled", value) is expected


TYPE_SAMPLES: list[Any] = [True, 57, 1.5, "hello", [1, 2, 3], {"inner": "object"}, None, MISSING]


@pytest.mark.parametrize(
    ("name", "matching"),
    [
        ("is_bool", {0}),
        ("is_number", {1, 2}),
        ("is_string", {3}),
        ("is_array", {4}),
        ("is_object", {5}),
        ("is_null", {6, 7}),
    ],
)
def test_type_tests(name: str, matching: set[int]) -> None:
    results = [call(name, sample) for sample in TYPE_SAMPLES]
    assert results == [index in matching for index in range(len(TYPE_SAMPLES))]


# --- CIDRs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "family", "address"),
    [
        ("192.168.1.0/24", 4, "192.168.1.0"),
        ("2001:db8::/32", 6, "2001:db8::"),
        ("10.1.2.3", 4, "10.1.2.3"),
        ("10.1.2.3/32", 4, "10.1.2.3"),
        ("0.0.0.0/0", 4, "0.0.0.0"),
        ("::/0", 6, "::"),
        ("2001:0db8:0000::/48", 6, "2001:db8::"),
        ("::ffff:1.2.3.4", 6, "::ffff:1.2.3.4"),
        ("10.0.0.0/+8", 4, "10.0.0.0"),
        ("10.0.0.0/0008", 4, "10.0.0.0"),
    ],
)
def test_cidr_helpers(cidr: str, family: int, address: str) -> None:
    assert call("is_ipv4", cidr) is (family == 4)
    assert call("is_ipv6", cidr) is (family == 6)
    assert call("cidr_to_ipaddr", cidr) == address


@pytest.mark.parametrize(
    "cidr",
    [
        "invalid-cidr",
        "any",
        "10.0.0.1/24",
        "10.0.0.0/33",
        "2001:db8::1/32",
        "::/129",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/",
        "10.0.0.0/++8",
        "10.0.0.0/-8",
        "10.0.0.0/ 8",
        "10.0.0.0/256",
        "010.0.0.0/8",
        "10.0.0/8",
        "fe80::1%eth0",
        "",
    ],
)
def test_cidr_helpers_reject_invalid(cidr: str) -> None:
    for name in ("is_ipv4", "is_ipv6", "cidr_to_ipaddr"):
        assert "invalid CIDR" in fails(name, cidr)


def test_cidr_helpers_reject_non_strings() -> None:
    for name in ("is_ipv4", "is_ipv6", "cidr_to_ipaddr"):
        for value in (None, 10, ["10.0.0.0/8"]):
            assert "expected a string" in fails(name, value)


@pytest.mark.parametrize(
    ("ip", "index", "value", "expected"),
    [
        ("192.168.1.1", 3, "10", "192.168.1.10"),
        ("10.0.0.0", 0, "172", "172.0.0.0"),
        ("10.0.0.0", 1, "255", "10.255.0.0"),
        ("10.0.0.0", 2, "007", "10.0.7.0"),
        ("10.0.0.0", 2, "+1", "10.0.1.0"),
    ],
)
def test_replace_ipv4_octet(ip: str, index: int, value: str, expected: str) -> None:
    assert call("replace_ipv4_octet", ip, index, value) == expected


@pytest.mark.parametrize(
    ("ip", "index", "value", "parameter"),
    [
        ("192.168.1.1", 4, "10", "idx"),
        ("192.168.1.1", -1, "10", "idx"),
        ("192.168.1.1", 1.0, "10", "idx"),
        ("192.168.1.1", "1", "10", "idx"),
        ("192.168.1.1", True, "10", "idx"),
        ("invalid-ip", 3, "10", "ip"),
        ("2001:db8::1", 3, "10", "ip"),
        ("10.0.0.01", 3, "10", "ip"),
        (None, 3, "10", "ip"),
        ("192.168.1.1", 3, "257", "val"),
        ("192.168.1.1", 3, "-1", "val"),
        ("192.168.1.1", 3, "", "val"),
        ("192.168.1.1", 3, 10, "val"),
    ],
)
def test_replace_ipv4_octet_errors(ip: Any, index: Any, value: Any, parameter: str) -> None:
    assert f"({parameter})" in fails("replace_ipv4_octet", ip, index, value)


# --- region maps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("eu-central-1", "328549459982.dkr.ecr.eu-central-1.amazonaws.com"),
        ("af-south-1", "917644944286.dkr.ecr.af-south-1.amazonaws.com"),
        ("xy-ztown-1", "328549459982.dkr.ecr.us-east-1.amazonaws.com"),
        ("", "328549459982.dkr.ecr.us-east-1.amazonaws.com"),
        ("cn-north-1", "183470599484.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", "183901325759.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
        ("ap-south-2", "764716012617.dkr.ecr.ap-south-2.amazonaws.com"),
        ("ap-southeast-5", "851725293737.dkr.ecr.ap-southeast-5.amazonaws.com"),
        ("eu-isoe-west-1", "589460436674.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk"),
        ("us-gov-west-1", "347163068887.dkr.ecr.us-gov-west-1.amazonaws.com"),
    ],
)
def test_ecr_prefix(region: str, expected: str) -> None:
    assert call("ecr-prefix", region, env=make_env(fips=False)) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("us-east-1", "328549459982.dkr.ecr-fips.us-east-1.amazonaws.com"),
        ("us-gov-east-1", "388230364387.dkr.ecr-fips.us-gov-east-1.amazonaws.com"),
        ("xy-ztown-1", "328549459982.dkr.ecr.us-east-1.amazonaws.com"),
        ("eu-west-1", "328549459982.dkr.ecr.eu-west-1.amazonaws.com"),
        ("cn-north-1", "183470599484.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_ecr_prefix_fips(region: str, expected: str) -> None:
    # an unknown region falls back to us-east-1 but is not a FIPS region itself
    env = make_env(fips=True) if region in {"us-east-1", "us-gov-east-1"} else make_env()
    assert call("ecr-prefix", region, env=env) == expected


@pytest.mark.parametrize(
    ("region", "tuf", "metadata"),
    [
        ("af-south-1", "https://updates.bottlerocket.aws", ""),
        ("xy-ztown-1", "https://updates.bottlerocket.aws", ""),
        ("us-east-1", "https://updates.bottlerocket.aws", ""),
        (
            "cn-north-1",
            "https://bottlerocket-updates-cn-north-1.s3.dualstack.cn-north-1.amazonaws.com.cn/latest",
            "/metadata",
        ),
        (
            "cn-northwest-1",
            "https://bottlerocket-updates-cn-northwest-1.s3.dualstack.cn-northwest-1.amazonaws.com.cn/latest",
            "/metadata",
        ),
        (
            "eu-isoe-west-1",
            "https://bottlerocket-updates-eu-isoe-west-1.s3.eu-isoe-west-1.cloud.adc-e.uk/latest",
            "/metadata",
        ),
    ],
)
def test_tuf_and_metadata_prefix(region: str, tuf: str, metadata: str) -> None:
    assert call("tuf-prefix", region) == tuf
    assert call("metadata-prefix", region) == metadata


@pytest.mark.parametrize("name", ["ecr-prefix", "tuf-prefix", "metadata-prefix"])
def test_region_helpers_reject_non_strings(name: str) -> None:
    for value in (None, MISSING, 1, ["us-east-1"]):
        assert "AWS region" in fails(name, value)


def test_fips_flag_file(tmp_path: Path) -> None:
    flag = tmp_path / "fips_enabled"
    assert host_fips_enabled(str(flag)) is False
    flag.write_text("1\n")
    assert host_fips_enabled(str(flag)) is True
    flag.write_text("0\n")
    assert host_fips_enabled(str(flag)) is False


# --- host ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.example.com/example/example", "example.example.com"),
        ("http://example.com", "example.com"),
        ("foo://example.com", "example.com"),
        ("foo://Example.COM/x", "Example.COM"),
        ("HTTPS://Example.COM:8443/x?y#z", "example.com"),
        ("http://[::1]:8080/", "[::1]"),
        ("http://10.0.0.1:80", "10.0.0.1"),
        ("http://bücher.example/", "xn--bcher-kva.example"),
        ("http://user:pw@host.example/", "host.example"),
    ],
)
def test_host(url: str, expected: str) -> None:
    assert call("host", url) == expected


@pytest.mark.parametrize("url", ["example.com", "/relative/path", "foo:bar", "file:///etc/hosts", "", "http://"])
def test_host_errors(url: str) -> None:
    fails("host", url)


def test_host_rejects_non_strings() -> None:
    for value in (None, 1, {"url": "http://x"}):
        assert "expected a string" in fails("host", value)


# --- /etc/hosts ---------------------------------------------------------------------------------

DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "amazon.com": ["205.251.242.103", "2600:9000::1"],
    "loopy.example": ["10.0.0.9", "::1"],
    "empty.example": [],
}


@pytest.mark.parametrize(
    ("ipver", "hostname", "hosts", "expected"),
    [
        ("ipv4", "localhost", MISSING, "localhost"),
        ("ipv4", "noresolve.bottlerocket.aws", [["10.0.0.1", ["irrelevant", "noresolve.bottlerocket.aws"]]], ""),
        ("ipv6", "amazon.com", [], ""),
        ("ipv4", "", [["127.0.0.1", ["test.example.com", "test"]]], "test.example.com test"),
        (
            "ipv6",
            "unresolvable.bottlerocket.aws",
            [["::1", ["a.example", "b"]]],
            "unresolvable.bottlerocket.aws a.example b",
        ),
        ("ipv4", "unresolvable.bottlerocket.aws", [["::1", ["a.example", "b"]]], "unresolvable.bottlerocket.aws"),
        ("ipv4", "loopy.example", None, "loopy.example"),
        ("ipv4", "empty.example", None, "empty.example"),
        ("ipv4", "me", [["127.0.0.1", ["x"]], ["10.0.0.1", ["y"]], ["127.0.0.1", ["z", "x"]]], "me x z x"),
        ("ipv6", "me", [["0:0:0:0:0:0:0:1", ["six"]], ["::1", ["more"]]], "me six more"),
        ("ipv4", "me.example", [["127.0.0.1", ["me.example"]]], "me.example"),
        ("ipv6", "me.example", [["127.0.0.1", ["me.example"]]], ""),
    ],
)
def test_localhost_aliases(ipver: str, hostname: str, hosts: Any, expected: str) -> None:
    assert call("localhost_aliases", ipver, hostname, hosts, env=make_env(dns=DNS)) == expected


def test_localhost_aliases_errors() -> None:
    env = make_env(dns=DNS)
    assert "ipver" in fails("localhost_aliases", "ipv5", "x", None, env=env)
    assert "ipver" in fails("localhost_aliases", None, "x", None, env=env)
    assert "(host)" in fails("localhost_aliases", "ipv4", None, None, env=env)
    assert "(host)" in fails("localhost_aliases", "ipv4", MISSING, None, env=env)
    message = fails("localhost_aliases", "ipv4", "x", [["10.0.0.1", ["UPPER"]]], env=env)
    assert "EtcHostsEntries" in message and "ValidLinuxHostname" in message
    assert "EtcHostsEntries" in fails("localhost_aliases", "ipv4", "x", {"10.0.0.1": ["a"]}, env=env)


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (
            [["10.0.0.1", ["test.example.com", "test"]], ["10.0.0.2", ["test.example.com"]]],
            "10.0.0.1 test.example.com test\n10.0.0.2 test.example.com",
        ),
        (
            [["10.0.0.1", ["test.example.com", "test"]], ["127.0.0.1", ["t"]], ["::1", ["t"]]],
            "10.0.0.1 test.example.com test",
        ),
        (MISSING, ""),
        (None, ""),
        ([], ""),
        ([["10.0.0.1", ["a"]], ["2001:0db8::0001", ["b"]], ["10.0.0.1", ["c", "a"]]], "10.0.0.1 a c a\n2001:db8::1 b"),
        ([["::ffff:127.0.0.1", ["mapped"]]], "::ffff:127.0.0.1 mapped"),
    ],
)
def test_etc_hosts_entries(hosts: Any, expected: str) -> None:
    assert call("etc_hosts_entries", hosts) == expected


@pytest.mark.parametrize(
    "hosts",
    [
        [["10.0.0.256", ["a"]]],
        [["10.0.0.1", ["-bad"]]],
        [["10.0.0.1", "a"]],
        [["10.0.0.1"]],
        "10.0.0.1 a",
        [[1, ["a"]]],
    ],
)
def test_etc_hosts_entries_rejects_invalid(hosts: Any) -> None:
    assert "EtcHostsEntries" in fails("etc_hosts_entries", hosts)


# --- kubernetes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("taints", "expected"),
    [
        (
            {"key1": ["value1:NoSchedule"], "key2": ["value2:NoSchedule"]},
            "key1=value1:NoSchedule,key2=value2:NoSchedule",
        ),
        (
            {"key1": ["value1:NoSchedule", "value1:NoExecute"], "key2": ["value2:NoSchedule"]},
            "key1=value1:NoSchedule,key1=value1:NoExecute,key2=value2:NoSchedule",
        ),
        ({}, ""),
        ({"k": []}, ""),
        (MISSING, ""),
        (None, ""),
        (["k=v:NoSchedule"], ""),
    ],
)
def test_join_node_taints(taints: Any, expected: str) -> None:
    assert call("join_node_taints", taints) == expected


@pytest.mark.parametrize("taints", [{"k": None}, {"k": "v:NoSchedule"}, {"k": [1]}, {"k": [["v"]]}])
def test_join_node_taints_errors(taints: Any) -> None:
    assert "'k'" in fails("join_node_taints", taints)


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [(0, "0m"), (1, "60m"), (2, "70m"), (3, "75m"), (4, "80m"), (5, "82m"), (6, "85m"), (47, "187m"), (48, "190m")],
)
def test_kube_reserve_cpu_computed(cpus: int, expected: str) -> None:
    assert call("kube_reserve_cpu", None, env=make_env(cpus=cpus)) == expected
    assert call("kube_reserve_cpu", MISSING, env=make_env(cpus=cpus)) == expected


@pytest.mark.parametrize(("value", "expected"), [("30m", "30m"), (100, "100"), (0.5, "0.5"), ("", "")])
def test_kube_reserve_cpu_configured(value: Any, expected: str) -> None:
    assert call("kube_reserve_cpu", value) == expected


def test_kube_reserve_cpu_errors() -> None:
    bad_values: list[Any] = [[], {"cpu": "1"}]
    for value in bad_values:
        assert "expected a scalar" in fails("kube_reserve_cpu", value)
    assert "out of range" in fails("kube_reserve_cpu", None, env=make_env(cpus=70000))


@pytest.mark.parametrize(
    ("max_pods", "mem", "expected"),
    [
        (29, "1024Mi", "1024Mi"),
        (0, MISSING, "255Mi"),
        (29, MISSING, "574Mi"),
        (110, None, "1465Mi"),
        (29, 2048, "2048"),
    ],
)
def test_kube_reserve_memory(max_pods: Any, mem: Any, expected: str) -> None:
    assert call("kube_reserve_memory", max_pods, mem) == expected


def test_kube_reserve_memory_errors() -> None:
    for max_pods in (MISSING, None, "ten", "29", -1, 29.0, 2.5, True):
        assert "(max_pods)" in fails("kube_reserve_memory", max_pods, "1024Mi")
    bad_mems: list[Any] = [[], {"a": 1}]
    for mem in bad_mems:
        assert "(mem)" in fails("kube_reserve_memory", 29, mem)


# --- CPU count (num_cpus semantics) -------------------------------------------------------------


def _fake_root(tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str]) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/self/mountinfo").write_text(mountinfo)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


V2_MOUNT = "35 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


@pytest.mark.parametrize(
    ("cpu_max", "expected"), [("150000 100000\n", 2), ("100000 100000\n", 1), ("max 100000\n", None), ("1 100000", 1)]
)
def test_cgroup_v2_quota(tmp_path: Path, cpu_max: str, expected: int | None) -> None:
    root = _fake_root(tmp_path, "0::/app.slice/x\n", V2_MOUNT, {"sys/fs/cgroup/app.slice/x/cpu.max": cpu_max})
    assert cgroup_cpu_quota(root) == expected


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    mountinfo = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    files = {
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
    }
    root = _fake_root(tmp_path, "4:cpu,cpuacct:/docker/abc\n1:name=systemd:/x\n", mountinfo, files)
    assert cgroup_cpu_quota(root) == 3
    (root / "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(root) is None


def test_cpu_count_is_limited_by_quota(tmp_path: Path) -> None:
    unlimited = _fake_root(tmp_path / "a", "0::/\n", V2_MOUNT, {"sys/fs/cgroup/cpu.max": "max 100000\n"})
    logical = host_cpu_count(unlimited)
    assert logical >= 1
    limited = _fake_root(tmp_path / "b", "0::/\n", V2_MOUNT, {"sys/fs/cgroup/cpu.max": "50000 100000\n"})
    assert host_cpu_count(limited) == 1
    generous = _fake_root(tmp_path / "c", "0::/\n", V2_MOUNT, {"sys/fs/cgroup/cpu.max": "100000000 1000\n"})
    assert host_cpu_count(generous) == logical
    assert host_cpu_count(tmp_path / "nothing") == logical


# --- ecs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rps", "burst", "expected"),
    [(1, 1, "1,1"), (1, MISSING, "1,60"), (MISSING, 1, "40,1"), (None, None, "40,60"), (2.5, 1e20, "2.5,1e20")],
)
def test_ecs_metadata_service_limits(rps: Any, burst: Any, expected: str) -> None:
    assert call("ecs_metadata_service_limits", rps, burst) == expected


@pytest.mark.parametrize(("rps", "burst"), [([], 1), (1, []), ([], []), ({}, {}), ("1", 1), (1, True)])
def test_ecs_metadata_service_limits_errors(rps: Any, burst: Any) -> None:
    assert "invalid metadata service limits" in fails("ecs_metadata_service_limits", rps, burst)


# --- oci_defaults -------------------------------------------------------------------------------


def oci(runtime: Any, section: str | None, value: Any, efa: bool | None = None) -> Any:
    path = None if section is None else f"settings.oci-defaults.{section}"
    return call("oci_defaults", runtime, Param(value, path=path), env=make_env(efa=efa))


CAPS = {"kill": True, "lease": False, "mac-admin": True, "mknod": True}


def test_oci_defaults_capabilities() -> None:
    joined = '"CAP_KILL",\n"CAP_MAC_ADMIN",\n"CAP_MKNOD"'
    assert oci("docker", "capabilities", CAPS) == f"[{joined}]"
    assert oci("containerd", "capabilities", CAPS) == (
        f'"bounding": [{joined}],\n"effective": [{joined}],\n"permitted": [{joined}]\n'
    )
    assert oci("docker", "capabilities", {}) == "[]"
    assert oci("docker", "capabilities", {"sys-tty-config": True, "audit-write": True}) == (
        '["CAP_AUDIT_WRITE",\n"CAP_SYS_TTY_CONFIG"]'
    )


def test_oci_defaults_resource_limits_order_and_efa() -> None:
    limits = {
        "max-open-files": {"hard-limit": 1048576, "soft-limit": 65536},
        "max-processes": {"hard-limit": "unlimited", "soft-limit": -1},
    }
    assert oci("containerd", "resource-limits", limits, efa=False) == (
        '{ "type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 65536 },\n'
        '{ "type": "RLIMIT_NPROC", "hard": 18446744073709551615, "soft": 18446744073709551615 }'
    )
    assert oci("docker", "resource-limits", limits, efa=True) == (
        ' "nofile":{ "Name": "nofile", "Hard": 1048576, "Soft": 65536 },\n'
        ' "nproc":{ "Name": "nproc", "Hard": -1, "Soft": -1 },\n'
        ' "memlock":{ "Name": "memlock", "Hard": -1, "Soft": -1 }'
    )
    configured = {"max-locked-memory": {"hard-limit": 10, "soft-limit": 5}}
    assert oci("containerd", "resource-limits", configured, efa=True) == (
        '{ "type": "RLIMIT_MEMLOCK", "hard": 10, "soft": 5 }'
    )
    assert oci("containerd", "resource-limits", {}, efa=False) == ""


def test_oci_defaults_errors() -> None:
    assert "invalid output type" in fails(
        "oci_defaults", "podman", Param(CAPS, path="settings.oci-defaults.capabilities")
    )
    assert "expected a string" in fails("oci_defaults", None, Param(CAPS, path="settings.oci-defaults.capabilities"))
    assert "settings path" in fails("oci_defaults", "docker", Param(CAPS))
    assert "'oci-defaults'" in fails("oci_defaults", "docker", Param(CAPS, path="settings.oci-defaults"))
    assert "'caps'" in fails("oci_defaults", "docker", Param(CAPS, path="settings.oci-defaults.caps"))
    for bad in ({"kil": True}, {"kill": "true"}, ["kill"], None):
        with pytest.raises(HelperError, match="oci_defaults: parameter 2"):
            oci("docker", "capabilities", bad)
    for bad_limits in (
        {"max-open-files": {"hard-limit": 1}},
        {"max-files": {"hard-limit": 1, "soft-limit": 1}},
        {"max-open-files": {"hard-limit": -2, "soft-limit": 1}},
        {"max-open-files": {"hard-limit": "100", "soft-limit": 1}},
    ):
        with pytest.raises(HelperError, match="oci_defaults: parameter 2"):
            oci("docker", "resource-limits", bad_limits, efa=False)


def test_oci_defaults_lspci_failure() -> None:
    def broken() -> bool:
        raise HostFactError("Command lspci failed: No such file or directory")

    env = HelperEnvironment(efa_attached=broken)
    param = Param({}, path="settings.oci-defaults.resource-limits")
    with pytest.raises(HelperError, match=r"EFA.*lspci failed"):
        all_helpers(env)["oci_defaults"].fn([Param("docker"), param], {})
    # capabilities never look for EFA
    caps = Param(CAPS, path="settings.oci-defaults.capabilities")
    assert all_helpers(env)["oci_defaults"].fn([Param("docker"), caps], {}).startswith("[")


@pytest.mark.parametrize(
    ("output", "devices"),
    [
        ('00:1e.0 "0200" "1d0f" "efa1" -p00 "1d0f" "efa1"\n', ["efa1"]),
        ('00:05.0 "0200" "1d0f" "ec20" -r01 "1d0f" "ec20"\n00:06.0 "0200" "1d0f" "efa0" "" ""\n', ["ec20", "efa0"]),
        ("", []),
    ],
)
def test_parse_lspci(output: str, devices: Sequence[str]) -> None:
    assert parse_lspci_devices(output) == devices


@pytest.mark.parametrize("output", ['00:1e.0 "0200" "1d0f"\n', "\n", '00:1e.0 "0200" "1d0f" "efa1" -p00 "1d0f"\n'])
def test_parse_lspci_errors(output: str) -> None:
    with pytest.raises(HostFactError):
        parse_lspci_devices(output)


def test_helpers_for_one_extension() -> None:
    env = make_env()
    assert set(helpers_for("kubernetes", env)) == {"join_node_taints", "kube_reserve_cpu", "kube_reserve_memory"}
    with pytest.raises(KeyError):
        helpers_for("no-such-extension", env)


def test_all_helpers_returns_a_fresh_table_each_time() -> None:
    env = make_env(cpus=1)
    first = all_helpers(env)
    first.pop("goarch")
    assert "goarch" in all_helpers(env)
    assert all_helpers(env)["kube_reserve_cpu"].fn([Param(None)], {}) == "60m"
    assert all_helpers(make_env(cpus=48))["kube_reserve_cpu"].fn([Param(None)], {}) == "190m"


# --- the real host readers ----------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "lspci"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_efa_detection_runs_lspci(tmp_path: Path) -> None:
    efa = _script(tmp_path, 'printf "%s|" "$@" > "$0.args"\necho \'00:1e.0 "0200" "1d0f" "efa1" -p00 "1d0f" "efa1"\'\n')
    assert host_efa_attached(efa) is True
    assert (tmp_path / "lspci.args").read_text() == "-n|-m|-d|1d0f:|"
    assert host_efa_attached(_script(tmp_path, 'echo \'00:05.0 "0200" "1d0f" "ec20"\'\n')) is False
    assert host_efa_attached(_script(tmp_path, "exit 0\n")) is False


def test_efa_detection_failures(tmp_path: Path) -> None:
    with pytest.raises(HostFactError, match="Command lspci failed"):
        host_efa_attached(str(tmp_path / "no-such-lspci"))
    with pytest.raises(HostFactError, match="exit status 1"):
        host_efa_attached(_script(tmp_path, "echo broken >&2\nexit 1\n"))
    with pytest.raises(HostFactError, match="missing required field"):
        host_efa_attached(_script(tmp_path, "echo '00:05.0 \"0200\"'\n"))


def test_resolver_reads_the_system_resolver() -> None:
    assert {"127.0.0.1", "::1"} & set(host_resolve("localhost"))
    with pytest.raises(OSError):
        host_resolve("name.invalid")


def test_settings_model_loads_only_when_a_helper_needs_it() -> None:
    code = (
        "import sys\n"
        "from thar.schnauzer.helper_api import Param\n"
        "from thar.schnauzer.helpers import all_helpers\n"
        "helpers = all_helpers()\n"
        "print('pydantic' in sys.modules, 'ada_url' in sys.modules)\n"
        "helpers['ecr-prefix'].fn([Param('eu-west-1')], {})\n"
        "helpers['default'].fn([Param('x'), Param(None)], {})\n"
        "print('pydantic' in sys.modules)\n"
        "helpers['base64_decode'].fn([Param('SGk=')], {})\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "False", "True"]
