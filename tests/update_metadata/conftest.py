"""Helpers to build manifests in Bottlerocket's JSON shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.tuf_repo import update_entry

# Bottlerocket's real migration history (Release.toml's [migrations]), beside the repository
MIGRATION_HISTORY = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "bottlerocket-migrations.json"
)

HOUR = 3600 * 10**9
MS = 10**6


def update_json(
    version: str,
    *,
    max_version: str | None = None,
    variant: str = "aws-k8s-1.31",
    arch: str = "x86_64",
    waves: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One ``updates`` entry as Bottlerocket's repository tool writes it (tests/tuf_repo.py's, with
    this package's default variant and arch)."""
    return update_entry(variant, arch, version, max_version=max_version, waves=waves)


def real_transitions() -> list[dict[str, Any]]:
    """Every ``{from, to, migrations}`` transition of Bottlerocket's history, in release order."""
    transitions: list[dict[str, Any]] = json.loads(MIGRATION_HISTORY.read_text(encoding="utf-8"))["transitions"]
    return transitions


def manifest_json(updates: list[dict[str, Any]], migrations: dict[str, list[str]] | None = None) -> str:
    return json.dumps({"updates": updates, "migrations": migrations or {}})
