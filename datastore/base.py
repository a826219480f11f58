"""The ``DataStore`` contract shared by the filesystem and memory backends.

A backend implements a few primitives (read, write and list one committed state, metadata,
transactions, and applying a change-set to live); everything else — ``set_keys``,
``get_prefix``, inherited ``get_metadata``, and the journaled ``commit_transaction`` — is
built here on top of them, so both backends behave the same.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from .errors import CommitWithNoPending, DatastoreError, InvalidTransaction, ListedKeyNotPresent
from .journal import Caller, Change, Commit, Journal
from .key import Key, KeyType

__all__ = ["LIVE", "Committed", "DataStore", "Live", "Pending"]

SETTINGS_PREFIX = "settings."
log = logging.getLogger("thar.datastore")


@dataclass(frozen=True)
class Live:
    """The committed, live state."""


@dataclass(frozen=True)
class Pending:
    """The pending state of one transaction (``default`` when the API is given no ``tx``)."""

    tx: str = "default"

    def __post_init__(self) -> None:
        if not self.tx:
            raise InvalidTransaction(self.tx)


Committed: TypeAlias = Live | Pending
LIVE = Live()


class DataStore(abc.ABC):
    """A settings datastore: live values, pending transactions, metadata and a journal."""

    journal: Journal
    #: Commits recorded (durably) but not yet checkpointed: live may not be on disk for them.
    CHECKPOINT_EVERY = 64
    _checkpointed = 0
    #: Set by writes outside commits (storewolf's defaults, metadata) until the next barrier.
    _unsynced = False

    # -- primitives ----------------------------------------------------------------------
    @abc.abstractmethod
    def key_populated(self, key: Key, committed: Committed) -> bool:
        """True when ``key`` holds a value — or, on disk, is a directory of other keys."""

    @abc.abstractmethod
    def get_key(self, key: Key, committed: Committed) -> str | None:
        """The key's stored string, or None when it is unset."""

    @abc.abstractmethod
    def set_key(self, key: Key, value: str, committed: Committed) -> None:
        """Store ``value`` (a JSON string) at ``key``, replacing what was there."""

    @abc.abstractmethod
    def unset_key(self, key: Key, committed: Committed) -> None:
        """Remove ``key``; removing an absent key is not an error."""

    @abc.abstractmethod
    def list_populated_keys(self, prefix: str, committed: Committed) -> set[Key]:
        """Data keys holding a value whose *name* starts with ``prefix`` (string match:
        ``settings.a`` also matches ``settings.ab.c``; pass ``settings.`` for a subtree)."""

    @abc.abstractmethod
    def get_metadata_raw(self, metadata: Key, key: Key) -> str | None:
        """The metadata ``metadata`` set on exactly ``key`` (no inheritance), or None."""

    @abc.abstractmethod
    def set_metadata(self, metadata: Key, key: Key, value: str) -> None:
        """Set metadata on ``key``; metadata is always live."""

    @abc.abstractmethod
    def unset_metadata(self, metadata: Key, key: Key) -> None:
        """Remove metadata from ``key``; absent metadata is not an error."""

    @abc.abstractmethod
    def list_populated_metadata(self, prefix: str, metadata: Key | None = None) -> dict[Key, set[Key]]:
        """``{data key: {metadata keys}}`` for data keys whose names start with ``prefix``,
        keeping only ``metadata`` when given. A data key appears only with a match."""

    @abc.abstractmethod
    def delete_transaction(self, tx: str) -> set[Key]:
        """Drop transaction ``tx``; return the ``settings.`` keys it held (maybe none)."""

    @abc.abstractmethod
    def list_transactions(self) -> set[str]:
        """Names of the transactions that have a pending state."""

    @abc.abstractmethod
    def _prepare(self, changes: Mapping[Key, str | None]) -> dict[Key, Change]:
        """Each changed key's live value and new value; raise KeyConflict, writing nothing,
        if ``changes`` cannot be applied (a key would be both a value and a prefix)."""

    @abc.abstractmethod
    def _apply_live(self, changes: Mapping[Key, str | None], staged: object = None) -> None:
        """Write every change to live; None removes the key. ``staged``: what ``_stage_live``
        prepared for these changes (None: write everything directly)."""

    def _drop_transaction(self, tx: str) -> None:
        """``delete_transaction`` without listing what it held."""
        self.delete_transaction(tx)

    def _barrier(self) -> None:
        """Make everything written so far durable (a no-op for the memory store)."""

    def checkpoint(self) -> None:
        """Make everything written durable and mark every recorded commit applied, so that
        none is replayed at the next open. Runs every CHECKPOINT_EVERY commits, before a direct
        write to live, and at close; idempotent and free when there is nothing to do."""
        if self.journal.last_generation > self._checkpointed or self._unsynced:
            self._barrier()
            self._unsynced = False
            self.journal.mark_applied(self.journal.last_generation)
            self._checkpointed = self.journal.last_generation

    def close(self) -> None:
        """Finish: checkpoint, then close the journal."""
        self.checkpoint()
        self.journal.close()

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- derived operations ----------------------------------------------------------------
    def set_keys(self, pairs: Mapping[Key, str], committed: Committed) -> None:
        """``set_key`` for each pair (stops at the first error; not a transaction)."""
        for key, value in pairs.items():
            self.set_key(key, value, committed)

    def unset_keys(self, keys: Iterable[Key], committed: Committed) -> None:
        """``unset_key`` for each key."""
        for key in keys:
            self.unset_key(key, committed)

    def get_prefix(self, prefix: str, committed: Committed) -> dict[Key, str]:
        """Every populated key whose name starts with ``prefix``, with its value."""
        found: dict[Key, str] = {}
        for key in self.list_populated_keys(prefix, committed):
            value = self.get_key(key, committed)
            if value is None:  # listed a moment ago: someone is changing the store under us
                raise ListedKeyNotPresent(key.name)
            found[key] = value
        return found

    def get_metadata(self, metadata: Key, key: Key) -> str | None:
        """Inherited metadata: the value set on the longest prefix of ``key`` (``key``
        included) that has ``metadata``, or None. ``a`` with ``m`` set answers for ``a.b.c``."""
        for n in range(len(key.segments), 0, -1):
            value = self.get_metadata_raw(metadata, Key.from_segments(key.segments[:n]))
            if value is not None:
                return value
        return None

    def get_metadata_prefix(self, prefix: str, metadata: Key | None = None) -> dict[Key, dict[Key, str]]:
        """``{data key: {metadata key: value}}`` for the metadata listed under ``prefix``."""
        out: dict[Key, dict[Key, str]] = {}
        for data_key, meta_keys in self.list_populated_metadata(prefix, metadata).items():
            values = {}
            for meta_key in meta_keys:
                value = self.get_metadata(meta_key, data_key)
                if value is None:
                    raise ListedKeyNotPresent(f"{data_key.name}.{meta_key.name}")
                values[meta_key] = value
            out[data_key] = values
        return out

    # -- staging ------------------------------------------------------------------------------
    def stage(self, tx: str, values: Mapping[Key, str], removed: Iterable[Key] = ()) -> None:
        """Change the pending state of ``tx`` as one step: remove ``removed``, then set ``values``.

        Either every change takes effect or none does, also when the process is killed part-way
        (the next open puts back what the transaction held before). A transaction that did not
        exist before and is left holding nothing is not created.
        """
        pending = Pending(tx)
        for key in removed:
            self.unset_key(key, pending)
        for key, value in values.items():
            self.set_key(key, value, pending)

    # -- commits -------------------------------------------------------------------------------
    def commit_transaction(self, tx: str, caller: Caller | None = None) -> set[Key]:
        """Commit the pending ``settings.`` keys of ``tx`` to live, atomically; return them.

        Other pending keys (``os.*`` from migrations) are dropped with the transaction. With
        nothing pending, raise CommitWithNoPending and leave the transaction as it is.
        """
        pending = self.get_prefix(SETTINGS_PREFIX, Pending(tx))
        if not pending:
            raise CommitWithNoPending(tx)
        self.commit_changes(pending, tx, caller, drop_transaction=True)
        return set(pending)

    def commit_changes(
        self,
        changes: Mapping[Key, str | None],
        tx: str,
        caller: Caller | None = None,
        *,
        drop_transaction: bool = False,
    ) -> Commit:
        """Apply ``changes`` (None removes a key) to live as one journaled generation.

        Either every change takes effect or none does, also across a crash: the record is
        durable before live is touched, and opening the datastore replays it. Conflicts
        (a key that would be both a value and a prefix) are found first and write nothing.
        A commit that raises has changed nothing: live, the history and the transaction are
        as they were. Everything that needs new room on disk (new values, the record) is
        written before live is touched, so a full disk (``OutOfSpace``) is found while
        nothing is yet to undo.
        """
        record = self._prepare(changes)
        staged = self._stage_live(changes)
        generation = self.journal.last_generation + 1
        detached: object = None
        try:
            if drop_transaction:
                # Out of the listing before the record: once the record is durable the commit
                # holds the values, and opening the store drops a transaction detached for a
                # recorded generation (or puts it back when the record never was written).
                detached = self._detach_transaction(tx, generation)
            # The record is durable when this returns (the journal's own fsync); until the next
            # checkpoint it stays "unapplied", so a crash at any later point replays it.
            commit = self.journal.record(tx, caller, record)
        except BaseException:
            if detached is not None:
                self._reattach_transaction(detached)
            self._discard_staged(staged)
            raise
        try:
            self._apply_live(changes, staged)
        except BaseException:
            self._abort(commit, staged, detached)
            raise
        if detached is not None:
            self._release_transaction(detached)
        if commit.generation - self._checkpointed >= self.CHECKPOINT_EVERY:
            try:
                self.checkpoint()
            except DatastoreError as exc:
                # The commit is durable and applied; its "applied" mark can wait for the next
                # checkpoint (until then, opening the store replays it, which changes nothing).
                log.warning("Checkpoint after generation %d deferred: %s", commit.generation, exc)
        return commit

    def _stage_live(self, changes: Mapping[Key, str | None]) -> object:
        """Write, where no reader looks, whatever applying ``changes`` needs new room for;
        return a handle for ``_apply_live``. Raise (leaving nothing behind) when it cannot."""
        return None

    def _discard_staged(self, staged: object) -> None:
        """Remove what ``_stage_live`` wrote and ``_apply_live`` has not put in place."""

    def _detach_transaction(self, tx: str, generation: int) -> object:
        """Take ``tx`` out of the listing for the commit of ``generation``, so that it can be
        put back (``_reattach_transaction``) or removed (``_release_transaction``); None when
        ``tx`` has no pending state."""
        self._drop_transaction(tx)
        return None

    def _reattach_transaction(self, detached: object) -> None:
        """Put back a transaction ``_detach_transaction`` took away."""

    def _release_transaction(self, detached: object) -> None:
        """Remove for good a transaction ``_detach_transaction`` took away."""

    def _abort(self, commit: Commit, staged: object, detached: object) -> None:
        """Put back the old values of a commit that failed part-way, its transaction, then
        forget it. If even that fails, the record stays unapplied and the next open replays
        it (logged: the failure is then not clean)."""
        try:
            self._apply_live({key: change.old for key, change in commit.changes.items()}, None)
            self._discard_staged(staged)
            if detached is not None:
                self._reattach_transaction(detached)
            self._barrier()  # the old values must be on disk before the record that redoes them goes
            self.journal.forget(commit.generation)
        except BaseException as exc:
            log.error("Generation %d failed and could not be undone (%s); it is replayed at the next open",
                      commit.generation, exc)  # fmt: skip
            raise

    def _replay(self) -> None:
        """Finish commits that were interrupted: re-apply every unapplied record in order."""
        records = self.journal.unapplied()
        self._checkpointed = records[0].generation - 1 if records else self.journal.last_generation
        if not records:
            return
        self._before_replay()
        for commit in records:
            self._apply_live({key: change.new for key, change in commit.changes.items()}, None)
        self.checkpoint()

    def _before_replay(self) -> None:
        """Clean up what an interrupted commit may have left behind (backend-specific)."""

    # -- history --------------------------------------------------------------------------------
    def history(self, limit: int | None = None, before: int | None = None, prefix: str | None = None) -> list[Commit]:
        """Recorded commits, newest first (see ``Journal.history``)."""
        return self.journal.history(limit=limit, before=before, prefix=prefix)

    def restore_changes(self, generation: int) -> dict[Key, str | None]:
        """The change-set that returns live to its state right after ``generation``; pass it
        to ``commit_changes`` to roll back as a new generation."""
        return self.journal.restore_changes(generation)


def meta_key(name: str) -> Key:
    """A metadata key such as ``affected-services``."""
    return Key(name, KeyType.META)
