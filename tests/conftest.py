from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from thar.datastore import DataStore, FilesystemDataStore, MemoryDataStore, Version, create_new_datastore

# Property tests draw the same examples every run, so a CI result is reproducible (set
# THAR_HYPOTHESIS_RANDOM=1 to explore new examples locally), and have no per-example deadline:
# a loaded machine's pause is not a failure.
settings.register_profile("thar", derandomize=not os.environ.get("THAR_HYPOTHESIS_RANDOM"), deadline=None)
settings.load_profile("thar")


@pytest.fixture(params=["filesystem", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataStore]:
    """Each datastore backend in turn, empty; the filesystem one in a fresh versioned layout."""
    ds: DataStore
    if request.param == "filesystem":
        create_new_datastore(tmp_path, Version(1, 0, 0))
        ds = FilesystemDataStore(tmp_path / "current")
    else:
        ds = MemoryDataStore()
    yield ds
    ds.close()


@pytest.fixture
def fs_store(tmp_path: Path) -> Iterator[FilesystemDataStore]:
    """A filesystem datastore at ``tmp_path/base`` (a plain directory, no version links)."""
    base = tmp_path / "base"
    base.mkdir()
    ds = FilesystemDataStore(base)
    yield ds
    ds.close()
