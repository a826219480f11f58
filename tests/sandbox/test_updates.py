"""The update settings in a booted sandbox: the variant's defaults render an /etc/updog.toml
and /etc/thar-be-updates.toml that updog and thar-be-updates load, pointing at the loopback
repository README.md shows how to serve; ``apiclient set`` re-renders them; and the update
status route answers on a fresh /run (no tmpfiles in a sandbox)."""

from __future__ import annotations

import platform
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from thar.apiclient.client import raw_request_unchecked
from thar.updog.config import load_config

from .conftest import Sandbox, clean_env, served, wait_for


def apiclient(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "--socket-path", str(sandbox.socket), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_the_booted_updog_toml_loads_and_follows_apiclient_set(variant: str, tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    updog_toml = sandbox.root / "etc/updog.toml"
    with served(sandbox, "--variant", variant):
        config = load_config(updog_toml)
        arch = sandbox.api("/os")["arch"]
        assert arch == platform.machine()
        assert config.metadata_base_url == f"http://127.0.0.1:8000/2020-07-07/{variant}/{arch}/"
        assert config.targets_base_url == "http://127.0.0.1:8000/targets/"
        assert 0 <= config.seed <= 2047 and config.seed == sandbox.api("/settings")["updates"]["seed"]
        assert (config.version_lock, config.ignore_waves) == ("latest", False)
        assert tomllib.loads(sandbox.etc("thar-be-updates.toml")) == {"version-lock": "latest"}

        status, text = raw_request_unchecked(sandbox.socket, "/updates/status", "GET", None)
        assert (status, text) == (404, "Update status is uninitialized, refresh-updates to initialize it")

        done = apiclient(sandbox, "set", "updates.version-lock=v1.2.3", "updates.ignore-waves=true")
        assert done.returncode == 0, done.stderr
        wait_for(lambda: load_config(updog_toml).version_lock == "v1.2.3", "updog.toml to be re-rendered")
        config = load_config(updog_toml)
        assert config.ignore_waves is True
        wait_for(
            lambda: tomllib.loads(sandbox.etc("thar-be-updates.toml")) == {"version-lock": "v1.2.3"},
            "thar-be-updates.toml to be re-rendered",
        )
