"""Building blocks shared by every model: the struct base class and validated scalar types.

Every settings struct derives from ``SettingsStruct``: strict (no coercion: ``"42"`` is not an
int, ``42`` is not a string), unknown fields rejected, field names kebab-case on the wire
(``max_pods`` is ``max-pods``), every field optional unless declared otherwise, ``None`` = not
given. ``dump()`` gives the JSON form the datastore stores: aliases, absent fields omitted.

Validated scalars are ``Annotated`` types built by ``validated_str`` / ``enum_str``: they keep
the original string unless the rule normalises it, and fail with Bottlerocket's wording,
``Unable to deserialize into <TypeName>: <reason>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, WithJsonSchema

__all__ = [
    "I32",
    "I64",
    "U8",
    "U16",
    "U32",
    "SettingsStruct",
    "enum_str",
    "kebab",
    "validated_str",
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


def validated_str(
    type_name: str,
    check: Callable[[str], str | None],
    *,
    description: str,
    pattern: str | None = None,
) -> Any:
    """A strict ``str`` type that runs ``check`` after the type check.

    ``check`` raises ValueError(reason) to reject, and returns None to store the original
    string or a string to store instead (a normalisation). The JSON Schema carries
    ``description`` (the rule in words) and, where one regex states the rule, ``pattern``.
    """

    def validate(value: str) -> str:
        try:
            stored = check(value)
        except ValueError as exc:
            raise ValueError(f"Unable to deserialize into {type_name}: {exc}") from None
        return value if stored is None else stored

    schema: dict[str, Any] = {"type": "string", "title": type_name, "description": description}
    if pattern is not None:
        schema["pattern"] = pattern
    return Annotated[str, Strict(), AfterValidator(validate), WithJsonSchema(schema)]


def enum_str(type_name: str, variants: Sequence[str], *, emit: dict[str, str] | None = None) -> Any:
    """A string enum with serde's error text (``unknown variant `x`, expected one of …``).

    ``emit`` maps accepted spellings to the stored one (e.g. ``static`` -> ``Static``).
    """
    allowed = tuple(variants)
    expected = ", ".join(f"`{v}`" for v in allowed)

    def validate(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown variant `{value}`, expected one of {expected}")
        return emit.get(value, value) if emit else value

    schema = {"type": "string", "title": type_name, "enum": list(allowed)}
    return Annotated[str, Strict(), AfterValidator(validate), WithJsonSchema(schema)]


def _int(lo: int, hi: int, rust: str) -> Any:
    return Annotated[int, Strict(), Field(ge=lo, le=hi, title=rust)]


I32 = _int(-(2**31), 2**31 - 1, "i32")
I64 = _int(-(2**63), 2**63 - 1, "i64")
U8 = _int(0, 2**8 - 1, "u8")
U16 = _int(0, 2**16 - 1, "u16")
U32 = _int(0, 2**32 - 1, "u32")
