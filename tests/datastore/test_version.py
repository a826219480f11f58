"""The versioned directory layout: current -> vX -> vX.Y -> vX.Y.Z -> vX.Y.Z_<random>."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from thar.datastore import Version, VersionError, create_new_datastore, datastore_version, version_from_os_release
from thar.datastore.version import BUILDING_PREFIX, publish_datastore, resume_new_datastore, start_new_datastore

V152 = Version(1, 5, 2)


def _chain(base: Path) -> dict[str, str]:
    return {link: os.readlink(base / link) for link in ("current", "v1", "v1.5", "v1.5.2")}


def test_create_makes_the_link_chain_with_relative_targets(tmp_path: Path) -> None:
    real = create_new_datastore(tmp_path, Version.parse("1.5.2"))
    assert re.fullmatch(r"v1\.5\.2_[A-Za-z0-9]{16}", real.name)
    assert real.is_dir() and not real.is_symlink()
    assert os.readlink(tmp_path / "current") == "v1"
    assert os.readlink(tmp_path / "v1") == "v1.5"
    assert os.readlink(tmp_path / "v1.5") == "v1.5.2"
    assert os.readlink(tmp_path / "v1.5.2") == real.name
    assert not (real / "live").exists()  # the first write creates it
    assert (tmp_path / "current").resolve() == real.resolve()


def test_two_datastores_get_different_suffixes(tmp_path: Path) -> None:
    a = create_new_datastore(tmp_path / "a", Version(1, 0, 0))
    b = create_new_datastore(tmp_path / "b", Version(1, 0, 0))
    assert a.name != b.name


def test_creating_over_an_existing_chain_fails(tmp_path: Path) -> None:
    create_new_datastore(tmp_path, Version(1, 5, 2))
    with pytest.raises(VersionError, match="already exists"):
        create_new_datastore(tmp_path, Version(1, 5, 2))


def test_a_datastore_is_published_whole_under_its_name(tmp_path: Path) -> None:
    building = start_new_datastore(tmp_path / "D", V152)
    assert building.name.startswith(f"{BUILDING_PREFIX}v1.5.2_")
    assert os.listdir(tmp_path / "D") == [building.name]  # no link leads to it while it is written
    (building / "live").mkdir()
    (building / "live" / "motd").write_text('"hi"')
    real = publish_datastore(building, sync=False)
    assert re.fullmatch(r"v1\.5\.2_[A-Za-z0-9]{16}", real.name) and building.name.endswith(real.name)
    assert _chain(tmp_path / "D") == {"current": "v1", "v1": "v1.5", "v1.5": "v1.5.2", "v1.5.2": real.name}
    assert sorted(os.listdir(tmp_path / "D")) == sorted(["current", "v1", "v1.5", "v1.5.2", real.name])
    assert (tmp_path / "D" / "current" / "live" / "motd").read_text() == '"hi"'
    assert datastore_version(tmp_path / "D") == V152


def test_resume_removes_a_datastore_cut_short_and_temporary_links(tmp_path: Path) -> None:
    building = start_new_datastore(tmp_path, V152)
    (building / "live").mkdir()
    os.symlink("v1.5.2_x", tmp_path / f"{BUILDING_PREFIX}link-abc")
    assert resume_new_datastore(tmp_path, V152, sync=False) is None
    assert os.listdir(tmp_path) == []


def test_resume_renames_a_datastore_its_patch_link_already_names(tmp_path: Path) -> None:
    # Killed between pointing v1.5.2 at the new name and renaming the directory to it.
    building = start_new_datastore(tmp_path, V152)
    (building / "live").mkdir()
    name = building.name.removeprefix(BUILDING_PREFIX)
    os.symlink(name, tmp_path / "v1.5.2")
    stray = start_new_datastore(tmp_path, V152)  # another, unfinished one: it goes
    assert resume_new_datastore(tmp_path, V152, sync=False) == tmp_path / name
    assert (tmp_path / name / "live").is_dir() and not building.exists() and not stray.exists()
    assert _chain(tmp_path) == {"current": "v1", "v1": "v1.5", "v1.5": "v1.5.2", "v1.5.2": name}


def test_resume_completes_the_links_of_a_renamed_datastore(tmp_path: Path) -> None:
    # Killed after v1.5 was made: v1 and current are missing.
    real = publish_datastore(start_new_datastore(tmp_path, V152), sync=False)
    (tmp_path / "current").unlink()
    (tmp_path / "v1").unlink()
    kept = os.lstat(tmp_path / "v1.5").st_ino
    assert resume_new_datastore(tmp_path, V152, sync=False) == real
    assert _chain(tmp_path) == {"current": "v1", "v1": "v1.5", "v1.5": "v1.5.2", "v1.5.2": real.name}
    assert os.lstat(tmp_path / "v1.5").st_ino == kept  # a link already right is left alone
    assert sorted(os.listdir(tmp_path)) == sorted(["current", "v1", "v1.5", "v1.5.2", real.name])


def test_resume_replaces_a_patch_link_to_nothing(tmp_path: Path) -> None:
    os.symlink("v1.5.2_gone", tmp_path / "v1.5.2")
    assert resume_new_datastore(tmp_path, V152, sync=False) is None
    real = publish_datastore(start_new_datastore(tmp_path, V152), sync=False)
    assert os.readlink(tmp_path / "v1.5.2") == real.name


def test_resume_without_a_base_directory_finds_nothing(tmp_path: Path) -> None:
    assert resume_new_datastore(tmp_path / "missing", V152, sync=False) is None


@pytest.mark.parametrize("where", ["", "current", "v1", "v1.5", "v1.5.2"])
def test_version_is_read_from_the_links(tmp_path: Path, where: str) -> None:
    create_new_datastore(tmp_path, Version(1, 5, 2))
    assert datastore_version(tmp_path / where if where else tmp_path) == Version(1, 5, 2)


def test_a_broken_chain_is_reported_with_the_link(tmp_path: Path) -> None:
    real = create_new_datastore(tmp_path, Version(1, 5, 2))
    (tmp_path / "v1.5").unlink()
    os.symlink("v1.6.0", tmp_path / "v1.5")
    (tmp_path / "v1.6.0").symlink_to(real.name)
    with pytest.raises(VersionError, match=re.escape("v1.5 -> v1.6.0")):
        datastore_version(tmp_path)


def test_version_parsing() -> None:
    assert Version.parse("1.26.1") == Version(1, 26, 1)
    assert Version.parse("v1.26.1") == Version(1, 26, 1)
    assert str(Version(1, 26, 1)) == "1.26.1"
    assert Version(1, 9, 0) < Version(1, 10, 0)
    with pytest.raises(VersionError):
        Version.parse("1.26")


def test_version_from_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME=Bottlerocket\nID=bottlerocket\nVERSION_ID="1.26.1"\nBUILD_ID=abc\n')
    assert version_from_os_release(release) == Version(1, 26, 1)
    release.write_text("NAME=x\n")
    with pytest.raises(VersionError, match="No VERSION_ID"):
        version_from_os_release(release)
