"""A sandbox host for the early-boot-config and sundog tests: a datastore seeded by storewolf
under ``ROOT/var/lib/bottlerocket/datastore``, the real apiserver on it (started as a process
by the apiserver tests' ``ServerProcess``), and the commands run as processes with
``THAR_ROOT=ROOT``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.conftest import ApiClient, ServerProcess
from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Key, Version, meta_key
from thar.storewolf import load_variant_defaults, read_defaults, seed

__all__ = ["MakeSandbox", "Sandbox", "make_sandbox", "start_sandbox"]

_OS_RELEASE = {
    "thar-dev": (variants.path("thar-dev") / "os-release").read_text(),
    "thar-k8s": (variants.path("thar-k8s") / "os-release").read_text(),
    "aws-dev": (
        'NAME=Bottlerocket\nVARIANT_ID=aws-dev\nVERSION_ID=1.20.0\nBUILD_ID=abcdef12\nPRETTY_NAME="Bottlerocket"\n'
    ),
}


@dataclass
class Sandbox:
    """A running sandbox: ``root`` (THAR_ROOT), the server, and helpers to look at the API."""

    root: Path
    server: ServerProcess

    @property
    def socket(self) -> Path:
        return self.server.socket_path

    @property
    def user_data(self) -> Path:
        return self.root / "var/lib/bottlerocket/user-data.toml"

    @property
    def marker(self) -> Path:
        return self.root / "var/lib/bottlerocket/early-boot-config.ran"

    def client(self) -> ApiClient:
        return self.server.client()

    def pending(self) -> Any:
        """The pending settings of ``bottlerocket-launch``."""
        return self.client().get_json("/tx?tx=bottlerocket-launch")

    def live(self, prefix: str = "settings") -> Any:
        return self.client().get_json(f"/?prefix={prefix}")

    def commit(self) -> None:
        response = self.client().post("/tx/commit?tx=bottlerocket-launch")
        assert response.status in (200, 422), response

    def reset(self, settings: Mapping[str, Any], generators: Mapping[str, Any] | None = None) -> None:
        """Make a running sandbox like new for the next test: ``bottlerocket-launch`` holds
        exactly ``settings``, the marker is gone, and the ``setting-generator`` metadata is
        exactly ``generators`` (plain dotted keys only; the server reads metadata from disk)."""
        live = self.server.base / "live"
        for old in live.rglob("*.setting-generator"):
            old.unlink()
        for key, generator in (generators or {}).items():
            path = live.joinpath(*key.split(".")).with_name(key.split(".")[-1] + ".setting-generator")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(generator))
        client = self.client()
        response = client.delete("/tx?tx=bottlerocket-launch")
        assert response.status == 200, response
        client.patch_ok("/settings?tx=bottlerocket-launch", dict(settings))
        self.marker.unlink(missing_ok=True)

    def run(
        self, module: str, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``python -m MODULE --socket-path SOCKET ARGS`` with THAR_ROOT set to the sandbox."""
        environ = {**os.environ, "THAR_ROOT": str(self.root), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", module, "--socket-path", str(self.socket), *map(str, args)],
            capture_output=True, text=True, env=environ, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip


MakeSandbox = Callable[..., Sandbox]


def _build(
    tmp_path: Path,
    variant: str,
    defaults: str | None,
    generators: Mapping[str, Any],
    templates: Mapping[str, str],
    live: Mapping[str, Any],
) -> tuple[Path, Path]:
    root = tmp_path / "r"
    base = root / "var/lib/bottlerocket/datastore"
    if defaults is None:
        table = load_variant_defaults(variant)
    else:
        file = tmp_path / "defaults.toml"
        file.write_text(defaults)
        table = read_defaults(file)
    seed(base, table, Version.parse("0.1.0"), durable=False)
    store = FilesystemDataStore(base / "current")
    try:
        for key, generator in generators.items():
            store.set_metadata(meta_key("setting-generator"), Key(key), json.dumps(generator))
        for key, template in templates.items():
            store.set_metadata(meta_key("template"), Key(key), json.dumps(template))
        for key, value in live.items():
            store.set_key(Key(key), json.dumps(value), LIVE)
    finally:
        store.close()
    return root, base


def start_sandbox(
    tmp_path: Path,
    variant: str = "thar-dev",
    defaults: str | None = None,
    generators: Mapping[str, Any] | None = None,
    templates: Mapping[str, str] | None = None,
    live: Mapping[str, Any] | None = None,
) -> Sandbox:
    """Build and start a sandbox in ``tmp_path`` (see ``make_sandbox``); the caller stops it."""
    root, base = _build(tmp_path, variant, defaults, generators or {}, templates or {}, live or {})
    workdir = tmp_path / "s"
    workdir.mkdir()
    (workdir / "os-release").write_text(_OS_RELEASE[variant])
    server = ServerProcess(base=base / "current", workdir=workdir, variant=variant)
    try:
        server.start()
    except BaseException:
        server.kill()
        raise
    return Sandbox(root, server)


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """``make_sandbox(variant="thar-dev", defaults=None, generators={}, templates={}, live={})``:
    a seeded datastore (the variant's defaults, or the ``defaults`` TOML text), extra
    ``setting-generator`` / ``template`` metadata and live values written before the server
    starts; the server runs with the variant's model. Stopped at the end of the test."""
    servers: list[ServerProcess] = []

    def make(
        variant: str = "thar-dev",
        defaults: str | None = None,
        generators: Mapping[str, Any] | None = None,
        templates: Mapping[str, str] | None = None,
        live: Mapping[str, Any] | None = None,
    ) -> Sandbox:
        sandbox = start_sandbox(tmp_path, variant, defaults, generators, templates, live)
        servers.append(sandbox.server)
        return sandbox

    yield make
    for server in servers:
        if server.running():
            code = server.stop()
            assert code == 0, server.log()
