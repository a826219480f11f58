"""Commit history, rollback and commit-confirmed reverts, over the datastore's commit journal.

The journal records every generation (transaction, time, caller, each key's old and new value)
and computes the change-set that restores a generation; this module turns that into the API's
shapes: history entries, a generation's change as an RFC 6902 JSON Patch over the settings
object, and the change-sets that roll back to a generation or revert one generation.
These functions touch the journal, so they run in the writer thread (one at a time with
commits); they never write — the controller commits what they compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thar.datastore import Commit, DataStore, DatastoreError, JournalError, Key, from_map_with_prefix

from .errors import DataStoreFailed, GenerationNotFound

__all__ = ["commit_patch", "history_entries", "history_entry", "revert_changes", "rollback_changes"]

SETTINGS = "settings."


def history_entry(commit: Commit) -> dict[str, Any]:
    """One commit as ``GET /tx/history`` lists it."""
    caller = commit.caller
    return {
        "generation": commit.generation,
        "transaction": commit.transaction,
        "time": commit.time,
        "caller": None if caller is None else {"uid": caller.uid, "gid": caller.gid, "pid": caller.pid},
        "keys": commit.keys,
    }


def history_entries(
    datastore: DataStore, limit: int | None, before: int | None, prefix: str | None
) -> list[dict[str, Any]]:
    """Commits, newest first; ``prefix``: only commits that changed a key starting with it."""
    try:
        return [history_entry(c) for c in datastore.history(limit=limit, before=before, prefix=prefix)]
    except DatastoreError as exc:
        raise DataStoreFailed("history", exc) from exc


def _get(datastore: DataStore, generation: int) -> Commit:
    try:
        return datastore.journal.get(generation)
    except JournalError:
        raise GenerationNotFound(generation, datastore.journal.last_generation) from None


def _settings(values: Mapping[str, str]) -> dict[str, Any]:
    pairs = {Key(name): value for name, value in values.items() if name.startswith(SETTINGS)}
    return from_map_with_prefix(pairs, "settings") if pairs else {}


def _overlay(values: dict[str, str], changes: Mapping[Key, str | None]) -> None:
    for key, value in changes.items():
        if value is None:
            values.pop(key.name, None)
        else:
            values[key.name] = value


def commit_patch(datastore: DataStore, live: Mapping[str, str], generation: int) -> list[dict[str, Any]]:
    """Generation ``generation``'s change as a JSON Patch from the settings object before it to
    the settings object right after it (both rebuilt from ``live`` through the journal)."""
    import jsonpatch  # loaded on first use: serving settings does not need it

    commit = _get(datastore, generation)
    after = {name: value for name, value in live.items() if name.startswith(SETTINGS)}
    try:
        _overlay(after, datastore.restore_changes(generation))
    except JournalError:
        raise GenerationNotFound(generation, datastore.journal.last_generation) from None
    before = dict(after)
    _overlay(before, {key: change.old for key, change in commit.changes.items()})
    patch: list[dict[str, Any]] = jsonpatch.make_patch(_settings(before), _settings(after)).patch
    return patch


def rollback_changes(datastore: DataStore, generation: int) -> dict[Key, str | None]:
    """The settings changes that bring live back to its state right after ``generation``."""
    try:
        changes = datastore.restore_changes(generation)
    except JournalError:
        raise GenerationNotFound(generation, datastore.journal.last_generation) from None
    return {key: value for key, value in changes.items() if key.name.startswith(SETTINGS)}


def revert_changes(datastore: DataStore, live: Mapping[str, str], generation: int) -> dict[Key, str | None]:
    """Undo one generation (commit-confirmed's timeout): each key it changed gets its old value
    back, unless a later commit changed that key again (then the later value stays)."""
    commit = _get(datastore, generation)
    return {
        key: change.old
        for key, change in commit.changes.items()
        if live.get(key.name) == change.new and change.old != change.new
    }
