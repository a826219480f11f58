"""A system for the dispatcher: THAR_ROOT with os-release, updog.toml, thar-be-updates.toml, an OS
disk image booted from set A, a local update repository, and the updog stand-in on PATH."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tuf_repo import update_entry
from thar.signpost.bootsim import write_boot_state
from thar.signpost.image import make_disk

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("updog_stub.py")
VARIANT, ARCH = "aws-dev", platform.machine()
OS_RELEASE = f'NAME=Bottlerocket\nVERSION_ID=1.20.0\nVARIANT_ID={VARIANT}\nBUILD_ID="abcdef01"\n'


@dataclass
class System:
    root: Path
    bin: Path

    @property
    def disk(self) -> Path:
        return self.root / "os-disk.img"

    @property
    def status_path(self) -> Path:
        return self.root / "run/cache/thar-be-updates/status.json"

    @property
    def lock_path(self) -> Path:
        return self.root / "run/lock/thar-be-updates.lock"

    @property
    def repo(self) -> Path:
        return self.root / "test-repo"

    @property
    def calls(self) -> Path:
        return self.root / "updog-calls.jsonl"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "THAR_ROOT": str(self.root),
            # the stand-in is the only updog on PATH (a virtualenv's bin has thar's real one)
            "PATH": os.pathsep.join(
                [
                    str(self.bin),
                    *(d for d in os.environ.get("PATH", "").split(os.pathsep) if not (Path(d) / "updog").exists()),
                ]
            ),
            "PYTHONPATH": str(ROOT),
        }

    def publish(self, *versions: str, **entry: Any) -> None:
        """The repository's manifest lists ``versions`` (each with images of a few bytes)."""
        (self.repo / "targets").mkdir(parents=True, exist_ok=True)
        updates = [update_entry(VARIANT, ARCH, v, **entry) for v in versions]
        for update in updates:
            for kind, name in update["images"].items():
                (self.repo / "targets" / name).write_bytes(f"{kind} of {update['version']}\n".encode() * 64)
        (self.repo / "manifest.json").write_text(json.dumps({"updates": updates, "migrations": {}}))

    def control(self, **settings: Any) -> None:
        self.repo.mkdir(parents=True, exist_ok=True)
        (self.repo / "control.json").write_text(json.dumps({"calls": str(self.calls), **settings}))

    def version_lock(self, lock: str) -> None:
        (self.root / "etc/thar-be-updates.toml").write_text(f'version-lock = "{lock}"\n')
        (self.root / "etc/updog.toml").write_text(f'seed = 100\nversion_lock = "{lock}"\nignore_waves = false\n')

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``thar-be-updates ARGS``: returns once the parent exited (the child may still run)."""
        return subprocess.run(
            [sys.executable, "-m", "thar.thar_be_updates", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until no dispatcher child holds the update lock."""
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self.lock_path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("the dispatcher's child still holds the lock") from None
                time.sleep(0.02)
            finally:
                os.close(fd)

    def do(self, *args: str) -> dict[str, Any]:
        """Run a command that must be accepted, wait for its child, return the status."""
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        self.wait_idle()
        return self.status()

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.status_path.read_text())
        return data

    def updog_calls(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]


def make_system(base: Path, *, dual: bool = True, os_release: str = OS_RELEASE) -> System:
    root, bin_dir = base / "root", base / "bin"
    # run/lock and run/cache/thar-be-updates: what tmpfiles.d makes at boot
    for directory in (root / "usr/lib", root / "etc", root / "run/lock", root / "run/cache/thar-be-updates", bin_dir):
        directory.mkdir(parents=True)
    (root / "usr/lib/os-release").write_text(os_release)
    make_disk(root / "os-disk.img", dual=dual)
    write_boot_state(root, str(root / "os-disk.img"), 4)  # ROOT-A
    updog = bin_dir / "updog"
    updog.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STUB}" "$@"\n')
    updog.chmod(0o755)
    system = System(root, bin_dir)
    system.version_lock("latest")
    system.control()
    system.publish("1.19.0", "1.20.0", "1.21.0")
    return system


@pytest.fixture
def system(tmp_path: Path) -> System:
    return make_system(tmp_path)
