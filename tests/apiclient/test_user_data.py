"""`apiclient get --toml`: the settings as a TOML user-data file, read back with tomllib as `get` prints them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.apiclient.peer import ApiPeer, Recorded
from thar.apiclient.cli import main
from thar.apiclient.errors import SettingsNotToml
from thar.apiclient.user_data import user_data_toml

SETTINGS: dict[str, Any] = {
    "motd": 'Welcome\x1b[1m to "thar"\\x41 \x7f é 😀',
    "ntp": {"time-servers": ["a.example", "b.example"]},
    "kernel": {"sysctl": {"vm.max_map_count": "262144"}, "lockdown": "integrity"},
    "kubernetes": {"node-labels": {"my.label": "x", "": "empty"}, "max-pods": 110, "standalone-mode": True},
    "container-registry": {
        "credentials": [{"registry": "docker.io", "auth": "c2VjcmV0"}, {"registry": "ecr", "username": "u"}],
        "mirrors": [{"registry": "docker.io", "endpoint": ["https://m1", "https://m2"]}],
    },
    "host-containers": {"admin": {"enabled": False, "superpowered": True}, "control": {}},
    "updates": {"seed": 2040, "ratio": 0.5, "targets": []},
}


def by_prefix(request: Recorded) -> tuple[int, str]:
    """`GET /?prefix=P`: the settings under P (a prefix of a dotted path), as the server nests them."""
    prefix = request.query["prefix"]
    if prefix in ("settings", "settings."):
        return 200, json.dumps({"settings": SETTINGS})
    top = prefix.removeprefix("settings.").split(".")[0]
    return 200, json.dumps({"settings": {top: SETTINGS[top]}} if top in SETTINGS else {})


def run(capsys: pytest.CaptureFixture[str], peer: ApiPeer, *argv: str) -> tuple[int, str, str]:
    code = main(["-s", peer.socket_path, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "prefixes",
    [
        ["settings."],
        ["settings"],
        ["settings.motd"],
        ["settings.container-registry", "settings.ntp"],
        ["settings.kernel", "settings.nothing-here"],
        ["settings.nothing-here"],
    ],
)
def test_the_toml_reads_back_as_the_json_get_output(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, prefixes: list[str]
) -> None:
    peer.route("GET", "/", by_prefix)
    code, as_json, err = run(capsys, peer, "get", *prefixes)
    assert (code, err) == (0, "")
    code, as_toml, err = run(capsys, peer, "get", "--toml", *prefixes)
    assert (code, err) == (0, "")
    assert tomllib.loads(as_toml) == json.loads(as_json)


def test_without_prefixes_it_is_every_setting_and_no_os(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    code, out, _ = run(capsys, peer, "get", "--toml")
    assert code == 0
    assert peer.sent() == [("GET", "/?prefix=settings.")]
    assert tomllib.loads(out) == {"settings": SETTINGS}


def test_it_is_written_as_bottlerocket_user_data(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", by_prefix)
    out = run(capsys, peer, "get", "--toml", "settings.motd", "settings.ntp", "settings.container-registry")[1]
    assert out == (
        "[settings]\n"
        'motd = "Welcome\\u001b[1m to \\"thar\\"\\\\x41 \\u007f é 😀"\n'
        "\n"
        "[settings.ntp]\n"
        'time-servers = ["a.example", "b.example"]\n'
        "\n"
        "[settings.container-registry]\n"
        "[[settings.container-registry.credentials]]\n"
        'registry = "docker.io"\n'
        'auth = "c2VjcmV0"\n'
        "\n"
        "[[settings.container-registry.credentials]]\n"
        'registry = "ecr"\n'
        'username = "u"\n'
        "\n"
        "[[settings.container-registry.mirrors]]\n"
        'registry = "docker.io"\n'
        'endpoint = ["https://m1", "https://m2"]\n'
        "\n"
    )


def test_applying_the_output_sends_the_same_settings(
    capsys: pytest.CaptureFixture[str], peer: ApiPeer, tmp_path: Path
) -> None:
    """The file reproduces the host: `apiclient apply` of it PATCHes exactly the settings read."""
    peer.route("GET", "/", by_prefix)
    user_data = tmp_path / "user-data.toml"
    user_data.write_text(run(capsys, peer, "get", "--toml")[1], encoding="utf-8")
    assert run(capsys, peer, "apply", user_data.as_uri())[0] == 0
    patch = peer.requests[1]
    assert (patch.method, patch.path, patch.json()) == ("PATCH", "/settings", SETTINGS)


def test_a_null_setting_is_a_runtime_error(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    peer.route("GET", "/", (200, '{"settings": {"motd": null}}'))
    code, out, err = run(capsys, peer, "get", "--toml")
    assert (code, out) == (1, "")
    assert err == (
        "Failed to get settings: The settings cannot be written as TOML: "
        "'settings.motd' is null, which TOML has no way to write\n"
    )


def test_a_failed_request_is_reported_as_for_json(capsys: pytest.CaptureFixture[str], peer: ApiPeer) -> None:
    code, out, err = run(capsys, peer, "get", "--toml", "settings.motd")
    assert (code, out) == (1, "")
    assert err.startswith("Failed to get settings: Failed GET request to '/?prefix=settings.motd': Status 404")


# JSON values as the API returns them: no nulls (TOML has none), text without surrogates, keys
# printable (as the server's key grammar has them).
keys = st.text(st.characters(blacklist_categories=["Cs"]).filter(str.isprintable), max_size=8)
scalars = (
    st.text(st.characters(blacklist_categories=["Cs"]))
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.booleans()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(keys, values, max_size=5))
def test_any_settings_read_back_as_written(settings: dict[str, Any]) -> None:
    document = {"settings": settings}
    assert tomllib.loads(user_data_toml(document)) == document


def test_what_toml_cannot_hold_raises() -> None:
    with pytest.raises(SettingsNotToml, match=r"'settings\.a\[1\]' is null"):
        user_data_toml({"settings": {"a": [1, None]}})
    with pytest.raises(SettingsNotToml, match="a TOML document is a table"):
        user_data_toml(["settings"])
    with pytest.raises(SettingsNotToml, match="a key in 'settings' holds an unprintable character"):
        user_data_toml({"settings": {"a\x1b": 1}})
    with pytest.raises(SettingsNotToml, match="does not read back as the same values"):
        user_data_toml({"settings": {"a\\x41": 1}})  # the package's key quoting mangles `\x`
