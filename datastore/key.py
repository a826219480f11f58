"""Datastore keys: the grammar of dotted names, quoting and segments.

A key is a list of *segments*; its *name* is the dotted text a user types. A segment may
hold ``.`` only when it is quoted in the name, and ``"`` is never part of a segment::

    a.b.c        -> ["a", "b", "c"]
    a."b.c".d    -> ["a", "b.c", "d"]
    a"b"c        -> ["abc"]          (quotes may appear anywhere)
    a.           -> InvalidKey: ends with separator

Keys compare and hash by segments only, so ``a."b".c == a.b.c``. A key built from segments
(or read back from disk) gets the *canonical* name, which quotes exactly the segments that
contain a ``.``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence

from .errors import InvalidKey, KeyTooLong

__all__ = ["KEY_SEPARATOR", "MAX_KEY_NAME_LENGTH", "Key", "KeyType"]

KEY_SEPARATOR = "."
MAX_KEY_NAME_LENGTH = 255

# Characters allowed in a segment (ASCII only); "." is allowed too when the segment is quoted.
_VALID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_\-/.]+")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9_\-/]+(?:\.[A-Za-z0-9_\-/]+)*")


class KeyType(enum.Enum):
    """Data keys name values (any number of segments); meta keys name metadata (one segment)."""

    DATA = "data"
    META = "meta"


class Key:
    """A validated datastore key. Build one with ``Key(name)`` or ``Key.from_segments(...)``."""

    __slots__ = ("_hash", "name", "segments", "type")

    name: str
    segments: tuple[str, ...]
    type: KeyType
    _hash: int

    def __init__(self, name: str, type: KeyType = KeyType.DATA) -> None:
        """Parse ``name``; raise InvalidKey (or KeyTooLong) with Bottlerocket's message."""
        if _PLAIN_NAME_RE.fullmatch(name):  # fast path: no quotes, nothing to report
            segments = tuple(name.split(KEY_SEPARATOR))
        else:
            segments = _parse(name)
        _check(name, segments, type)
        self._init(name, segments, type)

    def _init(self, name: str, segments: tuple[str, ...], type: KeyType) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "_hash", hash(segments))

    @classmethod
    def from_segments(cls, segments: Iterable[str], type: KeyType = KeyType.DATA) -> Key:
        """Build a key from raw segments; its name quotes the segments that contain ``.``.

        ``["a", "b.c", "d"] -> a."b.c".d``. Every character must be valid or ``.``; an empty
        segment is rejected (Bottlerocket lets one through; nothing real produces it).
        """
        segs = tuple(segments)
        name = KEY_SEPARATOR.join(_quote(s) for s in segs)
        for seg in segs:
            if not _SEGMENT_RE.fullmatch(seg):
                shown = KEY_SEPARATOR.join(segs)
                if seg == "":
                    raise InvalidKey(shown, "empty key segment")
                bad = next(c for c in seg if c not in _VALID_CHARS and c != ".")
                raise InvalidKey(shown, f"Segment '{seg}' contains invalid character '{bad}'")
        _check(name, segs, type)
        key = cls.__new__(cls)
        key._init(name, segs, type)
        return key

    # -- value semantics ---------------------------------------------------------------
    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError("Key is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return self.segments == other.segments

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: Key) -> bool:
        return self.segments < other.segments

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        kind = "" if self.type is KeyType.DATA else ", KeyType.META"
        return f"Key({self.name!r}{kind})"

    def __reduce__(self) -> tuple[object, ...]:
        return (Key, (self.name, self.type))

    @property
    def canonical_name(self) -> str:
        """The name ``from_segments`` would give: only segments containing ``.`` are quoted."""
        return KEY_SEPARATOR.join(_quote(s) for s in self.segments)

    # -- operations ----------------------------------------------------------------------
    def strip_prefix(self, prefix: str) -> Key:
        """Remove ``prefix + "."`` from the start of the *name* and re-parse the rest.

        String semantics: ``a."b.c".d`` does not start with ``a.b.``, so it is unchanged.
        A key equal to the prefix is an error (nothing would be left).
        """
        if prefix == self.name:
            raise InvalidKey(self.name, f"cannot strip prefix '{prefix}': nothing would remain")
        start = prefix + KEY_SEPARATOR
        if self.name.startswith(start):
            return Key(self.name[len(start) :], KeyType.DATA)
        return self if self.type is KeyType.DATA else Key(self.name, KeyType.DATA)

    def strip_prefix_segments(self, prefix: Sequence[str]) -> Key:
        """Drop ``prefix`` when it equals the first segments; an empty remainder is an error."""
        n = len(prefix)
        if tuple(prefix) == self.segments[:n]:
            if n == len(self.segments):
                raise InvalidKey(self.name, "cannot strip prefix: nothing would remain")
            return Key.from_segments(self.segments[n:])
        return self if self.type is KeyType.DATA else Key.from_segments(self.segments)

    def append_segments(self, segments: Iterable[str]) -> Key:
        """A data key made of this key's segments followed by ``segments`` (checked again)."""
        return Key.from_segments((*self.segments, *segments))

    def append_key(self, other: Key) -> Key:
        """A data key made of this key's segments followed by ``other``'s."""
        return self.append_segments(other.segments)

    def starts_with_segments(self, prefix: Sequence[str]) -> bool:
        """Segment-wise prefix test: ``a.b`` starts with ``["a"]`` but not with ``["a."]``."""
        return self.segments[: len(prefix)] == tuple(prefix)


def _trusted(segments: tuple[str, ...], name: str) -> Key:
    """A data key from segments the caller has already checked with ``valid_segment``."""
    if len(name.encode("utf-8")) > MAX_KEY_NAME_LENGTH:
        raise KeyTooLong(name, MAX_KEY_NAME_LENGTH)
    key = Key.__new__(Key)
    key._init(name, segments, KeyType.DATA)
    return key


def valid_segment(segment: str) -> bool:
    """True when ``segment`` may be part of a key (valid characters or ``.``, not empty)."""
    return _SEGMENT_RE.fullmatch(segment) is not None


def quote_segment(segment: str) -> str:
    """The segment as it appears in a canonical name: quoted when it contains ``.``."""
    return f'"{segment}"' if KEY_SEPARATOR in segment else segment


def _quote(segment: str) -> str:
    return f'"{segment}"' if KEY_SEPARATOR in segment else segment


def _parse(name: str) -> tuple[str, ...]:
    if not name:
        raise InvalidKey(name, "cannot be empty")
    segments: list[str] = []
    current: list[str] = []
    in_quotes = False
    for c in name:
        if c == '"':
            in_quotes = not in_quotes
        elif c == KEY_SEPARATOR:
            if in_quotes:
                current.append(c)
            else:
                if not current:
                    raise InvalidKey(name, "empty key segment")
                segments.append("".join(current))
                current = []
        elif c in _VALID_CHARS:
            current.append(c)
        else:
            raise InvalidKey(name, f"invalid character in key: '{c}'")
    if in_quotes:
        raise InvalidKey(name, "unbalanced quotes")
    if not current:
        raise InvalidKey(name, "ends with separator")
    segments.append("".join(current))
    return tuple(segments)


def _check(name: str, segments: tuple[str, ...], type: KeyType) -> None:
    if len(name.encode("utf-8")) > MAX_KEY_NAME_LENGTH:
        raise KeyTooLong(name, MAX_KEY_NAME_LENGTH)
    if type is KeyType.DATA and not segments:
        raise InvalidKey(name, "data keys must have at least one segment")
    if type is KeyType.META and len(segments) != 1:
        raise InvalidKey(name, "meta keys may only have one segment")
