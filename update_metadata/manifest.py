"""``manifest.json``: the update manifest every Bottlerocket update repository publishes (updates.md §2).

The model is pydantic v2. :func:`load_manifest` reads Bottlerocket's JSON (duplicate keys are
seen in the JSON text itself, as serde sees them, not lost as ``json`` would lose them);
:func:`dump_manifest` writes it back in Bottlerocket's shape: field order ``variant, arch,
version, max_version, waves, images{boot, root, hash}``, wave keys in numeric order, chrono's
timestamp format, migration keys ``"(X, Y)"`` in string order (as upstream's serializer sorts them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .errors import ManifestError, TimestampError, VersionError
from .semver import Version
from .timestamps import Timestamp
from .waves import ready

__all__ = ["Images", "Manifest", "Update", "dump_manifest", "load_manifest", "manifest_to_dict", "parse_manifest"]

_MIGRATION_KEY = re.compile(r"\((?P<from>[^ ,]+),[ ]*(?P<to>[^ ,]+)\)")
_U32_MAX = 2**32 - 1


class _Pairs(dict[str, Any]):
    """A JSON object that remembers every key/value pair in the order of the text, repeats included."""

    pairs: list[tuple[str, Any]]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(pairs)
    obj.pairs = pairs
    return obj


def _items(value: Any, what: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value.pairs if isinstance(value, _Pairs) else value.items()


def _no_duplicate_fields(value: Any, fields: Iterable[str]) -> None:
    if isinstance(value, _Pairs):
        names = set(fields)
        seen: set[str] = set()
        for key, _ in value.pairs:
            if key in names and key in seen:
                raise ValueError(f"duplicate field '{key}'")
            seen.add(key)


def _version(value: Any) -> Version:
    if isinstance(value, Version):
        return value
    try:
        return Version.parse(value)
    except VersionError as exc:
        raise ValueError(str(exc)) from exc


class _Model(BaseModel):
    # strict: a JSON number is not a string; unknown keys are ignored, as serde ignores them
    model_config = ConfigDict(strict=True, extra="ignore", arbitrary_types_allowed=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _fields_once(cls, value: Any) -> Any:
        _no_duplicate_fields(value, cls.model_fields)
        return value


class Images(_Model):
    """The TUF target names of one release's three images."""

    boot: str
    root: str
    hash: str


class Update(_Model):
    """One release of one variant and architecture."""

    variant: str
    arch: str
    version: Version
    max_version: Version
    waves: dict[int, Timestamp]
    images: Images

    @field_validator("version", "max_version", mode="before")
    @classmethod
    def _semver(cls, value: Any) -> Version:
        return _version(value)

    @field_validator("waves", mode="before")
    @classmethod
    def _waves(cls, value: Any) -> dict[int, Timestamp]:
        waves: dict[int, Timestamp] = {}
        for key, time in _items(value, "waves"):
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)  # a model built in Python: the same rules as for JSON keys
            digits = key.removeprefix("+")  # Rust's u32 parser takes one leading '+' and leading zeros
            if not (digits.isascii() and digits.isdigit()) or int(digits) > _U32_MAX:
                raise ValueError(f"Bad bound field: {key}")
            bound = int(digits)
            if bound in waves:
                raise ValueError(f"Duplicate key ID: {bound}")
            try:
                waves[bound] = time if isinstance(time, Timestamp) else Timestamp.parse(time)
            except TimestampError as exc:
                raise ValueError(f"wave {key}: {exc}") from exc
        return waves

    def ready(self, seed: int, now: Timestamp | dt.datetime) -> bool:
        """Whether a host with ``seed`` may take this update at ``now`` (a Timestamp or aware datetime)."""
        return ready(self.waves, seed, now)


class Manifest(_Model):
    """The whole manifest: every update, and the migrations between versions."""

    updates: list[Update]
    migrations: dict[tuple[Version, Version], list[str]]

    @field_validator("migrations", mode="before")
    @classmethod
    def _migrations(cls, value: Any) -> dict[tuple[Version, Version], list[str]]:
        if isinstance(value, dict) and all(isinstance(k, tuple) for k in value):
            return {k: list(v) for k, v in value.items()}
        table: dict[tuple[Version, Version], list[str]] = {}
        for key, names in _items(value, "migrations"):
            m = _MIGRATION_KEY.search(key)  # unanchored, as upstream's regex
            if m is None:
                raise ValueError(f"Could not parse OS versions: {key}")
            try:
                pair = (Version.parse(m["from"]), Version.parse(m["to"]))
            except VersionError as exc:
                raise ValueError(f"Could not parse OS versions: {m['from']}, {m['to']} ({exc})") from exc
            if pair in table:
                raise ValueError(f"Duplicate version key: {key}")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"migrations {key}: expected a list of migration names")
            table[pair] = names
        return table


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_manifest(data: str | bytes) -> Manifest:
    """A :class:`Manifest` from JSON text; :class:`ManifestError` says where it is wrong."""
    try:
        raw = json.loads(data, object_pairs_hook=_object_pairs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"Failed to parse manifest file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"Failed to parse manifest file: expected a JSON object, got {type(raw).__name__}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(f"Failed to parse manifest file: {_describe(exc)}") from exc


def load_manifest(path: Path) -> Manifest:
    """Read and parse a ``manifest.json`` file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"Failed to read '{path}': {exc.strerror or exc}") from exc
    return parse_manifest(data)


def manifest_to_dict(manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON-ready data in Bottlerocket's field and key order."""
    return {
        "updates": [
            {
                "variant": u.variant,
                "arch": u.arch,
                "version": str(u.version),
                "max_version": str(u.max_version),
                "waves": {str(k): str(u.waves[k]) for k in sorted(u.waves)},
                "images": {"boot": u.images.boot, "root": u.images.root, "hash": u.images.hash},
            }
            for u in manifest.updates
        ],
        # upstream formats the keys into a string-keyed BTreeMap: sorted as strings, not as versions
        "migrations": dict(sorted((f"({a}, {b})", list(names)) for (a, b), names in manifest.migrations.items())),
    }


def dump_manifest(manifest: Manifest) -> str:
    """Pretty JSON (two-space indent), as ``serde_json::to_string_pretty`` writes it."""
    return json.dumps(manifest_to_dict(manifest), indent=2, ensure_ascii=False)
