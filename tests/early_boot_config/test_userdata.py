"""User data decoding: optional gzip (the spec's vectors), TOML to settings, merging."""

from __future__ import annotations

import gzip

import pytest

from thar.early_boot_config.compression import decode_text, expand_maybe
from thar.early_boot_config.errors import DecompressFailed, ProviderError, UserDataError
from thar.early_boot_config.paths import Paths
from thar.early_boot_config.providers import ProviderOutput, parse_protocol_output
from thar.early_boot_config.run import merge_settings
from thar.early_boot_config.userdata import parse_user_data

# spec/early-boot-config.md §5.6: plain text and its gzip bytes (from upstream's unit tests).
GZIP_VECTORS = [
    ("", "1f8b0808386339600003656d7074790003000000000000000000"),
    ("4", "1f8b08086f6339600003666f757200330100381bb6f301000000"),
    ("42", "1f8b08087c6b39600003616e73776572003331020088b0243202000000"),
    ("hi there", "1f8b0808d24f396000036869746865726500cbc85428c9482d4a0500ec76a3e308000000"),
]


@pytest.mark.parametrize(("plain", "hex_gzip"), GZIP_VECTORS)
def test_gzip_vectors_decode(plain: str, hex_gzip: str) -> None:
    assert expand_maybe(bytes.fromhex(hex_gzip)) == plain.encode()
    assert expand_maybe(plain.encode()) == plain.encode()


def test_a_partial_magic_passes_through() -> None:
    assert expand_maybe(b"\x1f") == b"\x1f"
    assert expand_maybe(b"\x1fA") == b"\x1fA"


def test_only_the_first_member_is_read() -> None:
    assert expand_maybe(gzip.compress(b"one") + gzip.compress(b"two")) == b"one"
    assert expand_maybe(gzip.compress(b"one") + b"trailing junk") == b"one"


@pytest.mark.parametrize("data", [b"\x1f\x8b\x08\x00garbage", gzip.compress(b"truncated stream")[:-12]])
def test_corrupt_gzip_is_an_error(data: bytes) -> None:
    with pytest.raises(DecompressFailed, match="Failed to decompress user data"):
        expand_maybe(data, "test")


def test_decoded_text_must_be_utf8() -> None:
    with pytest.raises(DecompressFailed, match="not UTF-8"):
        decode_text(gzip.compress(b"\xff\xfe"))


def test_settings_are_unwrapped_and_the_rest_dropped() -> None:
    text = '[settings]\nmotd = "x"\n[settings.kernel.sysctl]\n"a.b" = "1"\n[other]\nz = 1\n'
    assert parse_user_data(text, "f") == {"motd": "x", "kernel": {"sysctl": {"a.b": "1"}}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[settings\n", "line 1, column"),
        ('[settings]\nmotd = "a"\nmotd = "b"\n', "key settings.motd is set twice: at line 3, first at line 2"),
        (
            "[settings.kubernetes]\na = 1\n\n[settings.kubernetes]\n",
            "table [settings.kubernetes] is declared twice: at line 4, first at line 1",
        ),
        (
            '[settings."a.b"]\n[settings."a.b"]\n',
            'table [settings."a.b"] is declared twice: at line 2, first at line 1',
        ),
        ('[settings]\nmotd = "x"\n[settings.motd]\n', "table [settings.motd] at line 3 redefines settings.motd"),
        ("settings.a = {b = 1}\nsettings.a.c = 2\n", "settings.a was given whole as an inline table"),
        ("motd = 'x'\n", "did not contain 'settings'"),
        ("settings = 5\n", "'settings' must be a table, not a integer"),
        ("[settings.a]\nb = [1979-05-27T07:32:00Z]\n", "settings.a.b[0] = 1979-05-27T07:32:00+00:00"),
    ],
)
def test_bad_user_data_says_where(text: str, message: str) -> None:
    with pytest.raises(UserDataError, match=r"Invalid user data from f: ") as info:
        parse_user_data(text, "f")
    assert message in str(info.value)


def test_merging_is_per_key_with_lists_whole_and_null_ignored() -> None:
    left = {"motd": "a", "ntp": {"time-servers": ["x", "y"], "options": ["o"]}, "kernel": {"lockdown": "none"}}
    right = {"ntp": {"time-servers": ["z"]}, "kernel": None, "motd": None, "updates": {"seed": 1}}
    assert merge_settings(left, right) == {
        "motd": "a",
        "ntp": {"time-servers": ["z"], "options": ["o"]},
        "kernel": {"lockdown": "none"},
        "updates": {"seed": 1},
    }


def test_protocol_output_round_trips() -> None:
    output = ProviderOutput({"motd": "m"}, "desc")
    assert parse_protocol_output("p", 0, output.to_line().encode() + b"\n") == output
    assert parse_protocol_output("p", 0, b"\n") is None


@pytest.mark.parametrize(
    ("code", "stdout", "message"),
    [
        (1, b"it broke\n", "Provider 'p' failed: it broke (exit code 1)"),
        (-9, b"", "killed by signal 9"),
        (0, b"\xff", "not UTF-8"),
        (0, b"[1]", "is not"),
        (0, b'{"json": 5, "desc": "d"}', "not a JSON object"),
    ],
)
def test_protocol_failures(code: int, stdout: bytes, message: str) -> None:
    with pytest.raises(ProviderError) as info:
        parse_protocol_output("p", code, stdout)
    assert message in str(info.value)


def test_paths_derive_from_thar_root_and_environment() -> None:
    paths = Paths.from_environment({"THAR_ROOT": "/sandbox", "EARLY_BOOT_CONFIG_USER_DATA": "/elsewhere.toml"})
    assert str(paths.user_data_defaults) == "/sandbox/local/user-data-defaults.toml"
    assert str(paths.user_data) == "/elsewhere.toml"
    assert str(paths.marker) == "/sandbox/var/lib/bottlerocket/early-boot-config.ran"
    assert str(paths.providers_dir) == "/sandbox/usr/libexec/early-boot-config/data-providers.d"
    assert Paths.from_environment({}).imds_endpoint == "http://169.254.169.254"
    # What the command passes to provider processes brings them to the same paths.
    carried = Paths.from_environment({"THAR_ROOT": "/other", **paths.environment()})
    assert carried.user_data == paths.user_data and carried.imds_endpoint == paths.imds_endpoint
    assert carried.user_data_overrides == paths.user_data_overrides
