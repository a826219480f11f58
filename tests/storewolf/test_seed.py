"""storewolf's algorithm (spec: storewolf-and-committer.md §2.2), called as a library."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Key, KeyType, Pending, Version, from_map_with_prefix, meta_key
from thar.storewolf import (
    LAUNCH_TRANSACTION,
    DefaultMetadata,
    Defaults,
    DefaultSettingsNotTable,
    DefaultsMetadataUnexpectedFormat,
    Internal,
    InvalidDefaultsKey,
    InventorySymlink,
    MultilineKey,
    SerializationFailed,
    create_inventory_symlink,
    load_variant_defaults,
    parse_metadata_toml,
    seed,
)

from .helpers import SPEC_DEFAULTS, commit_launch, datastore_files

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
BOTTLEROCKET_VARIANTS = sorted(p.name for p in (CONFORMANCE / "defaults").iterdir() if (p / "defaults.d").is_dir())
V1 = Version(1, 0, 0)


def run(base: Path, toml_text: str) -> None:
    seed(base, Defaults(tomllib.loads(toml_text), Path("defaults.toml")), V1, durable=False)


def live(base: Path, name: str) -> str | None:
    ds = FilesystemDataStore(base / "current", durable=False)
    try:
        return ds.get_key(Key(name), LIVE)
    finally:
        ds.close()


def metadata(base: Path, data_key: str, name: str) -> str | None:
    ds = FilesystemDataStore(base / "current", durable=False)
    try:
        return ds.get_metadata_raw(meta_key(name), Key(data_key))
    finally:
        ds.close()


def launch(base: Path) -> dict[Key, str]:
    ds = FilesystemDataStore(base / "current", durable=False)
    try:
        return ds.get_prefix("", Pending(LAUNCH_TRANSACTION))
    finally:
        ds.close()


# -- metadata walk --------------------------------------------------------------------------------
def test_metadata_leaves_are_strings_or_arrays_named_by_their_last_segment() -> None:
    table = tomllib.loads(SPEC_DEFAULTS)["metadata"]
    assert parse_metadata_toml(table) == [
        DefaultMetadata("settings.motd", "affected-services", ["motd"]),
        DefaultMetadata("settings.updates", "affected-services", ["updog", "thar-be-updates"]),
        DefaultMetadata("settings.updates.seed", "setting-generator", "bork seed"),
        DefaultMetadata(
            "settings.host-containers.admin.source",
            "setting-generator",
            "schnauzer-v2 render --requires 'aws@v1(helpers=[ecr-prefix])' --template "
            "'{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.11.13'",
        ),
    ]


def test_metadata_data_keys_are_joined_without_quoting(tmp_path: Path) -> None:
    table = tomllib.loads('[settings.kernel.sysctl."net.ipv4.ip_forward"]\naffected-services = ["sysctl"]\n')
    assert parse_metadata_toml(table) == [
        DefaultMetadata("settings.kernel.sysctl.net.ipv4.ip_forward", "affected-services", ["sysctl"])
    ]
    run(tmp_path, '[metadata.settings.kernel.sysctl."net.ipv4.ip_forward"]\naffected-services = ["sysctl"]\n')
    assert datastore_files(tmp_path) == {
        "live/settings/kernel/sysctl/net/ipv4/ip_forward.affected-services": b'["sysctl"]'
    }


@pytest.mark.parametrize(
    "toml_text",
    ["x = 1", "x = 1.5", "x = true", "x = 1979-05-27T07:32:00Z", "[a.b]\nc = false"],
    ids=["integer", "float", "boolean", "datetime", "nested-boolean"],
)
def test_metadata_of_another_type_is_an_error(toml_text: str) -> None:
    with pytest.raises(DefaultsMetadataUnexpectedFormat, match="Default settings' metadata has unexpected types"):
        parse_metadata_toml({"settings": tomllib.loads(toml_text)})


def test_metadata_that_is_not_a_table_is_an_error() -> None:
    with pytest.raises(DefaultsMetadataUnexpectedFormat):
        parse_metadata_toml(5)
    with pytest.raises(Internal, match="empty path"):
        parse_metadata_toml("a string")


def test_metadata_without_a_data_key_is_an_internal_error() -> None:
    with pytest.raises(Internal, match="Internal error: Cannot create empty metadata data key"):
        parse_metadata_toml({"affected-services": ["motd"]})


@pytest.mark.parametrize("where", ["data", "name"])
def test_metadata_keys_cannot_contain_newlines(where: str) -> None:
    table: dict[str, Any] = {"settings": {"a\nb": {"x": "y"}}} if where == "data" else {"settings": {"a\nb": "y"}}
    with pytest.raises(MultilineKey, match="Keys can't contain newlines"):
        parse_metadata_toml(table)


def test_an_invalid_metadata_data_key_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(InvalidDefaultsKey, match=re.escape("Unable to create Data key 'settings.bad key'")) as info:
        run(tmp_path, '[metadata.settings."bad key"]\naffected-services = []\n')
    assert info.value.key == "settings.bad key"


def test_an_invalid_metadata_name_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(InvalidDefaultsKey, match=re.escape("Unable to create Meta key 'a.b'")):
        run(tmp_path, '[metadata.settings.motd]\n"a.b" = "x"\n')


def test_settings_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(DefaultSettingsNotTable, match=r"^'settings' key in defaults is not a TOML table$"):
        run(tmp_path, 'settings = "motd"\n')


def test_a_value_the_datastore_cannot_hold_is_a_serialization_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationFailed, match="Error serializing default settings"):
        run(tmp_path, "[settings]\nwhen = 1979-05-27\n")


# -- what goes where --------------------------------------------------------------------------------
def test_settings_go_to_the_launch_transaction_and_the_rest_to_live(tmp_path: Path) -> None:
    run(tmp_path, SPEC_DEFAULTS)
    assert launch(tmp_path) == {
        Key("settings.motd"): '"Welcome to Bottlerocket!"',
        Key("settings.updates.version-lock"): '"latest"',
    }
    assert live(tmp_path, "settings.motd") is None
    assert live(tmp_path, "services.motd.restart-commands") == "[]"
    assert metadata(tmp_path, "settings.updates.seed", "setting-generator") == '"bork seed"'


def test_other_top_level_entries_go_to_live(tmp_path: Path) -> None:
    run(tmp_path, 'top = 1\n[extra.table]\nvalue = "x"\n')
    assert live(tmp_path, "top") == "1"
    assert live(tmp_path, "extra.table.value") == '"x"'


def test_existing_live_values_and_metadata_are_never_overwritten(tmp_path: Path) -> None:
    run(tmp_path, SPEC_DEFAULTS)
    commit_launch(tmp_path)
    ds = FilesystemDataStore(tmp_path / "current", durable=False)
    ds.commit_changes({Key("settings.motd"): '"set by the user"'}, "default")
    ds.close()

    changed = (
        SPEC_DEFAULTS.replace('motd = "Welcome to Bottlerocket!"', 'motd = "A new default"')
        .replace("restart-commands = []", 'restart-commands = ["/bin/true"]')
        .replace('affected-services = ["motd"]', 'affected-services = ["motd", "other"]')
        .replace('"bork seed"', '"bork seed --new"')
    )
    run(tmp_path, changed)

    assert launch(tmp_path) == {}
    assert live(tmp_path, "settings.motd") == '"set by the user"'
    assert live(tmp_path, "services.motd.restart-commands") == "[]"
    assert metadata(tmp_path, "settings.motd", "affected-services") == '["motd"]'
    assert metadata(tmp_path, "settings.updates.seed", "setting-generator") == '"bork seed"'


def test_metadata_removed_from_the_defaults_stays(tmp_path: Path) -> None:
    run(tmp_path, SPEC_DEFAULTS)
    run(tmp_path, '[settings]\nmotd = "x"\n')
    assert metadata(tmp_path, "settings.motd", "affected-services") == '["motd"]'


def test_keys_and_metadata_new_to_the_defaults_are_added_on_a_later_boot(tmp_path: Path) -> None:
    run(tmp_path, SPEC_DEFAULTS)
    commit_launch(tmp_path)
    added = (
        SPEC_DEFAULTS
        + '\n[settings.ntp]\ntime-servers = ["169.254.169.123"]\n'
        + '\n[services.chronyd]\nconfiguration-files = ["chrony-conf"]\nrestart-commands = ["/bin/true"]\n'
        + '\n[metadata.settings.ntp]\naffected-services = ["chronyd"]\n'
    ).replace(
        '[metadata.settings.motd]         # -> live metadata: data key "settings.motd", name "affected-services"\n',
        '[metadata.settings.motd]\nsetting-generator = "motd-gen"\n',
    )
    run(tmp_path, added)
    assert launch(tmp_path) == {Key("settings.ntp.time-servers"): '["169.254.169.123"]'}
    assert live(tmp_path, "services.chronyd.restart-commands") == '["/bin/true"]'
    assert metadata(tmp_path, "settings.ntp", "affected-services") == '["chronyd"]'
    assert metadata(tmp_path, "settings.motd", "setting-generator") == '"motd-gen"'  # beside existing metadata
    assert metadata(tmp_path, "settings.motd", "affected-services") == '["motd"]'


def test_a_live_key_compares_by_segments(tmp_path: Path) -> None:
    run(tmp_path, 'settings.kernel.sysctl."net.ipv4.ip_forward" = "1"\n')
    commit_launch(tmp_path)
    run(tmp_path, 'settings.kernel.sysctl."net.ipv4.ip_forward" = "0"\n')
    assert launch(tmp_path) == {}
    assert live(tmp_path, 'settings.kernel.sysctl."net.ipv4.ip_forward"') == '"1"'


def test_the_caller_s_defaults_are_not_modified(tmp_path: Path) -> None:
    table = tomllib.loads(SPEC_DEFAULTS)
    seed(tmp_path, Defaults(table, Path("d")), V1, durable=False)
    assert set(table) == {"settings", "services", "configuration-files", "metadata"}


def test_the_version_function_is_called_only_to_create_a_datastore(tmp_path: Path) -> None:
    calls: list[str] = []

    def version() -> Version:
        calls.append("called")
        return V1

    defaults = Defaults(tomllib.loads(SPEC_DEFAULTS), Path("d"))
    first = seed(tmp_path, defaults, version, durable=False)
    second = seed(tmp_path, defaults, version, durable=False)
    assert calls == ["called"]
    assert first.created is not None and second.created is None
    assert second.metadata == set() and second.other == set()
    assert second.settings == {Key("settings.motd"), Key("settings.updates.version-lock")}  # never committed


def test_inventory_symlink_cannot_replace_a_directory(tmp_path: Path) -> None:
    (tmp_path / "link").mkdir()
    with pytest.raises(InventorySymlink, match="Could not delete old inventory symlink"):
        create_inventory_symlink("/target", tmp_path / "link")


def test_inventory_symlink_is_idempotent(tmp_path: Path) -> None:
    create_inventory_symlink("/a", tmp_path / "x/y/link")
    create_inventory_symlink("/b", tmp_path / "x/y/link")
    assert (tmp_path / "x/y/link").readlink() == Path("/b")


# -- real variants --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "directory",
    [
        *(pytest.param(variants.path(name), id=name) for name in variants.names()),
        *(pytest.param(CONFORMANCE / "defaults" / name, id=name) for name in BOTTLEROCKET_VARIANTS),
    ],
)
def test_seeding_a_variant_stages_exactly_its_default_settings(tmp_path: Path, directory: Path) -> None:
    defaults = load_variant_defaults(directory)
    assert defaults.variant is not None
    seed(tmp_path, defaults, V1, durable=False)

    ds = FilesystemDataStore(tmp_path / "current", durable=False)
    try:
        pending = from_map_with_prefix(ds.get_prefix("settings.", Pending(LAUNCH_TRANSACTION)), "settings")
        other_pending = ds.list_populated_keys("", Pending(LAUNCH_TRANSACTION)) - set(
            ds.list_populated_keys("settings.", Pending(LAUNCH_TRANSACTION))
        )
        services = from_map_with_prefix(ds.get_prefix("services.", LIVE), "services")
        generators = ds.get_metadata_prefix("", meta_key("setting-generator"))
    finally:
        ds.close()
    raw = defaults.table["settings"]
    parse = defaults.variant.parse_settings
    # storewolf stores the TOML values as they are (spec step 5)…
    assert pending == raw
    # …which read through the variant's model are exactly the defaults' settings.
    assert parse(pending).dump() == parse(raw).dump()
    assert other_pending == set()
    assert services == defaults.table["services"]
    assert generators  # every variant has setting generators (hostname at least)
    assert all(key.segments[0] == "settings" and k.type is KeyType.META for key, m in generators.items() for k in m)


def test_the_conformance_data_is_there() -> None:
    assert len(BOTTLEROCKET_VARIANTS) == 17


def test_a_table_form_setting_generator_is_stored_as_one_json_value() -> None:
    from thar.storewolf.seed import parse_metadata_toml

    found = parse_metadata_toml(
        {"settings": {"x": {"setting-generator": {"command": "gen x", "skip-if-populated": False}}}}
    )
    assert [(m.data_key, m.name, m.value) for m in found] == [
        ("settings.x", "setting-generator", {"command": "gen x", "skip-if-populated": False})
    ]
