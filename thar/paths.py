"""`THAR_ROOT`: the one prefix every default path of every program derives from.

`THAR_ROOT` unset or empty means `/` (an empty value is treated exactly as an unset one), so
`THAR_ROOT= apiserver` serves the host's paths, not ones relative to the working directory.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["thar_root", "thar_root_override"]


def thar_root_override(environ: Mapping[str, str] | None = None) -> str | None:
    """`$THAR_ROOT` as given when it is set and not empty, else None (the host's own paths)."""
    return (os.environ if environ is None else environ).get("THAR_ROOT") or None


def thar_root(environ: Mapping[str, str] | None = None) -> Path:
    """`$THAR_ROOT`, or `/` when it is unset or empty (`environ`: instead of `os.environ`)."""
    from pathlib import Path

    return Path(thar_root_override(environ) or "/")
