"""Running a migration on datastores (spec/migrations.md §2.2): what a migration sees and how
its result is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, meta_key
from thar.migrations.errors import MigrationError
from thar.migrations.migration_helpers import (
    Direction,
    Migration,
    MigrationData,
    NoOpMigration,
    RemoveSettingsMigration,
    get_input_data,
    os_data,
    run_migration,
    set_output_data,
)
from thar.migrations.migration_helpers import data as data_module

from .conftest import Sandbox, read_state


@pytest.fixture
def root(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("THAR_ROOT", str(sandbox.root))
    return sandbox


def test_os_keys_come_from_the_running_image(root: Sandbox) -> None:
    root.os_release("1.26.1", "aws-k8s-1.31-nvidia")
    keys = os_data()
    assert keys["os.variant_id"] == "aws-k8s-1.31-nvidia"
    assert keys["os.version_id"] == "1.26.1"
    assert keys["os.pretty_name"] == "Thar OS 1.26.1"
    assert keys["os.build_id"] == "0123abcd"
    assert keys["os.arch"]


def test_missing_os_release_is_an_error_that_says_what_to_do(root: Sandbox) -> None:
    (root.root / "usr/lib/os-release").unlink()
    with pytest.raises(MigrationError, match="THAR_ROOT"):
        os_data()


def test_input_data_live_and_pending(root: Sandbox) -> None:
    real = root.create(
        "1.0.0",
        live={"settings.a": 1, "services.s.restart-commands": ["x"], "os.stale": "old"},
        pending={"tx": {"settings.a": 2}},
        metadata={"settings.a": {"affected-services": ["s"]}},
    )
    ds = FilesystemDataStore(real, durable=False)
    try:
        live = get_input_data(ds, LIVE, {"os.arch": "x86_64"})
        assert live.data == {
            "settings.a": 1,
            "services.s.restart-commands": ["x"],
            "os.stale": "old",
            "os.arch": "x86_64",
        }
        assert live.metadata == {"settings.a": {"affected-services": ["s"]}}
        pending = get_input_data(ds, Pending("tx"), {"os.arch": "x86_64"})
        assert pending == MigrationData({"settings.a": 2, "os.arch": "x86_64"}, {})
        ds.set_key(Key("settings.bad"), "{not json", LIVE)
        with pytest.raises(MigrationError, match=r"settings\.bad"):
            get_input_data(ds, LIVE, {})
    finally:
        ds.close()


def test_values_are_normalised_and_removed_keys_are_absent(root: Sandbox, tmp_path: Path) -> None:
    real = root.create("1.0.0", live={"settings.a": 1, "settings.gone": True}, pending={"tx": {"settings.gone": 1}})
    ds = FilesystemDataStore(real, durable=False)
    ds.set_key(Key("settings.list"), "[1,2, 3]", LIVE)
    ds.close()
    run_migration(RemoveSettingsMigration(["settings.gone"]), real, tmp_path / "out", Direction.FORWARD)
    live, pending, _ = read_state(tmp_path / "out")
    assert live["settings.list"] == "[1,2,3]"
    assert "settings.gone" not in live
    assert set(pending["tx"]) == {"os.arch", "os.build_id", "os.pretty_name", "os.variant_id", "os.version_id"}


def test_target_must_be_new(root: Sandbox) -> None:
    real = root.create("1.0.0", live={"settings.a": 1})
    with pytest.raises(MigrationError, match="already holds a datastore"):
        run_migration(NoOpMigration(), real, real, Direction.FORWARD)


class _BadKey(Migration):
    def forward(self, data: MigrationData) -> MigrationData:
        data.data["settings.bad key"] = 1
        return data

    def backward(self, data: MigrationData) -> MigrationData:
        return data


def test_an_invalid_key_fails_the_migration(root: Sandbox, tmp_path: Path) -> None:
    real = root.create("1.0.0", live={"settings.a": 1})
    with pytest.raises(MigrationError, match="invalid key"):
        run_migration(_BadKey(), real, tmp_path / "out", Direction.FORWARD)
    run_migration(_BadKey(), real, tmp_path / "back", Direction.BACKWARD)


def test_large_states_print_progress(
    root: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(data_module, "PROGRESS_EVERY", 10)
    (tmp_path / "t").mkdir()
    ds = FilesystemDataStore(tmp_path / "t", durable=False)
    try:
        data = MigrationData({f"settings.k{i}": i for i in range(25)}, {"settings.k1": {"m": "v"}})
        set_output_data(ds, data, LIVE)
        assert len(ds.get_prefix("settings.", LIVE)) == 25
        assert ds.get_metadata_raw(meta_key("m"), Key("settings.k1")) == '"v"'
    finally:
        ds.close()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "progress: wrote 10/25 keys of live",
        "progress: wrote 20/25 keys of live",
        "progress: wrote 25/25 keys of live",
    ]
