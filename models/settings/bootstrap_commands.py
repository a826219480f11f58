"""``settings.bootstrap-commands``: a map of name to apiclient commands run early in boot.

The map is sorted by name (Rust's ``BTreeMap``): name order is run order, and the value is
stored and emitted in that order whatever the input order.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Strict

from ..base import SettingsStruct
from ..modeled_types.shared import ApiclientCommand, BootstrapMode, Identifier

__all__ = ["MODEL", "NAME", "RUST_TYPES", "BootstrapCommand", "BootstrapCommandsSettingsV1"]


class BootstrapCommand(SettingsStruct):
    """Commands (each a list whose first word is ``apiclient``), run mode, and whether failure stops the boot."""

    commands: list[ApiclientCommand] | None = None
    mode: BootstrapMode | None = None
    essential: bool | None = None


def _sorted_by_name(commands: dict[str, BootstrapCommand]) -> dict[str, BootstrapCommand]:
    return dict(sorted(commands.items()))  # Identifiers are ASCII: code point order = byte order


BootstrapCommandsSettingsV1 = Annotated[dict[Identifier, BootstrapCommand], Strict(), AfterValidator(_sorted_by_name)]

NAME = "bootstrap-commands"
MODEL: Any = BootstrapCommandsSettingsV1
RUST_TYPES: dict[str, Any] = {
    "BootstrapCommandsSettingsV1": BootstrapCommandsSettingsV1,
    "BootstrapCommand": BootstrapCommand,
}
