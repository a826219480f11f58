"""The filesystem store against Bottlerocket's on-disk layout, byte for byte."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from thar.datastore import (
    LIVE,
    Corruption,
    FilesystemDataStore,
    Key,
    KeyConflict,
    KeyRead,
    KeyType,
    Pending,
    decode_segment,
    encode_segment,
    meta_key,
    to_pairs_with_prefix,
)


def write(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8"))


def files_under(base: Path) -> dict[str, bytes]:
    """Every file of the datastore but the journal and thar's temporary (``~``) names."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if "~" not in d]
        for name in filenames:
            if not name.startswith("journal.sqlite3") and "~" not in name:
                path = Path(dirpath, name)
                found[str(path.relative_to(base))] = path.read_bytes()
    return dict(sorted(found.items()))


@pytest.mark.parametrize(
    ("segment", "encoded"),
    [
        ("a-b_42", "a-b_42"),
        ("a.b", "a%2Eb"),
        ("a/b", "a%2Fb"),
        ("a b%c<d>e", "a%20b%25c%3Cd%3Ee"),
        ("test transaction", "test%20transaction"),
        ("bottlerocket-launch", "bottlerocket-launch"),
        ("~", "%7E"),
        ("é", "%C3%A9"),
    ],
)
def test_segments_are_percent_encoded_with_upper_hex(segment: str, encoded: str) -> None:
    assert encode_segment(segment) == encoded
    assert decode_segment(encoded) == segment


def test_decoding_accepts_any_hex_case_and_keeps_malformed_percent() -> None:
    assert decode_segment("a%2eb") == "a.b"
    assert decode_segment("100%") == "100%"
    assert decode_segment("%zz") == "%zz"


def test_decoding_invalid_utf8_fails() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_segment("%C3%28")


def test_data_and_metadata_paths(fs_store: FilesystemDataStore) -> None:
    base = str(fs_store.base)
    assert fs_store.data_path(Key("a.b.c"), LIVE) == f"{base}/live/a/b/c"
    assert fs_store.data_path(Key("a.b.c"), Pending("test transaction")) == f"{base}/pending/test%20transaction/a/b/c"
    assert fs_store.metadata_path(meta_key("my-metadata"), Key("a.b.c")) == f"{base}/live/a/b/c.my-metadata"
    sysctl = Key('settings.kernel.sysctl."net.ipv4.ip_forward"')
    assert fs_store.data_path(sysctl, LIVE) == f"{base}/live/settings/kernel/sysctl/net%2Eipv4%2Eip_forward"


def test_writes_produce_bottlerocket_files_byte_for_byte(fs_store: FilesystemDataStore) -> None:
    pairs = to_pairs_with_prefix(
        "settings",
        {
            "motd": "Welcome to Bottlerocket!",
            "kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}},
            "ntp": {"time-servers": ["a.example", "b.example"]},
            "x": {"flag": True, "n": 42, "f": 4.2, "u": "é/日本\n"},
        },
    )
    fs_store.set_keys(pairs, Pending("test transaction"))
    fs_store.set_metadata(meta_key("affected-services"), Key("settings.motd"), '["motd"]')
    fs_store.set_metadata(meta_key("setting-generator"), Key("settings.updates.seed"), '"bork seed"')
    fs_store.set_key(Key("services.motd.configuration-files"), '["motd"]', LIVE)
    assert files_under(fs_store.base) == {
        "live/services/motd/configuration-files": b'["motd"]',
        "live/settings/motd.affected-services": b'["motd"]',
        "live/settings/updates/seed.setting-generator": b'"bork seed"',
        "pending/test%20transaction/settings/kernel/sysctl/net%2Eipv4%2Eip_forward": b'"1"',
        "pending/test%20transaction/settings/motd": b'"Welcome to Bottlerocket!"',
        "pending/test%20transaction/settings/ntp/time-servers": b'["a.example","b.example"]',
        "pending/test%20transaction/settings/x/f": b"4.2",
        "pending/test%20transaction/settings/x/flag": b"true",
        "pending/test%20transaction/settings/x/n": b"42",
        "pending/test%20transaction/settings/x/u": '"é/日本\\n"'.encode(),
    }
    fs_store.commit_transaction("test transaction")
    after = files_under(fs_store.base)
    assert after["live/settings/motd"] == b'"Welcome to Bottlerocket!"'
    assert after["live/settings/kernel/sysctl/net%2Eipv4%2Eip_forward"] == b'"1"'
    assert not any(name.startswith("pending/") for name in after)
    assert not (fs_store.base / "pending" / "test%20transaction").exists()
    fs_store.close()  # waits for the dropped transaction's files to be removed
    assert list((fs_store.base / "pending").iterdir()) == []


def test_reads_a_datastore_laid_out_by_bottlerocket(tmp_path: Path) -> None:
    # Built by hand exactly as Bottlerocket's storewolf and apiserver leave it.
    root = tmp_path / "datastore"
    real = root / "v1.26.1_AbCdEfGhIjKlMnOp"
    real.mkdir(parents=True)
    for link, target in [("v1.26.1", real.name), ("v1.26", "v1.26.1"), ("v1", "v1.26"), ("current", "v1")]:
        os.symlink(target, root / link)
    live = real / "live"
    write(live / "settings/motd", '"Welcome to Bottlerocket!"')
    write(live / "settings/kernel/sysctl/net%2Eipv4%2Eip_forward", '"1"')
    write(live / "settings/kubernetes/node-labels/app%2Ekubernetes%2Eio%2Fname", '"web"')
    write(live / "settings/motd.affected-services", '["motd"]')
    write(live / "settings/network.affected-services", '["netdog"]')  # metadata beside a directory
    write(live / "settings/network/hostname.setting-generator", '"netdog generate-hostname"')
    write(live / "services/motd/configuration-files", '["motd"]')
    write(live / "configuration-files/motd/path", '"/etc/motd"')
    write(live / "os/arch", '"x86_64"')
    write(live / "settings/bad key", '"skipped: space is not a key character"')
    write(live / "settings/x.a%2Fb", '"skipped: metadata name with an encoded slash"')
    write(real / "pending/bottlerocket-launch/settings/updates/version-lock", '"latest"')
    write(real / "pending/test%20transaction/settings/motd", '"pending"')
    write(real / "pending/not-a-transaction", "a file, ignored")

    ds = FilesystemDataStore(root / "current")
    assert {k.name: v for k, v in ds.get_prefix("settings.", LIVE).items()} == {
        "settings.motd": '"Welcome to Bottlerocket!"',
        'settings.kernel.sysctl."net.ipv4.ip_forward"': '"1"',
        'settings.kubernetes.node-labels."app.kubernetes.io/name"': '"web"',
    }
    assert len(ds.list_populated_keys("", LIVE)) == 6
    assert ds.list_transactions() == {"bottlerocket-launch", "test transaction"}
    assert ds.get_key(Key("settings.updates.version-lock"), Pending("bottlerocket-launch")) == '"latest"'
    affected = meta_key("affected-services")
    assert ds.get_metadata(affected, Key("settings.network.hostname")) == '["netdog"]'
    assert {k.name for k in ds.list_populated_metadata("settings.", affected)} == {"settings.motd", "settings.network"}
    generators = ds.get_metadata_prefix("", meta_key("setting-generator"))
    assert {k.name: {m.name: v for m, v in ms.items()} for k, ms in generators.items()} == {
        "settings.network.hostname": {"setting-generator": '"netdog generate-hostname"'}
    }
    assert ds.commit_transaction("test transaction") == {Key("settings.motd")}
    assert (live / "settings/motd").read_bytes() == b'"pending"'
    ds.close()


def test_listing_live_without_live_directory_is_corruption(fs_store: FilesystemDataStore) -> None:
    with pytest.raises(Corruption, match="Live datastore missing"):
        fs_store.list_populated_keys("", LIVE)


def test_setting_below_a_value_fails_because_a_file_is_in_the_way(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("a.b"), "1", LIVE)
    with pytest.raises(KeyConflict, match=re.escape("'a.b.c' conflicts with 'a.b'")):
        fs_store.set_key(Key("a.b.c"), "1", LIVE)
    with pytest.raises(KeyConflict):
        fs_store.set_key(Key("a"), "1", LIVE)
    assert fs_store.get_key(Key("a.b"), LIVE) == "1"


def test_reading_a_directory_is_a_read_error(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("a.b"), "1", LIVE)
    with pytest.raises(KeyRead):
        fs_store.get_key(Key("a"), LIVE)


def test_unset_prunes_empty_parents_but_keeps_live(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("settings.a.b.c"), "1", LIVE)
    fs_store.set_key(Key("settings.x"), "1", LIVE)
    fs_store.unset_key(Key("settings.a.b.c"), LIVE)
    assert not (fs_store.base / "live/settings/a").exists()
    assert (fs_store.base / "live/settings/x").exists()
    fs_store.unset_key(Key("settings.x"), LIVE)
    assert (fs_store.base / "live").is_dir()
    assert fs_store.list_populated_keys("", LIVE) == set()


def test_unset_metadata_prunes_like_keys(fs_store: FilesystemDataStore) -> None:
    fs_store.set_metadata(meta_key("m"), Key("settings.deep.key"), "1")
    fs_store.unset_metadata(meta_key("m"), Key("settings.deep.key"))
    assert not (fs_store.base / "live/settings").exists()


def test_listings_do_not_follow_symlinks(fs_store: FilesystemDataStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret", '"no"')
    fs_store.set_key(Key("settings.a"), "1", LIVE)
    os.symlink(outside, fs_store.base / "live/settings/link")
    os.symlink(outside / "secret", fs_store.base / "live/settings/filelink")
    assert {k.name for k in fs_store.list_populated_keys("", LIVE)} == {"settings.a"}


def test_deleting_a_transaction_leaves_no_trace(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("settings.a"), "1", Pending("tx"))
    fs_store.delete_transaction("tx")
    assert fs_store.list_transactions() == set()
    fs_store.close()  # waits for the background removal of the renamed directory
    assert list((fs_store.base / "pending").iterdir()) == []


def test_stored_values_have_no_trailing_newline(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("settings.motd"), '"hi"', LIVE)
    assert (fs_store.base / "live/settings/motd").read_bytes() == b'"hi"'


def test_opening_a_missing_datastore_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(Corruption, match="did storewolf run"):
        FilesystemDataStore(tmp_path / "nope")


def test_a_dot_dot_segment_stays_inside_the_datastore(fs_store: FilesystemDataStore) -> None:
    key = Key('settings."..".x')
    assert key.segments == ("settings", "..", "x")
    fs_store.set_key(key, "1", LIVE)
    assert (fs_store.base / "live/settings/%2E%2E/x").read_bytes() == b"1"
    assert fs_store.list_populated_keys("", LIVE) == {key}


def test_metadata_names_with_slash_are_encoded_and_not_listed(fs_store: FilesystemDataStore) -> None:
    slashed = Key("a/b", KeyType.META)
    fs_store.set_metadata(slashed, Key("settings.x"), '"v"')
    assert (fs_store.base / "live/settings/x.a%2Fb").read_bytes() == b'"v"'
    assert fs_store.get_metadata_raw(slashed, Key("settings.x")) == '"v"'
    # Bottlerocket passes the name after the first "." undecoded to Key::new: "%" is invalid.
    assert fs_store.list_populated_metadata("") == {}


def test_key_populated_is_true_for_a_directory(fs_store: FilesystemDataStore) -> None:
    fs_store.set_key(Key("settings.motd"), '"hi"', LIVE)
    assert fs_store.key_populated(Key("settings"), LIVE)
    assert (fs_store.base / "live/settings").is_dir()


def test_a_missing_pending_directory_lists_no_transactions(fs_store: FilesystemDataStore) -> None:
    assert not (fs_store.base / "pending").exists()
    assert fs_store.list_transactions() == set()
    assert fs_store.delete_transaction("default") == set()
