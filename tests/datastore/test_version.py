"""The versioned directory layout: current -> vX -> vX.Y -> vX.Y.Z -> vX.Y.Z_<random>."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from datastore import Version, VersionError, create_new_datastore, datastore_version, version_from_os_release


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
