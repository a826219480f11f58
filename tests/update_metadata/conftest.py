"""Helpers to build manifests in Bottlerocket's JSON shape."""

from __future__ import annotations

import json
from typing import Any

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
    """One ``updates`` entry as Bottlerocket's repository tool writes it."""
    stem = f"bottlerocket-{variant}-{arch}-{version}-abcdef01"
    return {
        "variant": variant,
        "arch": arch,
        "version": version,
        "max_version": max_version or version,
        "waves": waves or {},
        "images": {
            "boot": f"{stem}-boot.ext4.lz4",
            "root": f"{stem}-root.ext4.lz4",
            "hash": f"{stem}-root.verity.lz4",
        },
    }


def manifest_json(updates: list[dict[str, Any]], migrations: dict[str, list[str]] | None = None) -> str:
    return json.dumps({"updates": updates, "migrations": migrations or {}})
