"""Shared fixtures: a sandbox root with an os-release, datastores in the versioned layout, and
migration executables (shell or Python) written into a migration directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, Version, create_new_datastore, meta_key, to_json

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO.parent / "shared" / "conformance"


@dataclass
class Sandbox:
    root: Path  # THAR_ROOT
    datastore: Path  # D
    migrations: Path

    @property
    def current(self) -> Path:
        return self.datastore / "current"

    def env(self) -> dict[str, str]:
        return {**os.environ, "THAR_ROOT": str(self.root)}

    def os_release(self, version: str, variant: str = "aws-k8s-1.24") -> None:
        path = self.root / "usr/lib/os-release"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'NAME=Thar\nPRETTY_NAME="Thar OS {version}"\nVARIANT_ID={variant}\n'
            f"VERSION_ID={version}\nBUILD_ID=0123abcd\n"
        )

    def create(
        self,
        version: str,
        live: Mapping[str, object] | None = None,
        pending: Mapping[str, Mapping[str, object]] | None = None,
        metadata: Mapping[str, Mapping[str, object]] | None = None,
    ) -> Path:
        real = create_new_datastore(self.datastore, Version.parse(version))
        ds = FilesystemDataStore(real, durable=False)
        try:
            ds.set_keys({Key(k): to_json(v) for k, v in (live or {}).items()}, LIVE)
            for tx, values in (pending or {}).items():
                ds.set_keys({Key(k): to_json(v) for k, v in values.items()}, Pending(tx))
            for key, metas in (metadata or {}).items():
                for name, value in metas.items():
                    ds.set_metadata(meta_key(name), Key(key), to_json(value))
        finally:
            ds.close()
        return real

    def shell_migration(self, name: str, body: str) -> Path:
        path = self.migrations / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        return path

    def python_migration(self, name: str, expression: str, imports: str = "*") -> Path:
        path = self.migrations / name
        path.write_text(
            f"#!{sys.executable}\nimport sys\nfrom thar.migrations.migration_helpers import {imports}\n\n"
            f"sys.exit(migrate({expression}))\n"
        )
        path.chmod(0o755)
        return path

    def chainable_migration(self, name: str, expression: str) -> Path:
        """A Python migration that declares ``MIGRATION`` (the migrator may chain it)."""
        path = self.migrations / name
        path.write_text(
            f"#!{sys.executable}\nimport sys\nfrom thar.migrations.migration_helpers import *\n\n"
            f"MIGRATION = {expression}\n\nif __name__ == '__main__':\n    sys.exit(migrate(MIGRATION))\n"
        )
        path.chmod(0o755)
        return path

    def migrator(
        self, *args: str, target: str | None = None, extra: Sequence[str] = ("--no-sync",)
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "thar.migrations", "--datastore-path", str(self.current)]
        argv += ["--migration-directory", str(self.migrations)]
        if target is not None:
            argv += ["--migrate-to-version", target]
        return subprocess.run([*argv, *extra, *args], env=self.env(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path / "root", tmp_path / "root/var/lib/thar/datastore", tmp_path / "migrations")
    box.datastore.mkdir(parents=True)
    box.migrations.mkdir()
    box.os_release("1.0.0")
    yield box


def read_state(path: Path) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(live, pending by transaction, metadata) of the datastore at ``path``, as stored strings."""
    ds = FilesystemDataStore(path, durable=False)
    try:
        live = {k.name: v for k, v in ds.get_prefix("", LIVE).items()}
        pending = {tx: {k.name: v for k, v in ds.get_prefix("", Pending(tx)).items()} for tx in ds.list_transactions()}
        meta = {k.name: {m.name: v for m, v in ms.items()} for k, ms in ds.get_metadata_prefix("").items()}
    finally:
        ds.close()
    return live, pending, meta
