"""Fixtures for the storewolf tests: the real command in a subprocess, in a sandbox THAR_ROOT."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import RunStorewolf


@pytest.fixture
def thar_root(tmp_path: Path) -> Path:
    """An empty sandbox root, so no test reads the host's /usr/lib/os-release or /etc."""
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def run_storewolf(thar_root: Path) -> RunStorewolf:
    """``run_storewolf(*args)``: ``python -m storewolf ARGS`` with THAR_ROOT set to the sandbox."""

    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {**os.environ, "THAR_ROOT": str(thar_root), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "storewolf", *map(str, args)],
            capture_output=True, text=True, env=environ, timeout=60,
        )  # fmt: skip

    return run
