"""Staging that goes beyond "write these values": removals (``DELETE /settings``) and JSON Patch
input (``PATCH /settings`` with ``application/json-patch+json``).

A pending transaction holds values only, so a staged removal is recorded beside them as one
extra pending key, ``thar-removals``: a JSON list of the settings keys to remove, each also
removing every key below it. At commit, every live settings key under a removed key that the
transaction does not also set is removed (``pending_changes``). The marker is outside
``settings.``, so Bottlerocket's view of a pending transaction (``GET /tx``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from thar.datastore import (
    DataStore,
    DatastoreError,
    InvalidKey,
    Key,
    Pending,
    from_json,
    from_map_with_prefix,
    to_json,
    to_pairs_with_prefix,
)
from thar.models import ModelError, Variant

from .errors import BadKey, DataStoreFailed, EmptyInput, JsonDeserialize, JsonPatchFailed, write_failed

__all__ = [
    "REMOVALS",
    "Guard",
    "pending_changes",
    "settings_key",
    "stage_json_patch",
    "stage_removals",
    "staged_removals",
    "under",
]

REMOVALS = Key("thar-removals")
SETTINGS = "settings."
Guard = Callable[[Iterable[Key]], None]
"""Checks the keys a caller is about to stage or commit (access control); raises to refuse."""


def settings_key(name: str) -> Key:
    """A settings key from user input: ``motd`` and ``settings.motd`` are both ``settings.motd``."""
    if name == "":
        raise EmptyInput("keys")
    try:
        key = Key(name)
    except InvalidKey as exc:
        raise BadKey("data", name, exc) from None
    if key.segments[0] != "settings":
        key = Key.from_segments(("settings", *key.segments))
    return key


def under(key: Key, prefixes: Iterable[Key]) -> bool:
    """Whether ``key`` is one of ``prefixes`` or below one of them (segment-wise)."""
    return any(key.starts_with_segments(prefix.segments) for prefix in prefixes)


def staged_removals(datastore: DataStore, tx: str) -> list[Key] | None:
    """The removals staged in ``tx``; None when it has none."""
    raw = datastore.get_key(REMOVALS, Pending(tx))
    return None if raw is None else [Key(name) for name in from_json(raw)]


def pending_changes(datastore: DataStore, tx: str, live: Mapping[str, str]) -> dict[Key, str | None] | None:
    """What committing ``tx`` changes: its pending settings, plus ``None`` for each live settings
    key under a staged removal that the transaction does not set. None: nothing is staged."""
    pending: dict[Key, str | None] = dict(datastore.get_prefix(SETTINGS, Pending(tx)))
    removals = staged_removals(datastore, tx)
    if removals is None:
        return pending or None
    for name in live:
        if name.startswith(SETTINGS):
            key = Key(name)
            if key not in pending and under(key, removals):
                pending[key] = None
    return pending


def _with_removals(datastore: DataStore, tx: str, keys: Iterable[Key]) -> dict[Key, str]:
    """The removals marker of ``tx`` once ``keys`` are added to it, as a pair to stage."""
    removals = staged_removals(datastore, tx) or []
    merged = sorted({*(k.name for k in removals), *(k.name for k in keys)})
    return {REMOVALS: to_json(merged)}


def stage_removals(datastore: DataStore, variant: Variant, tx: str, keys: list[Key], guard: Guard | None) -> None:
    """``DELETE /settings``: each key (and everything below it) goes back to the variant's
    default, or is removed where the variant has none. Staged in ``tx``; committed as usual."""
    if guard is not None:
        guard(keys)
    try:
        defaults = to_pairs_with_prefix("settings", variant.defaults.get("settings", {}))
    except DatastoreError as exc:  # the variant's defaults were validated when it was loaded
        raise DataStoreFailed("reading the variant defaults", exc) from exc
    restored = {key: value for key, value in defaults.items() if under(key, keys)}
    try:
        staged = datastore.get_prefix(SETTINGS, Pending(tx))
        unset = [key for key in staged if under(key, keys)]
        datastore.stage(tx, {**restored, **_with_removals(datastore, tx, keys)}, unset)
    except DatastoreError as exc:
        raise write_failed("stage removals", exc) from exc


def current_view(datastore: DataStore, tx: str, live: Mapping[str, str]) -> dict[Key, str]:
    """Live settings overlaid with what ``tx`` stages (values and removals)."""
    view = {Key(name): value for name, value in live.items() if name.startswith(SETTINGS)}
    removals = staged_removals(datastore, tx)
    if removals:
        view = {key: value for key, value in view.items() if not under(key, removals)}
    view.update(datastore.get_prefix(SETTINGS, Pending(tx)))
    return view


def stage_json_patch(
    datastore: DataStore, variant: Variant, tx: str, live: Mapping[str, str], patch: Any, guard: Guard | None
) -> None:
    """Apply an RFC 6902 patch to the current view of the settings (live overlaid with ``tx``),
    validate the whole result with the variant's model, and stage the difference: changed and
    new leaves as values, leaves the patch removed (or set to null) as removals."""
    import jsonpatch  # loaded on the first JSON Patch: a server may never see one
    import jsonpointer

    if not isinstance(patch, list):
        raise JsonPatchFailed("the body must be a JSON array of operations")
    try:
        view_pairs = current_view(datastore, tx, live)
    except DatastoreError as exc:
        raise DataStoreFailed("reading the current settings", exc) from exc
    view = from_map_with_prefix(view_pairs, "settings") if view_pairs else {}
    try:
        result = jsonpatch.JsonPatch(patch).apply(view)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise JsonPatchFailed(str(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # malformed operations
        raise JsonPatchFailed(f"invalid operation: {exc}") from None
    if not isinstance(result, dict):
        raise JsonPatchFailed("the result must be a settings object")
    try:
        settings = variant.parse_settings(result)
    except ModelError as exc:
        raise JsonDeserialize("\n".join(exc.lines)) from None
    try:
        raw = to_pairs_with_prefix("settings", result)
        normalized = to_pairs_with_prefix(
            "settings", settings.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
    except DatastoreError as exc:
        raise JsonDeserialize(str(exc)) from None
    changed = {key: value for key, value in normalized.items() if view_pairs.get(key) != value}
    removed = [key for key in view_pairs if key not in raw]
    if guard is not None:
        guard([*changed, *removed])
    try:
        marker = _with_removals(datastore, tx, removed) if removed else {}
        datastore.stage(tx, {**changed, **marker}, removed)
    except DatastoreError as exc:
        raise write_failed("stage patch", exc) from exc
