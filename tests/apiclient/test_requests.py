"""Pure pieces: request construction, transaction names, merging, input parsing, error messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from thar.apiclient.apply import parse_settings_document, read_source, read_sources
from thar.apiclient.client import Request, default_socket_path, transaction_name
from thar.apiclient.ephemeral_storage import init_request, list_request
from thar.apiclient.errors import (
    InvalidFileUri,
    InvalidSettingsJson,
    InvalidUri,
    RequestFailed,
    ResponseStatus,
    SourceHasDatetime,
    SourceMissingSettings,
    SourceNotTable,
    SourceNotTomlOrJson,
    SourceReadFailed,
    TransportError,
    UnsupportedUriScheme,
    UsageError,
)
from thar.apiclient.get import merge_json, prefix_request, settings_request
from thar.apiclient.raw import status_line
from thar.apiclient.report import report_request
from thar.apiclient.set import compact_json, json_request, keypair_request, parse_json_settings
from thar.apiclient.transaction import commit_and_apply_request, delete_request

# -- transaction names


@pytest.mark.parametrize("prefix", ["apiclient-set", "apiclient-apply"])
def test_transaction_names_are_the_prefix_and_16_random_alphanumerics(prefix: str) -> None:
    names = {transaction_name(prefix) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(re.escape(prefix) + "-[A-Za-z0-9]{16}", name)


def test_default_socket_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_socket_path() == "/run/api.sock"
    monkeypatch.setenv("THAR_ROOT", "")
    assert default_socket_path() == "/run/api.sock"
    monkeypatch.setenv("THAR_ROOT", "/srv/thar")
    assert default_socket_path() == "/srv/thar/run/api.sock"


# -- set: key=value items go verbatim; the server does the typing (spec/apiserver.md §6.5)


@pytest.mark.parametrize(
    "item",
    [
        "motd=hi",
        "settings.motd=hi",
        'kubernetes.node-labels."my.label"=hello',
        'settings.kernel.sysctl."net.ipv4.ip_forward"=1',
        "motd=a=b",
        "motd=",
        'motd="42"',
        "updates.seed=42",
        "updates.ignore-waves=true",
        "motd=-5",
        "motd=1.5",
        "motd=null",
        "motd=[1]",
        "motd=héllo wörld",
        "motd= spaced ",
    ],
)
def test_keypair_items_are_sent_verbatim(item: str) -> None:
    request = keypair_request("tx1", [item])
    assert request.method == "PATCH"
    assert request.uri == "/settings/keypair?tx=tx1"
    assert json.loads(request.body or "") == {"request_payload": [item]}


def test_keypair_body_is_compact_json_in_order() -> None:
    request = keypair_request("apiclient-set-x", ["motd=hi", 'kubernetes.node-labels."a.b"=c'])
    assert request.body == '{"request_payload":["motd=hi","kubernetes.node-labels.\\"a.b\\"=c"]}'


def test_json_request_is_compact_with_non_ascii_as_is() -> None:
    request = json_request("t", {"motd": "héllo", "ntp": {"time-servers": ["a", "b"]}})
    assert request == Request("PATCH", "/settings?tx=t", '{"motd":"héllo","ntp":{"time-servers":["a","b"]}}')


def test_compact_json() -> None:
    assert compact_json({"a": [1, 2.5, True, None], "b": "ü"}) == '{"a":[1,2.5,true,null],"b":"ü"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"motd":"a"}', {"motd": "a"}),
        ('{"settings":{"motd":"a"}}', {"motd": "a"}),
        ('{"settings":{"motd":"a"},"motd":"b"}', {"motd": "a"}),
        ('{"motd":"b","settings":{"motd":"a"}}', {"motd": "a"}),
        ('{"settings":{"ntp":{"time-servers":["x"]}},"ntp":{"options":["y"]}}', {"ntp": {"time-servers": ["x"]}}),
        ('{"settings":{}}', {}),
        ("{}", {}),
        ('{"motd":"a","motd":"b"}', {"motd": "b"}),
        ('{"motd":null}', {"motd": None}),
        ('  {"updates": {"seed": 18446744073709551615}}  ', {"updates": {"seed": 18446744073709551615}}),
    ],
)
def test_parse_json_settings(text: str, expected: dict[str, Any]) -> None:
    assert parse_json_settings(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "JSON input must be an object (map)"),
        ("1", "JSON input must be an object (map)"),
        ("null", "JSON input must be an object (map)"),
        ('{"settings":[]}', "JSON 'settings' value must be an object (map)"),
        ('{"settings":"x"}', "JSON 'settings' value must be an object (map)"),
    ],
)
def test_parse_json_settings_rejects_non_objects(text: str, message: str) -> None:
    with pytest.raises(InvalidSettingsJson) as info:
        parse_json_settings(text)
    assert str(info.value) == message
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize("text", ["", "{", "{'motd': 'a'}", '{"a": NaN}', '{"a": Infinity}', "motd=a"])
def test_parse_json_settings_rejects_what_is_not_json(text: str) -> None:
    with pytest.raises(InvalidSettingsJson, match=r"^Couldn't parse given JSON input: "):
        parse_json_settings(text)


# -- the transaction requests


def test_commit_and_apply_and_delete_requests() -> None:
    assert commit_and_apply_request("apiclient-set-Ab12") == Request(
        "POST", "/tx/commit_and_apply?tx=apiclient-set-Ab12"
    )
    assert delete_request("apiclient-set-Ab12") == Request("DELETE", "/tx?tx=apiclient-set-Ab12")


def test_transaction_names_are_percent_encoded_in_queries() -> None:
    assert delete_request("my tx&x").uri == "/tx?tx=my%20tx%26x"


# -- get


@pytest.mark.parametrize(
    ("prefix", "uri"),
    [
        ("settings.motd", "/?prefix=settings.motd"),
        ("os.", "/?prefix=os."),
        ("services.ntp", "/?prefix=services.ntp"),
        ('settings.kernel.sysctl."net.ipv4.ip_forward"', "/?prefix=settings.kernel.sysctl.%22net.ipv4.ip_forward%22"),
        ("settings.host-containers.admin_x", "/?prefix=settings.host-containers.admin_x"),
        ("a b&c=d#e", "/?prefix=a%20b%26c%3Dd%23e"),
    ],
)
def test_prefix_requests_encode_what_a_query_needs(prefix: str, uri: str) -> None:
    assert prefix_request(prefix) == Request("GET", uri)


@pytest.mark.parametrize(
    "text",
    ["settings.motd", "", "~_-./", "a/b,c", "é", "ü/ñ,", "100%", "x\ny", "\u2603", "A-Z_a.z~09", "a,b", "?&=#+"],
)
def test_prefixes_and_keys_are_encoded_as_urllib_encodes_them(text: str) -> None:
    """Plain prefixes skip urllib.parse (start-up time); whatever the text, the URI is urllib's."""
    assert prefix_request(text).uri == "/?prefix=" + quote(text, safe="/")
    assert settings_request(prefix=text).uri == "/settings?prefix=" + quote(text, safe="/")
    assert settings_request(keys=[text, "settings.motd"]).uri == "/settings?keys=" + quote(
        f"{text},settings.motd", safe="/,"
    )


def test_settings_requests() -> None:
    assert settings_request() == Request("GET", "/settings")
    assert settings_request(prefix="motd") == Request("GET", "/settings?prefix=motd")
    assert settings_request(keys=["settings.motd", "settings.ntp.time-servers"]) == Request(
        "GET", "/settings?keys=settings.motd,settings.ntp.time-servers"
    )
    assert settings_request(keys=["settings.a"], prefix="b").uri == "/settings?keys=settings.a"


@pytest.mark.parametrize(
    ("left", "right", "merged"),
    [
        ({}, {"settings": {"motd": "a"}}, {"settings": {"motd": "a"}}),
        (
            {"os": {"arch": "x86_64"}},
            {"settings": {"motd": "a"}},
            {"os": {"arch": "x86_64"}, "settings": {"motd": "a"}},
        ),
        ({"a": {"b": 1}}, {"a": {"c": 2}}, {"a": {"b": 1, "c": 2}}),
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 3}}}, {"a": {"b": {"c": 1, "d": 3}}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"b": 1}}, {"a": 3}, {"a": 3}),
        ({"a": 3}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({"a": 1}, {}, {"a": 1}),
        ({"a": 1}, [1], [1]),
    ],
)
def test_merge_json_is_a_deep_merge_where_the_right_wins(left: Any, right: Any, merged: Any) -> None:
    before = json.dumps(left)
    assert merge_json(left, right) == merged
    assert json.dumps(left) == before


# -- apply: reading and converting sources


def test_toml_source() -> None:
    document = parse_settings_document("a", '[settings]\nmotd = "A"\n[settings.ntp]\ntime-servers = ["x"]\n')
    assert document.settings == {"motd": "A", "ntp": {"time-servers": ["x"]}}


def test_json_source_and_other_top_level_keys_are_ignored() -> None:
    assert parse_settings_document("b", '{"settings":{"motd":"B"},"other":1}').settings == {"motd": "B"}


def test_neither_toml_nor_json_names_both_errors() -> None:
    with pytest.raises(SourceNotTomlOrJson) as info:
        parse_settings_document("file:///x", "settings = = 1")
    message = str(info.value)
    assert message.startswith("Input 'file:///x' is not valid TOML or JSON.  (TOML error: ")
    assert ")  (JSON error: " in message


@pytest.mark.parametrize("text", ["[1, 2]", '"settings"', "3"])
def test_a_document_must_be_a_table(text: str) -> None:
    with pytest.raises(SourceNotTable, match=r"^Settings from 's' are not a TOML table / JSON object$"):
        parse_settings_document("s", text)


@pytest.mark.parametrize("text", ["", "\n", 'motd = "a"', '{"motd": "a"}', "[setting]\nmotd = 'a'"])
def test_a_document_needs_a_settings_key(text: str) -> None:
    with pytest.raises(
        SourceMissingSettings, match=r"^Settings from 's' did not contain a 'settings' key at top level$"
    ):
        parse_settings_document("s", text)


def test_toml_dates_cannot_be_settings() -> None:
    with pytest.raises(SourceHasDatetime, match="1979-05-27"):
        parse_settings_document("s", "[settings]\nmotd = 1979-05-27\n")


def test_duplicate_toml_tables_are_an_error() -> None:
    with pytest.raises(SourceNotTomlOrJson):
        parse_settings_document("s", "[settings]\nmotd = 'a'\n[settings]\nmotd = 'b'\n")


@pytest.mark.parametrize("source", ["", "//host/a"])
def test_nothing_or_an_authority_without_a_scheme_is_not_a_uri(source: str) -> None:
    with pytest.raises(InvalidUri) as info:
        read_source(source)
    assert str(info.value) == f"Given invalid URI '{source}': relative URL without a base"


@pytest.mark.parametrize("form", ["absolute", "relative", "dot-relative"])
def test_a_plain_path_is_read_as_a_file(form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.toml").write_text('[settings]\nmotd = "a"\n')
    monkeypatch.chdir(tmp_path)
    source = {"absolute": str(tmp_path / "a.toml"), "relative": "a.toml", "dot-relative": "./a.toml"}[form]
    assert read_source(source) == '[settings]\nmotd = "a"\n'
    with pytest.raises(SourceReadFailed, match=re.escape("Failed to read given file 'b.toml'")):
        read_source("b.toml")


@pytest.mark.parametrize("source", ["file://otherhost/etc/x.toml", "file:relative.toml"])
def test_a_file_uri_must_name_a_local_path(source: str) -> None:
    with pytest.raises(InvalidFileUri, match=re.escape(f"Given invalid file URI '{source}'")):
        read_source(source)


def test_other_schemes_are_refused() -> None:
    with pytest.raises(UnsupportedUriScheme, match="unsupported scheme 'ftp'"):
        read_source("ftp://example.com/a.toml")


def test_file_uris_are_read_with_percent_decoding(tmp_path: Path) -> None:
    path = tmp_path / "my settings.toml"
    path.write_text('[settings]\nmotd = "x"\n')
    assert read_source(path.as_uri()) == '[settings]\nmotd = "x"\n'
    assert read_source("file://localhost" + path.as_uri()[len("file://") :]) == '[settings]\nmotd = "x"\n'


def test_an_unreadable_file_names_the_source(tmp_path: Path) -> None:
    uri = (tmp_path / "missing.toml").as_uri()
    with pytest.raises(SourceReadFailed, match=f"^Failed to read given file '{re.escape(uri)}': "):
        read_source(uri)


def test_stdin_source_reads_the_given_bytes() -> None:
    assert read_source("-", lambda: b'{"settings":{}}') == '{"settings":{}}'
    with pytest.raises(SourceReadFailed, match=r"^Failed to read given file '-': "):
        read_source("-", lambda: b"\xff\xfe")


def test_sources_keep_input_order(tmp_path: Path) -> None:
    uris = []
    for i in range(9):
        path = tmp_path / f"{i}.toml"
        path.write_text(f'[settings]\nmotd = "{i}"\n')
        uris.append(path.as_uri())
    assert [d.settings["motd"] for d in read_sources(uris)] == [str(i) for i in range(9)]


def test_the_first_failing_source_in_input_order_is_reported(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[settings]\nmotd = "x"\n')
    with pytest.raises(InvalidUri, match="'//b'"):
        read_sources([good.as_uri(), "//b", (tmp_path / "missing").as_uri()])


# -- report and ephemeral-storage


def test_report_request_rejects_unknown_kinds() -> None:
    assert report_request("cis", level=1, format="json").uri == "/report/cis?type=bottlerocket&format=json&level=1"
    assert report_request("fips", level=1).uri == "/report/fips?"
    with pytest.raises(ValueError):
        report_request("stig")


def test_ephemeral_requests() -> None:
    assert init_request("xfs", ["/dev/x"]).body == '{"filesystem":"Xfs","disks":["/dev/x"]}'
    with pytest.raises(KeyError):
        init_request("btrfs")
    with pytest.raises(ValueError):
        list_request("list-things")


# -- messages


def test_status_line_uses_the_standard_reason_phrase() -> None:
    assert status_line(200) == "200 OK"
    assert status_line(204) == "204 No Content"
    assert status_line(422) == "422 Unprocessable Entity"
    assert status_line(599) == "599 <unknown status code>"


def test_response_status_message() -> None:
    error = ResponseStatus("POST", "/tx/commit_and_apply?tx=t", 422, "Tried to commit with no pending changes")
    assert str(error) == "Status 422 when POSTing /tx/commit_and_apply?tx=t: Tried to commit with no pending changes"
    wrapped = RequestFailed("POST", "/tx/commit_and_apply?tx=t", error)
    assert str(wrapped) == f"Failed POST request to '/tx/commit_and_apply?tx=t': {error}"
    assert wrapped.status == 422
    assert RequestFailed("GET", "/", TransportError("/s", "boom")).status is None
