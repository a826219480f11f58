"""The journal's redo side: records not marked applied are replayed when a datastore opens."""

from __future__ import annotations

import os
from pathlib import Path

from thar.datastore import LIVE, Caller, Change, FilesystemDataStore, Key, Pending


def interrupted_commit(base: Path, changes: dict[str, str | None], tx: str = "default") -> None:
    """Leave a datastore as a commit killed right after its journal record was written."""
    ds = FilesystemDataStore(base)
    record = {Key(name): Change(ds.get_key(Key(name), LIVE), new) for name, new in changes.items()}
    ds.journal.record(tx, Caller(0, 0, 1), record)
    ds.journal.close()  # no close(): that would mark the record applied
    os.close(ds._base_fd)


def test_an_unapplied_record_is_replayed_on_open(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_keys({Key("settings.a"): "1", Key("settings.gone"): "1"}, Pending("default"))
        ds.commit_transaction("default")
    interrupted_commit(tmp_path, {"settings.a": "2", "settings.b": "2", "settings.gone": None})
    with FilesystemDataStore(tmp_path) as ds:
        assert {k.name: v for k, v in ds.get_prefix("", LIVE).items()} == {"settings.a": "2", "settings.b": "2"}
        assert ds.journal.unapplied() == []
        assert [c.generation for c in ds.history()] == [2, 1]


def detach(base: Path, tx: str, generation: int) -> None:
    """Leave a transaction as a commit of ``generation`` leaves it once it has taken it out of
    the listing (datastore/README.md: ``pending/.~commit-<generation>-<tx>``)."""
    os.rename(base / "pending" / tx, base / "pending" / f".~commit-{generation}-{tx}")


def test_a_transaction_detached_by_a_recorded_commit_is_dropped_and_later_staging_kept(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_key(Key("settings.a"), "1", Pending("done"))
        ds.set_key(Key("settings.a"), "1", Pending("restaged"))
    interrupted_commit(tmp_path, {"settings.a": "1"}, tx="done")
    detach(tmp_path, "done", 1)
    with FilesystemDataStore(tmp_path) as ds:
        assert ds.get_key(Key("settings.a"), LIVE) == "1"
        # "restaged" holds what "done" committed, but nothing took it away: it is kept.
        assert ds.list_transactions() == {"restaged"}
        assert not [p for p in (tmp_path / "pending").iterdir() if "~" in p.name]


def test_a_transaction_detached_by_a_commit_killed_before_its_record_is_put_back(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_keys({Key("settings.a"): "1", Key("settings.b"): "2"}, Pending("mine"))
    detach(tmp_path, "mine", 1)
    with FilesystemDataStore(tmp_path) as ds:
        assert ds.list_transactions() == {"mine"}
        assert ds.get_prefix("settings.", Pending("mine")) == {Key("settings.a"): "1", Key("settings.b"): "2"}
        assert ds.history() == []
    assert not (tmp_path / "live").exists()


def test_replay_removes_temporary_files_left_by_a_killed_write(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_key(Key("settings.a"), "1", Pending("default"))
        ds.commit_transaction("default")
    (tmp_path / "live/settings/.~0123456789ab").write_bytes(b"half a val")
    (tmp_path / "pending/.~drop-0123456789abcdef/settings").mkdir(parents=True)
    interrupted_commit(tmp_path, {"settings.a": "2"})
    with FilesystemDataStore(tmp_path) as ds:
        assert sorted(p.name for p in (tmp_path / "live/settings").iterdir()) == ["a"]
        assert list((tmp_path / "pending").iterdir()) == []
        assert ds.get_key(Key("settings.a"), LIVE) == "2"


def test_temporary_files_are_never_listed(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_key(Key("settings.a"), "1", LIVE)
        (tmp_path / "live/settings/.~0123456789ab").write_bytes(b"1")
        (tmp_path / "live/settings/a.~0123").write_bytes(b"1")
        assert {k.name for k in ds.list_populated_keys("", LIVE)} == {"settings.a"}
        assert ds.list_populated_metadata("") == {}


def test_history_survives_reopening(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_key(Key("settings.a"), "1", Pending("default"))
        ds.commit_transaction("default", Caller(1000, 1000, 77))
    with FilesystemDataStore(tmp_path) as ds:
        (commit,) = ds.history()
        assert (commit.generation, commit.caller, commit.keys) == (1, Caller(1000, 1000, 77), ["settings.a"])
        assert ds.journal.last_generation == 1
        ds.set_key(Key("settings.a"), "2", Pending("default"))
        ds.commit_transaction("default")
        assert ds.journal.last_generation == 2


def test_a_direct_live_write_is_never_undone_by_a_replay(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path) as ds:
        ds.set_key(Key("settings.a"), "1", Pending("default"))
        ds.commit_transaction("default")
        assert ds.journal.unapplied() != []  # not yet checkpointed
        ds.set_key(Key("settings.a"), "2", LIVE)  # e.g. a tool writing live directly
        assert ds.journal.unapplied() == []
    with FilesystemDataStore(tmp_path) as ds:
        assert ds.get_key(Key("settings.a"), LIVE) == "2"


def test_commits_are_checkpointed_every_so_often(tmp_path: Path) -> None:
    with FilesystemDataStore(tmp_path, durable=False) as ds:
        for i in range(ds.CHECKPOINT_EVERY + 1):
            ds.set_key(Key("settings.a"), str(i), Pending("default"))
            ds.commit_transaction("default")
        assert [c.generation for c in ds.journal.unapplied()] == [ds.CHECKPOINT_EVERY + 1]
