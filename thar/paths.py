"""The one prefix of every path thar uses: ``THAR_ROOT``.

Every program takes Bottlerocket's path flags with defaults under one root, so the whole system
runs in a sandbox directory as well as on a host. ``THAR_ROOT`` unset or empty means ``/``.
Standard library only: every component imports it, apiclient included.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["thar_root"]


def thar_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$THAR_ROOT`` (from ``environ``, default ``os.environ``), or ``/`` when unset or empty."""
    return Path((os.environ if environ is None else environ).get("THAR_ROOT") or "/")
