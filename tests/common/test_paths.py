"""thar.paths: THAR_ROOT, where an empty value means `/` as an unset one does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thar.paths import thar_root, thar_root_override


def test_unset_is_the_host_root() -> None:
    assert thar_root({}) == Path("/")
    assert thar_root_override({}) is None


def test_empty_is_the_host_root_as_if_unset() -> None:
    assert thar_root({"THAR_ROOT": ""}) == Path("/")
    assert thar_root_override({"THAR_ROOT": ""}) is None


def test_a_value_is_the_root() -> None:
    assert thar_root({"THAR_ROOT": "/tmp/sandbox"}) == Path("/tmp/sandbox")
    assert thar_root_override({"THAR_ROOT": "/tmp/sandbox"}) == "/tmp/sandbox"


def test_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THAR_ROOT", str(tmp_path))
    assert thar_root() == tmp_path
    monkeypatch.setenv("THAR_ROOT", "")
    assert thar_root() == Path("/")
    monkeypatch.delenv("THAR_ROOT")
    assert thar_root() == Path("/")


def test_every_program_reads_the_same_root() -> None:
    code = (
        "from thar.apiserver.__main__ import thar_root as a; from thar.storewolf.defaults import thar_root as b; "
        "from thar.early_boot_config.paths import thar_root as c; "
        "from thar.migrations.migration_helpers.data import thar_root as d; "
        "print(a() == b() == c() == d(), a())"
    )
    env = {**os.environ, "THAR_ROOT": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["True", "/"]
