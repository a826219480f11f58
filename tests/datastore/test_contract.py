"""The DataStore contract, on both backends: values, listings, metadata, transactions, commits."""

from __future__ import annotations

import pytest

from thar.datastore import (
    LIVE,
    Caller,
    CommitWithNoPending,
    DataStore,
    InvalidTransaction,
    Key,
    KeyConflict,
    Pending,
    meta_key,
    to_pairs_with_prefix,
)


def k(name: str) -> Key:
    return Key(name)


def names(keys: object) -> set[str]:
    assert isinstance(keys, (set, dict))
    return {key.name for key in keys}


def test_get_key_of_an_unset_key_is_none(store: DataStore) -> None:
    assert store.get_key(k("settings.motd"), LIVE) is None
    assert store.get_key(k("settings.motd"), Pending("default")) is None


def test_set_then_get_returns_the_stored_string_unchanged(store: DataStore) -> None:
    store.set_key(k("settings.motd"), '"hi"', LIVE)
    assert store.get_key(k("settings.motd"), LIVE) == '"hi"'
    assert store.key_populated(k("settings.motd"), LIVE)


def test_pending_and_live_are_separate(store: DataStore) -> None:
    store.set_key(k("settings.motd"), '"pending"', Pending("default"))
    assert store.get_key(k("settings.motd"), LIVE) is None
    assert store.get_key(k("settings.motd"), Pending("other")) is None
    assert store.get_key(k("settings.motd"), Pending("default")) == '"pending"'


def test_a_prefix_of_a_populated_key_counts_as_populated(store: DataStore) -> None:
    store.set_key(k("settings.a.b"), "1", LIVE)
    assert store.key_populated(k("settings.a"), LIVE)
    assert store.key_populated(k("settings"), LIVE)
    assert not store.key_populated(k("settings.b"), LIVE)


def test_unset_key_removes_and_tolerates_absence(store: DataStore) -> None:
    store.set_key(k("settings.a"), "1", LIVE)
    store.unset_key(k("settings.a"), LIVE)
    store.unset_key(k("settings.a"), LIVE)
    assert store.get_key(k("settings.a"), LIVE) is None


def test_list_populated_keys_matches_the_prefix_as_a_string(store: DataStore) -> None:
    for name in ("settings.a", "settings.ab.c", "settings.b", "services.x.restart-commands"):
        store.set_key(k(name), "1", LIVE)
    assert names(store.list_populated_keys("settings.a", LIVE)) == {"settings.a", "settings.ab.c"}
    assert names(store.list_populated_keys("settings.", LIVE)) == {"settings.a", "settings.ab.c", "settings.b"}
    assert len(store.list_populated_keys("", LIVE)) == 4


def test_prefix_matching_uses_canonical_names_with_quotes(store: DataStore) -> None:
    store.set_key(k('settings.kernel.sysctl."net.ipv4.ip_forward"'), '"1"', LIVE)
    assert names(store.list_populated_keys('settings.kernel.sysctl."net', LIVE)) == {
        'settings.kernel.sysctl."net.ipv4.ip_forward"'
    }
    assert store.list_populated_keys("settings.kernel.sysctl.net", LIVE) == set()


def test_get_prefix_returns_values(store: DataStore) -> None:
    store.set_keys(to_pairs_with_prefix("settings", {"motd": "hi", "ntp": {"time-servers": ["a"]}}), LIVE)
    assert {key.name: v for key, v in store.get_prefix("settings.", LIVE).items()} == {
        "settings.motd": '"hi"',
        "settings.ntp.time-servers": '["a"]',
    }


def test_listing_a_missing_transaction_is_empty(store: DataStore) -> None:
    assert store.list_populated_keys("", Pending("nothing-here")) == set()


def test_metadata_is_inherited_from_the_longest_prefix(store: DataStore) -> None:
    mymeta = meta_key("mymeta")
    store.set_metadata(mymeta, k("a"), '"value"')
    assert store.get_metadata(mymeta, k("a.b.c")) == '"value"'
    assert store.get_metadata_raw(mymeta, k("a.b.c")) is None
    store.set_metadata(mymeta, k("a.b"), '"closer"')
    assert store.get_metadata(mymeta, k("a.b.c")) == '"closer"'
    assert store.get_metadata(mymeta, k("a.x")) == '"value"'
    assert store.get_metadata(mymeta, k("b")) is None


def test_metadata_needs_no_data_key(store: DataStore) -> None:
    store.set_metadata(meta_key("affected-services"), k("settings.motd"), '["motd"]')
    assert store.get_key(k("settings.motd"), LIVE) is None
    assert store.get_metadata(meta_key("affected-services"), k("settings.motd")) == '["motd"]'


def test_get_metadata_prefix_example_from_bottlerocket(store: DataStore) -> None:
    store.set_metadata(meta_key("metatest1"), k("x.1"), "41")
    store.set_metadata(meta_key("metatest2"), k("x.2"), "42")
    store.set_metadata(meta_key("metatest3"), k("y.3"), "43")
    everything = store.get_metadata_prefix("x.")
    assert {d.name: {m.name: v for m, v in ms.items()} for d, ms in everything.items()} == {
        "x.1": {"metatest1": "41"},
        "x.2": {"metatest2": "42"},
    }
    only2 = store.get_metadata_prefix("x.", meta_key("metatest2"))
    assert {d.name: {m.name: v for m, v in ms.items()} for d, ms in only2.items()} == {"x.2": {"metatest2": "42"}}


def test_list_populated_metadata_lists_only_keys_with_a_match(store: DataStore) -> None:
    store.set_metadata(meta_key("a"), k("settings.x"), "1")
    store.set_metadata(meta_key("b"), k("settings.y"), "2")
    assert names(store.list_populated_metadata("settings.", meta_key("a"))) == {"settings.x"}
    assert names(store.list_populated_metadata("settings.")) == {"settings.x", "settings.y"}


def test_unset_metadata(store: DataStore) -> None:
    store.set_metadata(meta_key("m"), k("settings.x"), "1")
    store.unset_metadata(meta_key("m"), k("settings.x"))
    store.unset_metadata(meta_key("m"), k("settings.x"))
    assert store.get_metadata_raw(meta_key("m"), k("settings.x")) is None


def test_commit_moves_only_settings_keys_and_returns_them(store: DataStore) -> None:
    store.set_key(k("settings.motd"), '"hi"', Pending("tx"))
    store.set_key(k("os.arch"), '"x86_64"', Pending("tx"))
    assert names(store.commit_transaction("tx")) == {"settings.motd"}
    assert store.get_key(k("settings.motd"), LIVE) == '"hi"'
    assert store.get_key(k("os.arch"), LIVE) is None
    assert "tx" not in store.list_transactions()
    assert store.get_key(k("os.arch"), Pending("tx")) is None


def test_commit_overwrites_live_and_never_deletes(store: DataStore) -> None:
    store.set_keys({k("settings.a"): "1", k("settings.b"): "2"}, Pending("default"))
    store.commit_transaction("default")
    store.set_key(k("settings.a"), "3", Pending("default"))
    assert names(store.commit_transaction("default")) == {"settings.a"}
    assert store.get_key(k("settings.a"), LIVE) == "3"
    assert store.get_key(k("settings.b"), LIVE) == "2"


def test_empty_commit_is_its_own_error_and_keeps_the_transaction(store: DataStore) -> None:
    with pytest.raises(CommitWithNoPending):
        store.commit_transaction("default")
    store.set_key(k("os.only"), "1", Pending("migration"))
    with pytest.raises(CommitWithNoPending) as info:
        store.commit_transaction("migration")
    assert info.value.transaction == "migration"
    assert "migration" in store.list_transactions()
    assert store.get_key(k("os.only"), Pending("migration")) == "1"


def test_transactions_are_listed_and_deleted(store: DataStore) -> None:
    store.set_key(k("settings.a"), "1", Pending("test transaction"))
    store.set_key(k("settings.b"), "1", Pending("bottlerocket-launch"))
    store.set_key(k("os.c"), "1", Pending("bottlerocket-launch"))
    assert store.list_transactions() == {"test transaction", "bottlerocket-launch"}
    assert names(store.delete_transaction("bottlerocket-launch")) == {"settings.b"}
    assert store.list_transactions() == {"test transaction"}
    assert store.delete_transaction("never-existed") == set()


def test_an_empty_transaction_name_is_rejected(store: DataStore) -> None:
    with pytest.raises(InvalidTransaction):
        store.set_key(k("settings.a"), "1", Pending(""))


def test_a_key_cannot_be_both_a_value_and_a_prefix(store: DataStore) -> None:
    store.set_key(k("settings.a.b"), "1", LIVE)
    with pytest.raises(KeyConflict):
        store.set_key(k("settings.a"), "1", LIVE)
    store.set_key(k("settings.c"), "1", LIVE)
    with pytest.raises(KeyConflict):
        store.set_key(k("settings.c.d"), "1", LIVE)


def test_a_conflicting_commit_writes_nothing(store: DataStore) -> None:
    store.set_key(k("settings.a"), "1", LIVE)
    store.set_keys({k("settings.z"): "9", k("settings.a.b"): "2"}, Pending("tx"))
    with pytest.raises(KeyConflict):
        store.commit_transaction("tx")
    assert names(store.list_populated_keys("", LIVE)) == {"settings.a"}
    assert store.history() == []
    assert "tx" in store.list_transactions()


def test_commit_changes_can_remove_keys_and_replace_a_value_by_a_subtree(store: DataStore) -> None:
    store.set_key(k("settings.a"), "1", LIVE)
    store.commit_changes({k("settings.a"): None, k("settings.a.b"): "2"}, "reshape")
    assert {key.name: v for key, v in store.get_prefix("", LIVE).items()} == {"settings.a.b": "2"}


def test_every_commit_is_a_generation_with_its_caller_and_changes(store: DataStore) -> None:
    store.set_key(k("settings.motd"), '"one"', Pending("default"))
    store.commit_transaction("default", Caller(uid=0, gid=0, pid=4242))
    store.set_key(k("settings.motd"), '"two"', Pending("second"))
    store.commit_transaction("second")
    newest, oldest = store.history()
    assert (oldest.generation, oldest.transaction, oldest.caller) == (1, "default", Caller(0, 0, 4242))
    assert (newest.generation, newest.transaction, newest.caller) == (2, "second", None)
    assert oldest.changes[k("settings.motd")].old is None
    assert newest.changes[k("settings.motd")].old == '"one"'
    assert newest.changes[k("settings.motd")].new == '"two"'
    assert newest.keys == ["settings.motd"]
    assert oldest.time.endswith("Z") and "T" in oldest.time


def test_restore_changes_returns_live_to_a_generation(store: DataStore) -> None:
    store.set_keys({k("settings.a"): "1", k("settings.b"): "1"}, Pending("default"))
    store.commit_transaction("default")  # generation 1
    store.set_keys({k("settings.a"): "2", k("settings.c"): "2"}, Pending("default"))
    store.commit_transaction("default")  # generation 2
    store.set_keys({k("settings.a"): "3"}, Pending("default"))
    store.commit_transaction("default")  # generation 3
    after_1 = {key.name: v for key, v in store.get_prefix("", LIVE).items()}
    restore = store.restore_changes(1)
    assert {key.name: v for key, v in restore.items()} == {"settings.a": "1", "settings.c": None}
    store.commit_changes(restore, "rollback")
    assert {key.name: v for key, v in store.get_prefix("", LIVE).items()} == {"settings.a": "1", "settings.b": "1"}
    assert after_1 == {"settings.a": "3", "settings.b": "1", "settings.c": "2"}
    # The rollback is itself a generation, so it can be rolled back too.
    store.commit_changes(store.restore_changes(3), "undo-rollback")
    assert {key.name: v for key, v in store.get_prefix("", LIVE).items()} == after_1
    assert [c.generation for c in store.history()] == [5, 4, 3, 2, 1]


def test_restore_to_generation_zero_undoes_every_commit(store: DataStore) -> None:
    store.set_key(k("settings.pre"), "0", LIVE)
    store.set_keys({k("settings.pre"): "1", k("settings.new"): "1"}, Pending("default"))
    store.commit_transaction("default")
    assert {key.name: v for key, v in store.restore_changes(0).items()} == {"settings.pre": "0", "settings.new": None}


def test_history_filters(store: DataStore) -> None:
    for i, name in enumerate(["settings.motd", "settings.ntp.time-servers", "settings.motd"]):
        store.set_key(k(name), str(i), Pending("default"))
        store.commit_transaction("default")
    assert [c.generation for c in store.history(limit=2)] == [3, 2]
    assert [c.generation for c in store.history(before=3)] == [2, 1]
    assert [c.generation for c in store.history(prefix="settings.ntp")] == [2]
    assert [c.generation for c in store.history(prefix="settings.motd", limit=1)] == [3]


def test_restore_changes_of_an_unknown_generation_is_an_error(store: DataStore) -> None:
    from thar.datastore import JournalError

    with pytest.raises(JournalError, match="Generation 7 is not in the history"):
        store.restore_changes(7)
    with pytest.raises(JournalError):
        store.journal.get(1)


def test_removing_a_key_that_only_prefixes_others_changes_nothing(store: DataStore) -> None:
    store.set_key(k("settings.a.b"), "1", LIVE)
    commit = store.commit_changes({k("settings.a"): None}, "remove-prefix")
    assert commit.changes[k("settings.a")].old is None
    assert {key.name: v for key, v in store.get_prefix("", LIVE).items()} == {"settings.a.b": "1"}
