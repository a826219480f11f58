"""Selecting migrations (spec/migrations.md §1.3): by file name, and by Bottlerocket's manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from thar.datastore import Version
from thar.migrations.errors import LinkError, MigratorError, MissingMigration
from thar.migrations.links import current_version
from thar.migrations.selection import find_migrations, manifest_migrations, migration_version, scan_migrations

LEGACY = ["0.0.0_001", "0.0.1_001", "0.0.1_002", "0.0.2_001", "0.0.3_001", "0.0.4_001", "0.0.4_002"]


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    for name in LEGACY:
        (tmp_path / f"migrate_v{name}").write_text("")
    return tmp_path


def names(paths: list[Path]) -> list[str]:
    return [p.name.removeprefix("migrate_v") for p in paths]


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("0.0.1", "0.0.2", ["0.0.2_001"]),
        ("0.0.2", "0.0.1", ["0.0.2_001"]),
        ("0.0.1", "0.0.4", ["0.0.2_001", "0.0.3_001", "0.0.4_001", "0.0.4_002"]),
        ("0.0.4", "0.0.1", ["0.0.4_002", "0.0.4_001", "0.0.3_001", "0.0.2_001"]),
        ("0.0.4", "0.0.5", []),
        ("0.0.3", "0.0.3", []),
    ],
)
def test_legacy_selection_facts(legacy_dir: Path, current: str, target: str, expected: list[str]) -> None:
    assert names(scan_migrations(legacy_dir, Version.parse(current), Version.parse(target))) == expected


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("migrate_v1.2.3_abc-def", (Version(1, 2, 3), "abc-def")),
        ("migrate_1.2.3_x", (Version(1, 2, 3), "x")),
        ("migrate_v1.2.3-rc1_x", (Version(1, 2, 3), "x")),
        ("migrate_v1.2.3_x.lz4", None),
        ("migrate_v1.2_x", None),
        ("migrate_v1.2.3_", None),
        ("migrate_v1.2.3_a_b", None),
        ("README", None),
    ],
)
def test_migration_names(name: str, parsed: tuple[Version, str] | None) -> None:
    assert migration_version(name) == parsed


V = Version.parse
FIXTURE = {
    (V("1.0.0"), V("1.1.0")): ["migration_1.1.0_a", "migration_1.1.0_b"],
    (V("1.1.0"), V("1.2.0")): ["migration_1.2.0_skip"],
    (V("1.1.0"), V("1.5.0")): ["migration_1.5.0_shortcut"],
    (V("1.2.0"), V("1.5.0")): ["migration_1.5.0_skip"],
}


def test_manifest_takes_the_longest_step() -> None:
    assert manifest_migrations(FIXTURE, V("1.0.0"), V("1.5.0")) == [
        "migration_1.1.0_a",
        "migration_1.1.0_b",
        "migration_1.5.0_shortcut",
    ]
    assert manifest_migrations(FIXTURE, V("1.5.0"), V("1.0.0")) == [
        "migration_1.5.0_shortcut",
        "migration_1.1.0_b",
        "migration_1.1.0_a",
    ]
    assert manifest_migrations(FIXTURE, V("1.2.0"), V("1.2.0")) == []


def test_manifest_gap_is_missing_migration() -> None:
    with pytest.raises(MissingMigration, match=r"1\.5\.0 towards 1\.6\.0"):
        manifest_migrations(FIXTURE, V("1.0.0"), V("1.6.0"))


def test_manifest_in_directory(tmp_path: Path) -> None:
    (tmp_path / "migrate_v1.0.1_b").write_text("")
    (tmp_path / "migrate_v1.0.1_a").write_text("")
    (tmp_path / "manifest.json").write_text(
        '{"migrations": {"(1.0.0, 1.0.1)": ["migrate_v1.0.1_b.lz4", "migrate_v1.0.1_a"]}}'
    )
    assert [p.name for p in find_migrations(tmp_path, V("1.0.0"), V("1.0.1"))] == [
        "migrate_v1.0.1_b",
        "migrate_v1.0.1_a",
    ]
    (tmp_path / "manifest.json").write_text('{"migrations": {"(1.0.0, 1.0.1)": ["migrate_v1.0.1_c"]}}')
    with pytest.raises(MigratorError, match=r"migrate_v1\.0\.1_c is listed"):
        find_migrations(tmp_path, V("1.0.0"), V("1.0.1"))
    (tmp_path / "manifest.json").write_text('{"migrations": {"1.0.0 -> 1.0.1": []}}')
    with pytest.raises(MigratorError, match="bad entry"):
        find_migrations(tmp_path, V("1.0.0"), V("1.0.1"))


def test_current_version_reads_the_link_names(tmp_path: Path) -> None:
    (tmp_path / "v1.5.2_abc").mkdir()
    for link, target in (("v1.5.2", "v1.5.2_abc"), ("v1.5", "v1.5.2"), ("v1", "v1.5"), ("current", "v1")):
        (tmp_path / link).symlink_to(target)
    assert current_version(tmp_path) == Version(1, 5, 2)
    (tmp_path / "v1.5").unlink()
    (tmp_path / "v1.5").symlink_to("not-a-version")
    with pytest.raises(LinkError, match="not a datastore version"):
        current_version(tmp_path)
    (tmp_path / "v1").unlink()
    with pytest.raises(LinkError, match="cannot be read"):
        current_version(tmp_path)
