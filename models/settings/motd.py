"""``settings.motd``: the message of the day, itself a string (any content, several lines too).

The one multi-line setting: it may hold tab, LF and CR, which every other setting refuses; other
control characters (NUL, ESC, …) are refused here too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from ..base import MultiLine

__all__ = ["MODEL", "NAME", "RUST_TYPES", "MotdV1"]

MotdV1 = Annotated[str, Strict(), MultiLine()]

NAME = "motd"
MODEL: Any = MotdV1
RUST_TYPES: dict[str, Any] = {"MotdV1": MotdV1}
