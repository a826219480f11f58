"""``settings.motd``: the message of the day, itself a string (any content, several lines too)."""

from __future__ import annotations

from typing import Any

from ..modeled_types.shared import StrictStr

__all__ = ["MODEL", "NAME", "RUST_TYPES", "MotdV1"]

MotdV1 = StrictStr

NAME = "motd"
MODEL: Any = MotdV1
RUST_TYPES: dict[str, Any] = {"MotdV1": MotdV1}
