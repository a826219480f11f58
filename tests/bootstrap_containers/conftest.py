"""bootstrap-containers and bootstrap-commands run against the real apiserver of a sandbox
(tests/thar_be_settings/conftest.py: storewolf, the apiserver with thar-be-settings as its
applier), with a recording ``systemctl`` and ``host-ctr`` where systemd is not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.containers import containerd, registry
from tests.thar_be_settings.conftest import Sandbox, make_sandbox

__all__ = ["Recorder", "containerd", "make_sandbox", "recorder", "registry", "run_program", "settings"]


@dataclass
class Recorder:
    """A stand-in program that appends its arguments (one JSON list a line) to ``log`` and exits
    with the status named for its first arguments in ``exits.json`` (0 otherwise)."""

    path: Path
    log: Path
    exits: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def exit_with(self, status: dict[str, int]) -> None:
        """``{"is-active host-containerd.service": 0, ...}``: status by the arguments' start."""
        self.exits.write_text(json.dumps(status))


def _recorder(folder: Path, name: str) -> Recorder:
    folder.mkdir(parents=True, exist_ok=True)
    log, exits = folder / f"{name}.log", folder / f"{name}.exits.json"
    exits.write_text("{}")
    path = folder / name
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"rules = json.load(open({str(exits)!r}))\n"
        "args = ' '.join(sys.argv[1:])\n"
        "codes = [code for start, code in rules.items() if args.startswith(start)]\n"
        "sys.exit(codes[0] if codes else 0)\n"
    )
    path.chmod(0o755)
    return Recorder(path, log, exits)


@pytest.fixture
def recorder(tmp_path: Path) -> dict[str, Recorder]:
    """A recording ``systemctl`` and ``host-ctr``. ``is-active`` and ``is-enabled`` answer 3 and
    1 (not active, not enabled) unless told otherwise."""
    made = {name: _recorder(tmp_path / "bin", name) for name in ("systemctl", "host-ctr")}
    made["systemctl"].exit_with({"is-active": 3, "is-enabled": 1})
    return made


def run_program(
    module: str, *args: str, env: dict[str, str], recorders: dict[str, Recorder] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` with ``env`` (THAR_ROOT set), the recorders as systemctl and host-ctr."""
    extra = {}
    if recorders:
        extra = {
            "BOOTSTRAP_CONTAINERS_SYSTEMCTL": str(recorders["systemctl"].path),
            "BOOTSTRAP_CONTAINERS_HOST_CTR": str(recorders["host-ctr"].path),
        }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings(sandbox: Sandbox, prefix: str) -> object:
    """``apiclient get PREFIX`` in the sandbox, as JSON."""
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "get", prefix)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
