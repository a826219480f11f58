"""`Record`: a small immutable value class for apiclient's parsed command lines and requests.

`apiclient` runs at every boot step and in scripts, so its start-up time matters. `@dataclass`
writes each class's methods with `exec` when the module is imported (about half a millisecond
a class) and imports `inspect`; a `Record` costs no more than a plain class. A subclass lists
its fields in `_fields` and makes them its `__slots__`, declares their types, and sets them in
a typed `__init__` through `_init` (values in `_fields` order). Equality, hashing and `repr`
are those of a frozen dataclass: equal when the class and every field are equal,
`Name(field=value, ...)`, and assigning or deleting a field raises `AttributeError`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import ClassVar

__all__ = ["Record"]


class Record:
    """Base of apiclient's value classes; see the module docstring."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    """The field names, in `__init__`'s order; a subclass sets `__slots__ = _fields`."""

    def _init(self, *values: object) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    if not TYPE_CHECKING:  # hidden from the type checker, which then still rejects unknown attributes

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"cannot assign to field '{name}'")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"cannot delete field '{name}'")

    def __reduce__(self) -> tuple[type[Record], tuple[object, ...]]:
        # copy and pickle rebuild through __init__ (positional, in _fields order), since
        # setting the slots one by one is refused.
        return (self.__class__, self._values())
