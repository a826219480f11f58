"""A system for the dispatcher: THAR_ROOT with os-release, updog.toml, thar-be-updates.toml, an OS
disk image booted from set A, a local update repository, and the updog stand-in on PATH; and the
real apiserver running the real dispatcher on it (``updates_server``, the ``api`` fixture), which
the apiclient tests use too."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.conftest import ApiClient, ServerProcess, build_f0
from tests.tuf_repo import update_entry
from thar.signpost.bootsim import write_boot_state
from thar.signpost.image import make_disk

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("updog_stub.py")
VARIANT, ARCH = "aws-dev", platform.machine()
OS_RELEASE = (
    f'NAME=Bottlerocket\nPRETTY_NAME="Bottlerocket OS 1.20.0 ({VARIANT})"\nVERSION_ID=1.20.0\n'
    f'VARIANT_ID={VARIANT}\nBUILD_ID="abcdef01"\n'
)


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

    @property
    def reboots(self) -> Path:
        """A line per reboot the apiserver ran (its reboot command is a recorder)."""
        return self.root / "reboots.log"

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
    reboot = bin_dir / "reboot-recorder"
    reboot.write_text(f'#!/bin/sh\necho "reboot $*" >> "{root / "reboots.log"}"\n')
    reboot.chmod(0o755)
    system = System(root, bin_dir)
    system.version_lock("latest")
    system.control()
    system.publish("1.19.0", "1.20.0", "1.21.0")
    return system


@pytest.fixture
def system(tmp_path: Path) -> System:
    return make_system(tmp_path)


DISPATCHER = "{python} -m thar.thar_be_updates"


class UpdatesServer(ServerProcess):
    """The apiserver, its dispatcher and updog under ``system``'s THAR_ROOT and PATH; its reboot
    command records the reboot in ``system.reboots``."""

    system: System
    dispatcher_command: str = DISPATCHER

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--update-dispatcher", self.dispatcher_command.format(python=sys.executable),
            "--update-lock", str(self.system.lock_path),
            "--update-status", str(self.system.status_path),
            "--reboot-command", str(self.system.bin / "reboot-recorder"),
        ]  # fmt: skip


@contextmanager
def updates_server(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, system: System, dispatcher: str = DISPATCHER
) -> Iterator[UpdatesServer]:
    """The apiserver (fixture F0's datastore, ``system``'s os-release) running the dispatcher on
    ``system``, in ``workdir``; stopped at the end."""
    for name, value in system.env().items():
        monkeypatch.setenv(name, value)
    server = UpdatesServer(build_f0(workdir / "ds"), workdir / "srv")
    server.system = system
    server.dispatcher_command = dispatcher
    server.prepare()
    server.os_release.write_text((system.root / "usr/lib/os-release").read_text())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: System) -> Iterator[ApiClient]:
    with updates_server(tmp_path, monkeypatch, system) as server:
        yield ApiClient(server.socket_path)


def wait_status(api: ApiClient, timeout: float = 20.0) -> dict[str, Any]:
    """GET /updates/status until it stops answering 423 (the dispatcher's child finished)."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get("/updates/status")
        if response.status != 423:
            assert response.status == 200, response.text
            status: dict[str, Any] = response.json()
            return status
        assert time.monotonic() < deadline, "the update command did not finish"
        time.sleep(0.05)
