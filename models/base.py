"""Building blocks shared by every model: the struct base class and validated scalar types.

Every settings struct derives from ``SettingsStruct``: strict (no coercion: ``"42"`` is not an
int, ``42`` is not a string), unknown fields rejected, field names kebab-case on the wire
(``max_pods`` is ``max-pods``), every field optional unless declared otherwise, ``None`` = not
given. ``dump()`` gives the JSON form the datastore stores: aliases, absent fields omitted.

Validated scalars are ``Annotated[str, Checked(...)]`` or ``Annotated[str, OneOf(...)]``: they
keep the original string unless the rule normalises it, and fail with Bottlerocket's wording,
``Unable to deserialize into <TypeName>: <reason>`` (enums: serde's ``unknown variant ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict
from pydantic_core import CoreSchema, core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

__all__ = [
    "I32",
    "I64",
    "U8",
    "U16",
    "U32",
    "Checked",
    "OneOf",
    "SettingsStruct",
    "kebab",
]


def kebab(name: str) -> str:
    """The wire name of a Python field: ``max_pods`` -> ``max-pods``."""
    return name.replace("_", "-")


class SettingsStruct(BaseModel):
    """Base of every settings struct: strict, closed, kebab-case, all fields optional."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=kebab,
        populate_by_name=False,  # only the kebab-case names are accepted
        validate_default=False,
    )

    def dump(self) -> dict[str, Any]:
        """The JSON form: kebab-case names, absent fields omitted, normalised values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class Checked:
    """``Annotated[str, Checked(...)]``: a strict string checked by a function.

    ``check`` raises ValueError(reason) to reject, and returns None to store the original
    string or a string to store instead (a normalisation). A rejection reads
    ``Unable to deserialize into <type_name>: <reason>``. The JSON Schema carries
    ``description`` (the rule in words) and, where one regex states the rule, ``pattern``.
    """

    type_name: str
    check: Callable[[str], str | None]
    description: str
    pattern: str | None = None

    def validate(self, value: str) -> str:
        try:
            stored = self.check(value)
        except ValueError as exc:
            raise ValueError(f"Unable to deserialize into {self.type_name}: {exc}") from None
        return value if stored is None else stored

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.validate, core_schema.str_schema(strict=True))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out: dict[str, Any] = {"type": "string", "title": self.type_name, "description": self.description}
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


@dataclass(frozen=True)
class OneOf:
    """``Annotated[str, OneOf(...)]``: a string enum with serde's error text
    (``unknown variant `x`, expected one of ...``). ``emit`` maps accepted spellings to the
    stored one (e.g. ``static`` -> ``Static``)."""

    type_name: str
    variants: Sequence[str]
    emit: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple(self.variants))  # hashable, in a fixed order

    def __hash__(self) -> int:
        return hash((self.type_name, tuple(self.variants)))

    def validate(self, value: str) -> str:
        if value not in self.variants:
            expected = ", ".join(f"`{v}`" for v in self.variants)
            raise ValueError(f"unknown variant `{value}`, expected one of {expected}")
        return self.emit.get(value, value) if self.emit else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.validate, core_schema.str_schema(strict=True))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "title": self.type_name, "enum": list(self.variants)}


def _int(lo: int, hi: int, rust: str) -> Any:
    return Annotated[int, Strict(), Field(ge=lo, le=hi, title=rust)]


I32 = _int(-(2**31), 2**31 - 1, "i32")
I64 = _int(-(2**63), 2**63 - 1, "i64")
U8 = _int(0, 2**8 - 1, "u8")
U16 = _int(0, 2**16 - 1, "u16")
U32 = _int(0, 2**32 - 1, "u32")
