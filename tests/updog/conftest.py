"""A host root (``THAR_ROOT``) with updog.toml, os-release and the trusted root, and a local TUF
repository served on 127.0.0.1 (tests/tuf_repo.py)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.tuf_repo import TufRepo, serve

VARIANT = "thar-k8s"
ARCH = platform.machine()
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class Host:
    root: Path
    repo: TufRepo
    base_url: str
    log: list[str]
    seed: int = 42
    version_lock: str = "latest"
    ignore_waves: bool = False
    running: str = "1.0.0"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/meta/2020-07-07/{VARIANT}/{ARCH}"  # no trailing slash: updog adds it

    def write(self) -> None:
        """updog.toml as the variant's template renders it, os-release and the trusted root."""
        etc = self.root / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "updog.toml").write_text(
            f'metadata_base_url = "{self.metadata_url}"\n'
            f'targets_base_url = "{self.base_url}/targets/"\n'
            f"seed = {self.seed}\n"
            f'version_lock = "{self.version_lock}"\n'
            f"ignore_waves = {str(self.ignore_waves).lower()}\n"
        )
        lib = self.root / "usr" / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "os-release").write_text(f'NAME="thar"\nVERSION_ID={self.running}\nVARIANT_ID={VARIANT}\n')
        share = self.root / "usr" / "share" / "updog"
        share.mkdir(parents=True, exist_ok=True)
        (share / "root.json").write_bytes(self.repo.root_bytes)

    def updog(self, *args: str, bin_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``updog`` through its entry point with THAR_ROOT set to this host (``bin_dir``:
        first on PATH, for stand-ins such as ``shutdown``)."""
        self.write()
        self.log.clear()
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(THAR_ROOT=str(self.root), PYTHONPATH=str(CHECKOUT))
        if bin_dir is not None:
            env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
        return subprocess.run(
            [sys.executable, "-m", "thar.updog", *args], capture_output=True, text=True, env=env, timeout=60
        )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    repo = TufRepo(tmp_path / "repo", VARIANT, ARCH)
    root = tmp_path / "host"
    root.mkdir()
    with serve(tmp_path / "repo") as (url, log):
        yield Host(root, repo, url, log)
