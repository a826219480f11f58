"""Shared by the storewolf tests: the spec's example defaults and small file helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from thar.datastore import FilesystemDataStore

# The defaults of the spec's example (storewolf-and-committer.md §1), verbatim.
SPEC_DEFAULTS = """\
[settings]                       # -> pending tx "bottlerocket-launch", keys "settings.…"
motd = "Welcome to Bottlerocket!"
[settings.updates]
version-lock = "latest"

[services.motd]                  # -> live, keys "services.motd.configuration-files" …
configuration-files = ["motd"]
restart-commands = []

[configuration-files.motd]       # -> live, keys "configuration-files.motd.path" …
path = "/etc/motd"
template-path = "/usr/share/templates/motd"
# optional: mode = "0644"

[metadata.settings.motd]         # -> live metadata: data key "settings.motd", name "affected-services"
affected-services = ["motd"]

[metadata.settings.updates]
affected-services = ["updog", "thar-be-updates"]
seed.setting-generator = "bork seed"   # data key "settings.updates.seed", name "setting-generator"

[metadata.settings.host-containers.admin.source]
setting-generator = "schnauzer-v2 render --requires 'aws@v1(helpers=[ecr-prefix])' --template '{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.11.13'"
"""  # noqa: E501 (verbatim)

RunStorewolf = Callable[..., subprocess.CompletedProcess[str]]


def storewolf_command(*args: str | os.PathLike[str]) -> list[str]:
    """The ``storewolf`` command line: ``python -m thar.storewolf ARGS``."""
    return [sys.executable, "-m", "thar.storewolf", *map(str, args)]


def storewolf_env(thar_root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``THAR_ROOT`` set to the sandbox ``thar_root``."""
    return {**os.environ, "THAR_ROOT": str(thar_root), **(extra or {})}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def datastore_files(base: Path) -> dict[str, bytes]:
    """Every value file below the versioned directory ``base/current`` points to, by path
    relative to it (thar's commit journal, ``journal.sqlite3*``, left out)."""
    real = (base / "current").resolve()
    return {
        str(p.relative_to(real)): p.read_bytes()
        for p in sorted(real.rglob("*"))
        if p.is_file() and not p.name.startswith("journal.sqlite3")
    }


def commit_launch(base: Path) -> None:
    """What settings-committer does at boot: commit ``bottlerocket-launch``."""
    ds = FilesystemDataStore(base / "current", durable=False)
    try:
        ds.commit_transaction("bottlerocket-launch")
    finally:
        ds.close()
