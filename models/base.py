"""Building blocks shared by every model: the struct base class and validated scalar types.

Every settings struct derives from ``SettingsStruct``: strict (no coercion: ``"42"`` is not an
int, ``42`` is not a string), unknown fields rejected, field names kebab-case on the wire
(``max_pods`` is ``max-pods``), every field optional unless declared otherwise, ``None`` = not
given. ``dump()`` gives the JSON form the datastore stores: aliases, absent fields omitted.

Validated scalars are ``Annotated[str, Checked(...)]`` or ``Annotated[str, OneOf(...)]``: they
keep the original string unless the rule normalises it, and fail with Bottlerocket's wording,
``Unable to deserialize into <TypeName>: <reason>`` (enums: serde's ``unknown variant ...``).

thar's rule on top of the types: no string anywhere in a struct (field values, list items, map
keys and values) holds a control character — C0 (U+0000-U+001F), DEL, C1 (U+0080-U+009F) or the
line and paragraph separators U+2028/U+2029 — because settings end up in line-oriented files
(chrony.conf, sysctl.d, env files, YAML) where such a character starts a new line or entry. A
field whose type carries ``MultiLine()`` may also hold tab, LF and CR (``motd``)::

    settings.ntp.options[0] = "iburst\nserver evil": U+000A (line feed) is a control character, ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

__all__ = [
    "CONTROL_CHARACTER",
    "I32",
    "I64",
    "U8",
    "U16",
    "U32",
    "Checked",
    "MultiLine",
    "OneOf",
    "SettingsStruct",
    "find_control_character",
    "is_multi_line",
    "kebab",
]


def kebab(name: str) -> str:
    """The wire name of a Python field: ``max_pods`` -> ``max-pods``."""
    return name.replace("_", "-")


# --- control characters -------------------------------------------------------------------------

CONTROL_CHARACTER = "control_character"
"""The pydantic error type of a refused control character; its context holds ``where`` (the
path below the field: list indexes, map keys, ``"[key]"`` for a map key itself), ``value`` (the
string) and ``char``."""

_CONTROLS = frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]))
_MULTI_LINE = frozenset("\t\n\r")
_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "line feed",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
    "\x1b": "escape",
    "\x7f": "delete",
    "\x85": "next line",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}


@dataclass(frozen=True)
class MultiLine:
    """Marks a string setting documented as multi-line: ``Annotated[str, Strict(), MultiLine()]``.

    Such a setting may hold tab, LF and CR; every other control character is still refused. Only
    settings whose files take free text belong here (``motd``; see the README's list).
    """


def char_label(char: str) -> str:
    """``"\n"`` -> ``"U+000A (line feed)"``."""
    name = _NAMES.get(char, "control character" if char in _CONTROLS else None)
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def find_control_character(
    value: Any, allowed: frozenset[str] = frozenset(), where: tuple[int | str, ...] = ()
) -> tuple[tuple[int | str, ...], str, str] | None:
    """The first refused control character in a validated value, as ``(where, string, char)``.

    Walks strings, list and tuple items, map keys and values; a nested struct is not entered
    (its own fields were checked when it was built). ``["ok", "a\nb"]`` -> ``((1,), "a\nb", "\n")``;
    ``{"k\t": "v"}`` -> ``(("k\t", "[key]"), "k\t", "\t")``.
    """
    if isinstance(value, str):
        for char in value:
            if char in _CONTROLS and char not in allowed:
                return where, value, char
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_control_character(item, allowed, (*where, index))
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = find_control_character(key, allowed, (*where, key, "[key]")) or find_control_character(
                item, allowed, (*where, key)
            )
            if found is not None:
                return found
    return None


def is_multi_line(annotation: Any) -> bool:
    """Whether ``annotation`` (through Optional and Annotated) carries ``MultiLine``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        value, *metadata = get_args(annotation)
        return any(isinstance(m, MultiLine) for m in metadata) or is_multi_line(value)
    if origin in (Union, UnionType):
        return any(is_multi_line(arg) for arg in get_args(annotation))
    return False


@functools.lru_cache(maxsize=1024)
def _allowed_controls(model: type[BaseModel], name: str) -> frozenset[str]:
    field = model.model_fields[name]
    multi_line = any(isinstance(m, MultiLine) for m in field.metadata) or is_multi_line(field.annotation)
    return _MULTI_LINE if multi_line else frozenset()


class SettingsStruct(BaseModel):
    """Base of every settings struct: strict, closed, kebab-case, all fields optional; no string
    in it holds a control character (see the module docstring)."""

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

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        # After the field's own type: a value that type rejects keeps the type's message.
        assert info.field_name is not None
        allowed = _allowed_controls(cls, info.field_name)
        found = find_control_character(value, allowed)
        if found is None:
            return value
        where, text, char = found
        rule = (
            "only tab, line feed and carriage return are allowed in this multi-line setting"
            if allowed
            else "refused in every setting but the multi-line ones (motd)"
        )
        raise PydanticCustomError(
            CONTROL_CHARACTER,
            "{label} is a control character: {rule}",
            {"label": char_label(char), "rule": rule, "where": where, "value": text, "char": char},
        )


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
