"""Harness for the sandbox boot tests: ``thar-boot`` as a real process on a sandbox directory,
read back through the API (a served boot) or from the datastore's files."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from thar.apiclient import raw_request
from thar.datastore import encode_segment

BIN = Path(sys.executable).parent
# thar-boot as ``python -m thar.sandbox``: the same main() as the console script, from this tree
# whatever the installed script was generated for.
THAR_BOOT = (sys.executable, "-m", "thar.sandbox")
# Guards against a hung boot, not timing assertions: a boot takes about a second.
BOOT_TIMEOUT = 180.0

USER_DATA = """\
# User data as a user writes it: TOML, everything under [settings].
[settings]
motd = "Hello from user data"

[settings.ntp]
time-servers = ["time.user-data.example"]

[settings.kernel.sysctl]
"vm.max_map_count" = "262144"
"""


@dataclass(frozen=True)
class Sandbox:
    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "run/api.sock"

    @property
    def live(self) -> Path:
        return self.root / "var/lib/bottlerocket/datastore/current/live"

    @property
    def launch(self) -> Path:
        return self.root / "var/lib/bottlerocket/datastore/current/pending/bottlerocket-launch"

    @property
    def marker(self) -> Path:
        return self.root / "var/lib/bottlerocket/early-boot-config.ran"

    def etc(self, path: str) -> str:
        return (self.root / "etc" / path).read_text(encoding="utf-8")

    def stored(self, base: Path, *segments: str) -> Any:
        """A datastore value (JSON) by its key's segments; None when the key is not set."""
        path = base.joinpath(*(encode_segment(s) for s in segments))
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def live_value(self, *segments: str) -> Any:
        return self.stored(self.live, *segments)

    def timeline(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "run/thar/boot-timeline.json").read_text(encoding="utf-8"))
        return data

    def step_statuses(self) -> list[tuple[str, str, str]]:
        return [(s["name"], s["unit"], s["status"]) for s in self.timeline()["steps"]]

    def restarts(self) -> list[str]:
        log = self.root / "run/thar/restarts.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def api(self, uri: str, method: str = "GET", body: Any = None) -> Any:
        _, text = raw_request(self.socket, uri, method, None if body is None else json.dumps(body))
        return json.loads(text) if text else None

    def copy(self, to: Path) -> Sandbox:
        """A copy of the sandbox as it is (a booted host's disk), without its runtime sockets."""
        shutil.copytree(self.root, to, symlinks=True, ignore=shutil.ignore_patterns("api.sock", "boot.lock"))
        return Sandbox(to)


def thar_boot(
    sandbox: Sandbox, *args: str, user_data: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``thar-boot --root DIR --no-serve ARGS``, finished (``env``: added to its environment)."""
    extra = ["--user-data", str(user_data)] if user_data is not None else []
    return subprocess.run(
        [*THAR_BOOT, "--root", str(sandbox.root), "--no-serve", *extra, *args],
        capture_output=True,
        text=True,
        timeout=BOOT_TIMEOUT,
        env={**clean_env(), **(env or {})},
    )


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("THAR_ROOT", "NOTIFY_SOCKET")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", os.defpath)])
    return env


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    stdout: str


@contextmanager
def served(
    sandbox: Sandbox, *args: str, stop: signal.Signals = signal.SIGINT, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``thar-boot --root DIR ARGS`` serving in the background (``env``: added to its
    environment); on leaving, ``stop`` is sent and thar-boot must exit 0."""
    proc = subprocess.Popen(
        [*THAR_BOOT, "--root", str(sandbox.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**clean_env(), **(env or {})},
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = b""
    deadline = time.monotonic() + BOOT_TIMEOUT
    # Raw reads: a buffered reader could hold the line we wait for while select() blocks.
    while b"is serving its API at" not in out:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"thar-boot did not get to serving:\n{out.decode()}\n{err.decode()}")
        out += chunk
    try:
        yield Served(proc, out.decode())
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
        try:
            rest, err = proc.communicate(timeout=BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, f"thar-boot exited {proc.returncode} on {stop.name}:\n{rest.decode()}\n{err.decode()}"


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Wait for something asynchronous (the applier the API starts after a commit)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def user_data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user-data") / "user-data.toml"
    path.write_text(USER_DATA, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def first_boot(tmp_path_factory: pytest.TempPathFactory, user_data_file: Path) -> tuple[Sandbox, str]:
    """One sandbox booted once with USER_DATA (shared, never changed: tests that change a
    sandbox work on a copy)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("boot") / "sandbox")
    result = thar_boot(sandbox, user_data=user_data_file)
    assert result.returncode == 0, result.stdout + result.stderr
    return sandbox, result.stdout
