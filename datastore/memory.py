"""An in-memory datastore with the same contract as the filesystem store.

Meant for tests of other components (it is a real implementation, not a mock). Unlike
Bottlerocket's memory store it follows the filesystem store's rules exactly — only
``settings.`` keys are committed, an empty commit is an error that keeps the transaction, and
a key cannot be both a value and a prefix — so code that passes on it passes on disk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from .base import Committed, DataStore, Live, Pending
from .errors import KeyConflict
from .journal import Change, Journal
from .key import Key

__all__ = ["MemoryDataStore"]


class _State:
    """One committed state: values, plus how many values lie below each proper prefix."""

    def __init__(self) -> None:
        self.values: dict[Key, str] = {}
        self.below: Counter[tuple[str, ...]] = Counter()

    def conflict(self, key: Key, removed: Mapping[Key, object] = {}) -> str | None:
        """The key ``key`` would clash with (as its prefix or below it), if any."""
        segs = key.segments
        for n in range(1, len(segs)):
            parent = Key.from_segments(segs[:n])
            if parent in self.values and parent not in removed:
                return parent.name
        if self.below[segs]:
            other = next(k for k in self.values if k.segments[: len(segs)] == segs and k != key)
            return other.name
        return None

    def set(self, key: Key, value: str) -> None:
        if key not in self.values:
            segs = key.segments
            self.below.update(segs[:n] for n in range(1, len(segs)))
        self.values[key] = value

    def unset(self, key: Key) -> None:
        if self.values.pop(key, None) is not None:
            segs = key.segments
            self.below.subtract(segs[:n] for n in range(1, len(segs)))


class MemoryDataStore(DataStore):
    """Live values, pending transactions and metadata in dictionaries; journal in memory."""

    def __init__(self) -> None:
        self._live = _State()
        self._pending: dict[str, _State] = {}
        self._metadata: dict[Key, dict[Key, str]] = {}
        self.journal = Journal(None)

    def _state(self, committed: Committed, create: bool = False) -> _State:
        if isinstance(committed, Live):
            return self._live
        if create:
            return self._pending.setdefault(committed.tx, _State())
        return self._pending.get(committed.tx) or _State()

    def key_populated(self, key: Key, committed: Committed) -> bool:
        state = self._state(committed)
        return key in state.values or state.below[key.segments] > 0

    def get_key(self, key: Key, committed: Committed) -> str | None:
        return self._state(committed).values.get(key)

    def set_key(self, key: Key, value: str, committed: Committed) -> None:
        state = self._state(committed, create=True)
        other = state.conflict(key)
        if other is not None:
            raise KeyConflict(key.name, other)
        state.set(key, value)

    def unset_key(self, key: Key, committed: Committed) -> None:
        self._state(committed).unset(key)

    def list_populated_keys(self, prefix: str, committed: Committed) -> set[Key]:
        return {k for k in self._state(committed).values if k.canonical_name.startswith(prefix)}

    def get_metadata_raw(self, metadata: Key, key: Key) -> str | None:
        return self._metadata.get(key, {}).get(metadata)

    def set_metadata(self, metadata: Key, key: Key, value: str) -> None:
        self._metadata.setdefault(key, {})[metadata] = value

    def unset_metadata(self, metadata: Key, key: Key) -> None:
        values = self._metadata.get(key, {})
        values.pop(metadata, None)
        if not values:
            self._metadata.pop(key, None)

    def list_populated_metadata(self, prefix: str, metadata: Key | None = None) -> dict[Key, set[Key]]:
        out: dict[Key, set[Key]] = {}
        for key, values in self._metadata.items():
            if key.canonical_name.startswith(prefix):
                found = {m for m in values if metadata is None or m == metadata}
                if found:
                    out[key] = found
        return out

    def delete_transaction(self, tx: str) -> set[Key]:
        state = self._pending.pop(tx, None)
        if state is None:
            return set()
        return {k for k in state.values if k.canonical_name.startswith("settings.")}

    def list_transactions(self) -> set[str]:
        return set(self._pending)

    def _prepare(self, changes: Mapping[Key, str | None]) -> dict[Key, Change]:
        removed = {k: None for k, v in changes.items() if v is None}
        written = {k.segments for k, v in changes.items() if v is not None}
        for key, value in changes.items():
            if value is None:
                continue
            other = self._live.conflict(key, removed)
            for n in range(1, len(key.segments)):
                if other is None and key.segments[:n] in written:
                    other = Key.from_segments(key.segments[:n]).name
            if other is not None:
                raise KeyConflict(key.name, other)
        return {key: Change(self._live.values.get(key), new) for key, new in changes.items()}

    def stage(self, tx: str, values: Mapping[Key, str], removed: Iterable[Key] = ()) -> None:
        existed = tx in self._pending
        state = self._state(Pending(tx), create=True)
        removed = list(removed)
        before = {key: state.values.get(key) for key in (*removed, *values)}
        try:
            for key in removed:
                state.unset(key)
            for key, value in values.items():
                self.set_key(key, value, Pending(tx))
        except BaseException:
            if not existed:
                del self._pending[tx]
            else:
                for key, old in before.items():
                    state.unset(key)
                    if old is not None:
                        state.set(key, old)
            raise

    def _detach_transaction(self, tx: str, generation: int) -> object:
        state = self._pending.pop(tx, None)
        return None if state is None else (tx, state)

    def _reattach_transaction(self, detached: object) -> None:
        assert isinstance(detached, tuple)
        self._pending[detached[0]] = detached[1]

    def _apply_live(self, changes: Mapping[Key, str | None], staged: object = None) -> None:
        for key, value in changes.items():
            if value is None:
                self._live.unset(key)
        for key, value in changes.items():
            if value is not None:
                self._live.set(key, value)
