"""A thar sandbox for end-to-end tests of the applier: storewolf seeds a datastore from a
variant, the templates are installed under the sandbox root, the real apiserver runs with the
real `thar-be-settings` as its applier (THAR_ROOT = the sandbox), settings-committer commits
the launch transaction and `thar-be-settings --all` renders everything, as at boot.

The apiserver is `tests.apiserver.conftest.ServerProcess` with the applier and variant swapped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apiserver.conftest import ServerProcess
from thar import variants
from thar.sandbox.prepare import install_templates

BIN = Path(sys.executable).parent


def script(name: str) -> str:
    """A console script of this environment (`thar-be-settings`, `apiclient`, …)."""
    return str(BIN / name)


@dataclass
class SandboxServer(ServerProcess):
    """The apiserver of a sandbox: applier = the real thar-be-settings, variant = the sandbox's."""

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--applier") + 1] = f"{script('thar-be-settings')} --socket-path {self.socket_path}"
        return argv


@dataclass
class Sandbox:
    root: Path
    variant: str
    server: SandboxServer
    env: dict[str, str]

    @property
    def socket(self) -> Path:
        return self.server.socket_path

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def run(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A thar command in the sandbox's environment (THAR_ROOT set), waited for."""
        return subprocess.run(
            [script(argv[0]), *argv[1:]], input=stdin, capture_output=True, text=True, env=self.env, timeout=60
        )

    def apply_all(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("thar-be-settings", "--all", "--socket-path", str(self.socket), *extra)

    def restarts(self) -> list[tuple[str, list[str]]]:
        """restarts.log as (service, changed settings) per line."""
        log = self.path("/run/thar/restarts.log")
        if not log.exists():
            return []
        entries = []
        for line in log.read_text().splitlines():
            _, service, *changed = line.split(" ")
            entries.append((service, changed))
        return entries

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Poll until `predicate()` (the applier runs in the background after a commit)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n--- apiserver log:\n{self.server.log()}")
            time.sleep(0.02)

    def wait_idle(self) -> None:
        """Wait until no applier holds the sandbox's apply lock or a restart lock."""
        import fcntl

        locks = [self.path("/run/thar-be-settings/apply.lock")]
        locks += list(self.path("/run/thar-be-settings/restart").glob("*.lock"))
        for lock in locks:
            if lock.exists():
                with open(lock, "rb") as f:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def boot_sandbox(variant: str, root: Path, *, apply: bool = True) -> Sandbox:
    """storewolf → templates → apiserver → settings-committer → `thar-be-settings --all`."""
    env = {**os.environ, "THAR_ROOT": str(root), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    os_release = variants.path(variant) / "os-release"
    (root / "usr/lib").mkdir(parents=True)
    shutil.copyfile(os_release, root / "usr/lib/os-release")
    datastore = root / "var/lib/bottlerocket/datastore"
    done = subprocess.run(
        [script("storewolf"), "--data-store-base-path", str(datastore), "--variant", variant],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    install_templates(variants.path(variant), root)
    workdir = root / "run"
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(os_release, workdir / "os-release")
    server = SandboxServer(base=datastore / "current", workdir=workdir, variant=variant)
    server.prepare()
    saved = dict(os.environ)
    os.environ.update(THAR_ROOT=env["THAR_ROOT"], PATH=env["PATH"])  # the server's children inherit it
    try:
        server.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    sandbox = Sandbox(root, variant, server, env)
    committed = sandbox.run("settings-committer", "--socket-path", str(server.socket_path))
    assert committed.returncode == 0, committed.stderr
    if apply:
        applied = sandbox.apply_all()
        assert applied.returncode == 0, applied.stderr
    return sandbox


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """`make_sandbox(variant="thar-dev", apply=True)`: a booted sandbox under a short /tmp path
    (Unix socket paths are limited to 107 bytes); stopped and removed at the end."""
    made: list[Sandbox] = []
    dirs: list[str] = []

    def make(variant: str = "thar-dev", *, apply: bool = True) -> Sandbox:
        root = tempfile.mkdtemp(prefix="tbs-")
        dirs.append(root)
        sandbox = boot_sandbox(variant, Path(root), apply=apply)
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        try:
            sandbox.wait_idle()
        finally:
            if sandbox.server.running():
                sandbox.server.stop()
    for root in dirs:
        shutil.rmtree(root, ignore_errors=True)
