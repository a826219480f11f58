"""Modeled types against the conformance cases (``shared/conformance/modeled-types-cases.json``),
plus the rules of spec §2.1-2.2 the cases do not pin down."""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from thar.models.registry import rust_types

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
CASES: list[dict[str, Any]] = [
    case
    for case in json.loads((CONFORMANCE / "modeled-types-cases.json").read_text(encoding="utf-8"))
    if case.get("baseline") is not False
]


@functools.cache
def adapter(rust_name: str) -> TypeAdapter[Any]:
    types = rust_types()
    if rust_name not in types:
        pytest.fail(f"no model type is registered for the Rust type {rust_name}")
    return TypeAdapter(types[rust_name])


def case_input(case: dict[str, Any]) -> Any:
    if case["input_format"] == "toml":
        return tomllib.loads(case["input"])
    return case["input"]  # "str" and "json": the JSON value itself


@pytest.mark.parametrize("case", CASES, ids=[f"{case['id']}-{case['type']}" for case in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    model = adapter(case["type"])
    try:
        value = model.validate_python(case_input(case))
    except ValidationError as exc:
        assert not case["valid"], f"rejected a valid value: {exc}"
        return
    assert case["valid"], f"accepted an invalid value as {value!r}"
    if "serialized" in case:
        assert model.dump_python(value, mode="json", by_alias=True, exclude_none=True) == case["serialized"]


def validate(rust_name: str, value: Any) -> Any:
    model = adapter(rust_name)
    return model.dump_python(model.validate_python(value), mode="json")


def error_of(rust_name: str, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        adapter(rust_name).validate_python(value)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return str(errors[0]["msg"]).removeprefix("Value error, ")


# --- error texts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rust_name", "value", "message"),
    [
        ("Url", "how are you", "Unable to deserialize into Url: Given invalid URL 'how are you'"),
        (
            "SysctlKey",
            "a/../b",
            "Unable to deserialize into SysctlKey: Invalid sysctl key 'a/../b': must not contain '..'",
        ),
        ("Lockdown", "None", "Unable to deserialize into Lockdown: Invalid Linux lockdown mode 'None'"),
        ("BootstrapMode", "Once", "Unable to deserialize into BootstrapMode: Invalid bootstrap mode 'Once'"),
        ("KernelCpuSetValue", "1-", "Unable to deserialize into KernelCpuSetValue: Invalid Kernel CpuSet value '1-'"),
        ("FriendlyVersion", "v1.0", "Unable to deserialize into FriendlyVersion: Invalid version string 'v1.0'"),
        (
            "SingleLineString",
            "a\nb",
            "Unable to deserialize into SingleLineString: Can't create SingleLineString containing line terminator",
        ),
        (
            "DNSDomain",
            "123.123.123.123",
            "Unable to deserialize into DNSDomain: Invalid domain name '123.123.123.123': "
            "IP address is not a valid domain name",
        ),
        ("IpAddr", "1.2.3.04", "Unable to deserialize into IpAddr: invalid IP address syntax"),
        (
            "IntegerPercent",
            "101",
            "Unable to deserialize into IntegerPercent: '101' must be between 0 and 100 (inclusive)",
        ),
        (
            "NonNegativeInteger",
            -1,
            "Unable to deserialize into NonNegativeInteger: number must be greater than or equal to 0",
        ),
        (
            "ApiclientCommand",
            ["/usr/bin/touch", "x"],
            "Unable to deserialize into ApiclientCommand: "
            'Invalid Bottlerocket API Command \'["/usr/bin/touch", "x"]\': the first word must be apiclient',
        ),
        (
            "PemCertificateString",
            base64.b64encode(b"no certificate here\n").decode(),
            "Unable to deserialize into PemCertificateString: No valid certificate found in bundle",
        ),
    ],
)
def test_rejections_name_the_type_and_the_reason(rust_name: str, value: Any, message: str) -> None:
    assert error_of(rust_name, value) == message


@pytest.mark.parametrize("rust_name", ["SingleLineString", "Url", "ValidBase64", "Identifier", "IpAddr", "SysctlKey"])
@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"a": "b"}])
def test_string_types_take_only_strings(rust_name: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        adapter(rust_name).validate_python(value)


# --- strings kept as given --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rust_name", "value"),
    [
        ("Url", "https://example.com/a/../b"),
        ("Url", "EXAMPLE.com:8080"),
        ("DNSDomain", "Cluster.LOCAL"),
        ("DNSDomain", "bücher.example"),
        ("FriendlyVersion", "v1.2.3-rc.1+build.007"),
        ("ValidBase64", "aGk="),
        ("SysctlKey", "net/ipv4.ip_forward"),
    ],
)
def test_validated_strings_store_the_original_text(rust_name: str, value: str) -> None:
    assert validate(rust_name, value) == value


# --- ValidBase64 -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["aGk", "aGl=", "aGk=\n", " aGk=", "aGk==", "aG-_", "=", "aGk=aGk="])
def test_base64_must_be_canonical_standard_base64(value: str) -> None:
    with pytest.raises(ValidationError):
        adapter("ValidBase64").validate_python(value)


@given(st.binary(max_size=64))
def test_any_canonical_base64_is_accepted(data: bytes) -> None:
    text = base64.b64encode(data).decode()
    assert validate("ValidBase64", text) == text


# --- Url / DNSDomain ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["localhost:8080", ".internal", "http://", "ntp://127.0.0.1/path", "[::1]:123", "http://a%20b", "https://[::1"],
)
def test_url_accepts_what_whatwg_accepts_with_or_without_a_scheme(value: str) -> None:
    assert validate("Url", value) == value


@pytest.mark.parametrize("value", ["", "weird@", "not a url", "exa mple.com", "[::1", "ex%ample.com"])
def test_url_rejects_what_whatwg_rejects_even_with_a_scheme_added(value: str) -> None:
    with pytest.raises(ValidationError):
        adapter("Url").validate_python(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('https://a/"\nfoo: bar', "a URL parser would percent-encode '\"' (U+0022): write it as %22"),
        ("http://proxy\nLD_PRELOAD=/x.so", "a URL parser would remove U+000A (line feed): leave it out"),
        ("http://a/\tb", "a URL parser would remove U+0009 (tab): leave it out"),
        ("http://a/\rb", "a URL parser would remove U+000D (carriage return): leave it out"),
        (" https://a", "a URL parser would remove U+0020: leave it out"),
        ("https://a ", "a URL parser would remove U+0020: leave it out"),
        ("http://a/b c", "a URL parser would percent-encode U+0020: write it as %20"),
        ("http://a/b\x00", "a URL parser would remove U+0000 (NUL): leave it out"),
        ("http://a/b\x7fc", "a URL parser would percent-encode U+007F (delete): write it as %7F"),
        ('http://"proxy:3128', "a URL parser would percent-encode '\"' (U+0022): write it as %22"),
        ("http://a/<b>", "a URL parser would percent-encode '<' (U+003C): write it as %3C"),
        ("http://a/#`x", "a URL parser would percent-encode '`' (U+0060): write it as %60"),
        ("https://x/{variant}/", "a URL parser would percent-encode '{' (U+007B): write it as %7B"),
        ("http://a/?q='x", 'a URL parser would percent-encode "\'" (U+0027): write it as %27'),
        ("http://a/p^q", "a URL parser would percent-encode '^' (U+005E): write it as %5E"),
        ("http://us|er@a/", "a URL parser would percent-encode '|' (U+007C): write it as %7C"),
        ("http://a/ü", "a URL parser would percent-encode 'ü' (U+00FC): write it as %C3%BC"),
        ("socks5://proxy\\", "'\\' (U+005C) is read as '/' by WHATWG URL parsers and kept by others: write '/' or %5C"),
        ("https://a\\b", "'\\' (U+005C) is read as '/' by WHATWG URL parsers and kept by others: write '/' or %5C"),
    ],
)
def test_url_rejects_what_a_whatwg_parser_would_strip_or_escape(value: str, reason: str) -> None:
    """thar only: Bottlerocket stores these as given, and templates then write them verbatim."""
    shown = json.dumps(value, ensure_ascii=False)[1:-1] if any(c < " " or c == "\x7f" for c in value) else value
    assert error_of("Url", value) == f"Unable to deserialize into Url: Given invalid URL '{shown}': {reason}"


@pytest.mark.parametrize(
    "value",
    ["http://a/%22x%22", "http://a/?a=b&c=d;e", "https://bücher.example/", "aws:///us-west-2a/i-0123", "http://a/|x"],
)
def test_url_keeps_what_a_whatwg_parser_keeps(value: str) -> None:
    assert validate("Url", value) == value


@pytest.mark.parametrize("char", ['"', "'", "{", "}", "*", "&", "!", "=", ",", "$", "%", "~", "+", "`"])
def test_dns_domain_holds_only_letters_digits_hyphens_underscores_and_dots(char: str) -> None:
    """thar only: WHATWG hosts may hold these; kubelet's clusterDomain is written unquoted into YAML."""
    value = f"a{char}b.local"
    assert error_of("DNSDomain", value).startswith(
        f"Unable to deserialize into DNSDomain: Invalid domain name '{value}': "
    )
    assert validate("DNSDomain", "my_zone-1.bücher.example") == "my_zone-1.bücher.example"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty host"),
        (".a", "must not start with '.'"),
        ("foo/com", "invalid domain character"),
        ("a@b", "invalid domain character"),
        ("a:80", "invalid domain character"),
        ("foo%2Fcom", "invalid domain character"),
        ("a.1", "invalid IPv4 address"),
        ("0x7f.1", "IP address is not a valid domain name"),
        ("[2001:db8::ff00:42:8329]", "IP address is not a valid domain name"),
        ("[::1", "invalid IPv6 address"),
    ],
)
def test_dns_domain_must_parse_as_a_domain_host(value: str, reason: str) -> None:
    assert (
        error_of("DNSDomain", value) == f"Unable to deserialize into DNSDomain: Invalid domain name '{value}': {reason}"
    )


# --- FriendlyVersion -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["0.0.0", "v10.20.30", "1.0.0-0.3.7", "1.0.0-x-y-z.--", "1.0.0+001", "1.0.0-alpha+b.c"]
)
def test_friendly_version_accepts_semver(value: str) -> None:
    assert validate("FriendlyVersion", value) == value


@pytest.mark.parametrize(
    "value", ["01.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.0-01", "1.0.0 ", "latest ", "1.0.18446744073709551616"]
)
def test_friendly_version_rejects_what_rust_semver_rejects(value: str) -> None:
    with pytest.raises(ValidationError):
        adapter("FriendlyVersion").validate_python(value)


# --- KernelCpuSetValue -----------------------------------------------------------------------------

UPSTREAM_CPUSET = re.compile(r"^([0-9]+(-[0-9]+)?,?)*([0-9]+(-[0-9]+)?)+\Z")


@given(st.text(alphabet="0123,-", max_size=12))
def test_cpuset_matches_exactly_what_the_upstream_pattern_matches(value: str) -> None:
    try:
        adapter("KernelCpuSetValue").validate_python(value)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == bool(UPSTREAM_CPUSET.match(value))


def test_cpuset_rejects_long_non_matches_in_linear_time() -> None:
    start = time.perf_counter()
    for value in ["1" * 10_000 + "a", "1-2" * 5_000 + "-", "1," * 5_000 + ",", "1" * 24 + "."]:
        with pytest.raises(ValidationError):
            adapter("KernelCpuSetValue").validate_python(value)
    assert time.perf_counter() - start < 1.0


# --- IpAddr, EtcHostsEntries, KubernetesClusterDnsIp -------------------------------------------


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("0000:0000:0000:0000:0000:0000:0000:0001", "::1"),
        ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("0:0:0:0:0:ffff:a00:1", "::ffff:10.0.0.1"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_ip_addresses_are_stored_canonical(value: str, canonical: str) -> None:
    assert validate("IpAddr", value) == canonical


@pytest.mark.parametrize(
    "value", ["", "1.2.3", "1.2.3.4/32", "01.2.3.4", "256.1.1.1", "[::1]", "fe80::1%eth0", " ::1", "1.2.3.４", "::1::2"]
)
def test_ip_addresses_reject_zones_brackets_prefixes_and_leading_zeros(value: str) -> None:
    with pytest.raises(ValidationError):
        adapter("IpAddr").validate_python(value)


def test_etc_hosts_entries_canonicalise_ips_and_keep_repeats_in_order() -> None:
    given = [["127.0.0.1", ["localhost"]], ["0:0::1", ["localhost6"]], ["127.0.0.1", ["extra"]]]
    assert validate("EtcHostsEntries", given) == [
        ["127.0.0.1", ["localhost"]],
        ["::1", ["localhost6"]],
        ["127.0.0.1", ["extra"]],
    ]


@pytest.mark.parametrize(
    "value",
    [
        [["127.0.0.1"]],
        [["127.0.0.1", ["a"], "x"]],
        [["127.0.0.1", "localhost"]],
        [["127.0.0.1", [None]]],
        [None],
        {"127.0.0.1": ["localhost"]},
    ],
)
def test_etc_hosts_entries_are_pairs_of_ip_and_hostname_list(value: Any) -> None:
    with pytest.raises(ValidationError):
        adapter("EtcHostsEntries").validate_python(value)


def test_cluster_dns_ip_keeps_the_shape_given() -> None:
    assert validate("KubernetesClusterDnsIp", "0:0::1") == "::1"
    assert validate("KubernetesClusterDnsIp", ["10.0.0.10", "0:0::a"]) == ["10.0.0.10", "::a"]
    assert error_of("KubernetesClusterDnsIp", ["10.0.0.10", "x"]) == (
        "Unable to deserialize into KubernetesClusterDnsIp: element 1 'x': invalid IP address syntax"
    )
    for value in [None, 10, {"ip": "10.0.0.10"}, [None]]:
        with pytest.raises(ValidationError):
            adapter("KubernetesClusterDnsIp").validate_python(value)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [], {}, 4.5, "4.5", " 4", "4 ", "0x10", "٤", "1_0", "2147483648", 2**31])
def test_integer_percent_rejects_anything_but_an_i32_text(value: Any) -> None:
    with pytest.raises(ValidationError):
        adapter("IntegerPercent").validate_python(value)


@pytest.mark.parametrize(("value", "stored"), [(0, 0), ("-0", "0"), ("+100", "100"), ("007", "7"), (55, 55)])
def test_integer_percent_keeps_number_or_string_form(value: Any, stored: Any) -> None:
    assert validate("IntegerPercent", value) == stored


@pytest.mark.parametrize("value", [2**31, True, 1.0, "1", None])
def test_non_negative_integer_takes_only_i32_integers(value: Any) -> None:
    with pytest.raises(ValidationError):
        adapter("NonNegativeInteger").validate_python(value)


# --- PemCertificateString ------------------------------------------------------------------------


@functools.cache
def certificate_pem(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


@pytest.mark.parametrize(
    "bundle",
    [
        "one",
        "two",
        "comments",
        "crlf",
        "no final newline",
    ],
)
def test_pem_bundles_of_certificates_are_accepted_and_stored_as_given(bundle: str) -> None:
    one, two = certificate_pem("one"), certificate_pem("two")
    text = {
        "one": one,
        "two": one + two,
        "comments": "# a comment\n" + one + "between\n" + two + "after\n",
        "crlf": one.replace("\n", "\r\n"),
        "no final newline": one.rstrip("\n"),
    }[bundle]
    assert validate("PemCertificateString", b64(text)) == b64(text)


@pytest.mark.parametrize("value", ["", "   ", "\n\t", "\u3000"])
def test_pem_blank_value_is_accepted_to_delete_a_bundle(value: str) -> None:
    assert validate("PemCertificateString", value) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("incomplete", "Invalid PEM object: Incomplete PEM (no -----END line)"),
        ("bad body", "Invalid PEM object: Base64 decode error"),
        ("not a certificate", "Invalid x509 certificate"),
        ("second incomplete", "Invalid PEM object: Incomplete PEM (no -----END line)"),
    ],
)
def test_pem_bundles_fail_on_any_bad_block(text: str, reason: str) -> None:
    one = certificate_pem("one")
    key_der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    bundle = {
        "incomplete": one.replace("-----END CERTIFICATE-----", ""),
        "bad body": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        "not a certificate": f"-----BEGIN CERTIFICATE-----\n{b64(key_der)}\n-----END CERTIFICATE-----\n",
        "second incomplete": one + "-----BEGIN CERTIFICATE-----\n",
    }[text]
    assert error_of("PemCertificateString", b64(bundle)).startswith(
        f"Unable to deserialize into PemCertificateString: {reason}"
    )


def test_pem_rejects_bad_base64_and_non_utf8_text() -> None:
    assert error_of("PemCertificateString", "not base64").startswith(
        "Unable to deserialize into PemCertificateString: Invalid base64 input"
    )
    assert "valid UTF-8" in error_of("PemCertificateString", b64(b"\xff" + certificate_pem("one").encode()))


# --- the module itself -----------------------------------------------------------------------------


def test_every_shared_type_is_registered_by_its_rust_name() -> None:
    from thar.models.modeled_types import shared

    exported = {name for name in shared.__all__ if name not in ("RUST_TYPES", "StrictStr")}
    assert exported == set(shared.RUST_TYPES)
    assert all(shared.RUST_TYPES[name] is getattr(shared, name) for name in exported)


def test_every_shared_type_has_a_json_schema() -> None:
    from thar.models.modeled_types import shared

    for name, model in shared.RUST_TYPES.items():
        assert TypeAdapter(model).json_schema(), name
