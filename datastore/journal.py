"""The commit journal: a redo log that makes commits atomic, and the commit history.

Every commit is one *generation*: its transaction name, time, caller and, per key, the old
and new stored strings (``None`` = absent). A record is written before live is touched and
marked applied afterwards, so a commit interrupted at any point is finished by replaying its
record when the datastore is opened again. Records are never removed after they apply: they
are the history that ``history()`` lists and ``restore_changes()`` rolls back to.

The journal is SQLite, through sqlite-utils (its schema and the steps that upgrade it, its
transactions), in WAL mode with ``synchronous=FULL``: a record costs one fsync of the WAL,
whatever the number of keys. Records are marked applied in generation order at checkpoints,
after a barrier has made live durable; WAL recovery keeps a prefix of the committed
transactions, so a mark never survives without its predecessors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from .errors import JournalError, OutOfSpace
from .key import Key

__all__ = ["JOURNAL_FILE", "Caller", "Change", "Commit", "Journal"]

JOURNAL_FILE = "journal.sqlite3"


@dataclass(frozen=True)
class Caller:
    """Who asked for a commit: the peer credentials of the API socket (SO_PEERCRED)."""

    uid: int
    gid: int
    pid: int


@dataclass(frozen=True)
class Change:
    """One key's stored string before and after a commit; ``None`` means absent."""

    old: str | None
    new: str | None


@dataclass(frozen=True)
class Commit:
    """One generation of the history."""

    generation: int
    transaction: str
    time: str  # RFC 3339, UTC, e.g. 2026-11-25T17:38:56.123456Z
    caller: Caller | None
    changes: Mapping[Key, Change] = field(repr=False)

    @property
    def keys(self) -> list[str]:
        """The changed keys' names, sorted."""
        return sorted(k.name for k in self.changes)


# -- the schema ------------------------------------------------------------------------------
# The journal's own schema, as an ordered list of steps (sqlite-utils migrations, recorded by
# name in the journal's ``_sqlite_migrations`` table). Opening a journal applies, in order, the
# steps it has not had, each in one transaction with its record. Steps are only ever appended,
# and a step's name never changes: it is how a journal knows which steps it has had.
SCHEMA = sqlite_utils.Migrations("thar-journal")


def _table(db: sqlite_utils.Database, name: str) -> sqlite_utils.db.Table:
    return cast(sqlite_utils.db.Table, db[name])


@SCHEMA(name="commits-and-changes")
def _commits_and_changes(db: sqlite_utils.Database) -> None:
    """Version 1: a row per generation, a row per key it changed. ``if_not_exists``: a journal
    written before its schema had steps has these already, and is upgraded by the record alone."""
    commits, changes = _table(db, "commits"), _table(db, "changes")
    commits.create(
        {"generation": int, "tx": str, "time": str, "uid": int, "gid": int, "pid": int, "applied": int},
        pk="generation",
        not_null={"tx", "time", "applied"},
        if_not_exists=True,
    )
    changes.create(
        {"generation": int, "key": str, "old": str, "new": str},
        pk=("generation", "key"),
        foreign_keys=[("generation", "commits", "generation")],
        if_not_exists=True,
    )
    changes.create_index(["key", "generation"], if_not_exists=True)
    commits.create_index(["applied"], if_not_exists=True)


def _upgrade(db: sqlite_utils.Database) -> None:
    """Apply the steps ``db`` has not had. Under the write lock, taken first: a journal opened
    twice at once is upgraded by one opener, and the other then finds nothing left to do."""
    if not SCHEMA.pending(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        SCHEMA.apply(db)  # each step (and its record) inside a savepoint of this transaction
        db.commit()
    except BaseException:
        db.rollback()
        raise


class Journal:
    """The journal of one datastore. ``Journal(None)`` keeps it in memory (memory store)."""

    def __init__(self, path: Path | None, *, durable: bool = True) -> None:
        self.path = path
        conn = None
        try:
            conn = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
            # No plugins (nothing outside thar hooks into the journal), no pragma of its own.
            self.db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
            if path is not None:
                # FULL: each record is fsynced when written, so it is durable before live
                # is touched. "Applied" marks ride along with a later record's fsync. Set
                # before the switch to WAL, which otherwise syncs a new file even when not durable.
                self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
                self.db.enable_wal()
            _upgrade(self.db)
            row = self.db.execute("SELECT MAX(generation) FROM commits").fetchone()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise JournalError(f"Cannot open the commit journal {path}: {exc}") from exc
        self._last = int(row[0] or 0)

    def close(self) -> None:
        self.db.close()

    @property
    def last_generation(self) -> int:
        """The newest generation recorded, 0 when there is none."""
        return self._last

    # -- the redo log ----------------------------------------------------------------------
    def record(self, tx: str, caller: Caller | None, changes: Mapping[Key, Change]) -> Commit:
        """Append an unapplied record for ``changes`` as the next generation (not fsynced)."""
        generation = self._last + 1
        time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            # Committed, or rolled back on any exception (unless SQLite already did: a full disk).
            with self.db.atomic():
                self.db.conn.execute(
                    "INSERT INTO commits (generation, tx, time, uid, gid, pid, applied) VALUES (?,?,?,?,?,?,0)",
                    [generation, tx, time, *(_caller_row(caller))],
                )
                self.db.conn.executemany(
                    "INSERT INTO changes (generation, key, old, new) VALUES (?,?,?,?)",
                    [(generation, k.name, c.old, c.new) for k, c in changes.items()],
                )
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise OutOfSpace("the commit journal", self.path or "memory", str(exc)) from exc
            raise JournalError(f"Cannot record commit of '{tx}' in {self.path or 'memory'}: {exc}") from exc
        self._last = generation
        return Commit(generation, tx, time, caller, dict(changes))

    def mark_applied(self, through: int) -> None:
        """Mark every record up to generation ``through`` as applied to live."""
        try:
            self.db.execute("UPDATE commits SET applied = 1 WHERE applied = 0 AND generation <= ?", [through])
        except sqlite3.Error as exc:
            raise JournalError(f"Cannot mark generation {through} applied: {exc}") from exc

    def forget(self, generation: int) -> None:
        """Remove the newest record, whose changes were undone before it took effect."""
        if generation != self._last:
            raise JournalError(f"Only the newest generation ({self._last}) can be forgotten, not {generation}")
        try:
            with self.db.atomic():
                self.db.execute("DELETE FROM changes WHERE generation = ?", [generation])
                self.db.execute("DELETE FROM commits WHERE generation = ?", [generation])
        except sqlite3.Error as exc:
            raise JournalError(f"Cannot remove generation {generation} from {self.path or 'memory'}: {exc}") from exc
        self._last = generation - 1

    def unapplied(self) -> list[Commit]:
        """Records not yet marked applied, oldest first: the ones to replay."""
        return list(self._commits("WHERE applied = 0 ORDER BY generation", []))

    # -- the history -------------------------------------------------------------------------
    def history(self, limit: int | None = None, before: int | None = None, prefix: str | None = None) -> list[Commit]:
        """Commits, newest first. ``before``: only generations below it; ``prefix``: only
        commits that changed a key whose name starts with it (string match, like listings)."""
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if before is not None:
            where.append("generation < ?")
            params.append(before)
        if prefix:
            where.append("generation IN (SELECT generation FROM changes WHERE substr(key, 1, ?) = ?)")
            params += [len(prefix), prefix]
        sql = "WHERE " + " AND ".join(where) + " ORDER BY generation DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return list(self._commits(sql, params))

    def get(self, generation: int) -> Commit:
        """The commit of ``generation``; JournalError if the history has no such generation."""
        found = list(self._commits("WHERE generation = ?", [generation]))
        if not found:
            raise JournalError(f"Generation {generation} is not in the history (newest is {self._last})")
        return found[0]

    def restore_changes(self, generation: int) -> dict[Key, str | None]:
        """The change-set that brings live back to its state right after ``generation``.

        For each key changed by a later commit: the value it had then (``None``: the key did
        not exist and must be removed). Keys whose latest value already equals it are left out.
        ``0`` means the state before the first recorded commit.
        """
        if generation < 0 or generation > self._last:
            raise JournalError(f"Generation {generation} is not in the history (newest is {self._last})")
        rows = self.db.execute(
            """
            SELECT key,
              (SELECT old FROM changes c2 WHERE c2.key = c.key AND c2.generation > ?
                 ORDER BY c2.generation ASC LIMIT 1) AS then_value,
              (SELECT new FROM changes c3 WHERE c3.key = c.key
                 ORDER BY c3.generation DESC LIMIT 1) AS now_value
            FROM (SELECT DISTINCT key FROM changes WHERE generation > ?) c
            """,
            [generation, generation],
        ).fetchall()
        return {Key(key): then for key, then, now in rows if then != now}

    def _commits(self, where: str, params: list[Any]) -> Iterator[Commit]:
        rows = self.db.execute(f"SELECT generation, tx, time, uid, gid, pid FROM commits {where}", params).fetchall()
        if not rows:
            return
        # One query for the changes of every selected commit (their generations' range; the
        # few rows of unselected generations inside it are skipped), not one per commit.
        changes: dict[int, dict[Key, Change]] = {row[0]: {} for row in rows}
        low, high = min(changes), max(changes)
        for generation, key, old, new in self.db.execute(
            "SELECT generation, key, old, new FROM changes WHERE generation BETWEEN ? AND ?", [low, high]
        ):
            if generation in changes:
                changes[generation][Key(key)] = Change(old, new)
        for generation, tx, time, uid, gid, pid in rows:
            caller = Caller(uid, gid, pid) if uid is not None else None
            yield Commit(generation, tx, time, caller, changes[generation])


def _caller_row(caller: Caller | None) -> tuple[int | None, int | None, int | None]:
    if caller is None:
        return (None, None, None)
    return (caller.uid, caller.gid, caller.pid)
