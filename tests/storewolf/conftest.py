"""Fixtures for the storewolf tests: the real command in a subprocess, in a sandbox THAR_ROOT."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .helpers import RunStorewolf, storewolf_command, storewolf_env


@pytest.fixture
def thar_root(tmp_path: Path) -> Path:
    """An empty sandbox root, so no test reads the host's /usr/lib/os-release or /etc."""
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def run_storewolf(thar_root: Path) -> RunStorewolf:
    """``run_storewolf(*args)``: ``python -m thar.storewolf ARGS`` with THAR_ROOT set to the sandbox."""

    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            storewolf_command(*args), capture_output=True, text=True, env=storewolf_env(thar_root, env), timeout=60
        )

    return run
