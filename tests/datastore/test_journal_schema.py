"""The journal's own schema: its steps run in order when a journal opens, once each, and a
journal written before the schema had steps opens with its history and is upgraded."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils

from thar.datastore import LIVE, Caller, Change, FilesystemDataStore, JournalError, Key, Pending
from thar.datastore import journal as journal_module
from thar.datastore.journal import JOURNAL_FILE, SCHEMA, Journal

# What the journal's schema was before it had steps: the exact DDL of a journal written then.
UNVERSIONED_SCHEMA = [
    'CREATE TABLE "commits" (\n   "generation" INTEGER PRIMARY KEY,\n   "tx" TEXT NOT NULL,\n'
    '   "time" TEXT NOT NULL,\n   "uid" INTEGER,\n   "gid" INTEGER,\n   "pid" INTEGER,\n'
    '   "applied" INTEGER NOT NULL\n)',
    'CREATE TABLE "changes" (\n   "generation" INTEGER REFERENCES "commits"("generation"),\n'
    '   "key" TEXT,\n   "old" TEXT,\n   "new" TEXT,\n   PRIMARY KEY ("generation", "key")\n)',
    'CREATE INDEX "idx_changes_key_generation"\n    ON "changes" ("key", "generation")',
    'CREATE INDEX "idx_commits_applied"\n    ON "commits" ("applied")',
]


def write_unversioned_journal(path: Path) -> None:
    """A journal as written before its schema had steps: two applied commits and one recorded
    but not applied (the commit was cut short), in WAL mode."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for ddl in UNVERSIONED_SCHEMA:
        db.execute(ddl)
    rows = [
        (1, "default", "2026-01-01T00:00:00.000000Z", 0, 0, 10, 1, "settings.a", None, '"1"'),
        (2, "default", "2026-01-01T00:00:01.000000Z", 1000, 1000, 11, 1, "settings.a", '"1"', '"2"'),
        (3, "other", "2026-01-01T00:00:02.000000Z", None, None, None, 0, "settings.b", None, '"3"'),
    ]
    for generation, tx, time, uid, gid, pid, applied, key, old, new in rows:
        db.execute("INSERT INTO commits VALUES (?,?,?,?,?,?,?)", [generation, tx, time, uid, gid, pid, applied])
        db.execute("INSERT INTO changes VALUES (?,?,?,?)", [generation, key, old, new])
    db.close()


def schema_of(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")]
    finally:
        db.close()


def applied_steps(path: Path) -> list[str]:
    db = sqlite_utils.Database(path, recursive_triggers=False, execute_plugins=False)
    try:
        return [step.name for step in SCHEMA.applied(db)]
    finally:
        db.close()


def test_a_new_journal_has_every_step_and_the_schema_journals_always_had(tmp_path: Path) -> None:
    Journal(tmp_path / JOURNAL_FILE).close()
    every_step = [step.name for step in SCHEMA.pending(sqlite_utils.Database(memory=True))]
    assert applied_steps(tmp_path / JOURNAL_FILE) == every_step
    assert applied_steps(tmp_path / JOURNAL_FILE) == ["commits-and-changes"]
    ours = [sql for sql in schema_of(tmp_path / JOURNAL_FILE) if "_sqlite_migrations" not in sql]
    assert sorted(ours) == sorted(UNVERSIONED_SCHEMA)


def test_reopening_runs_no_step_again(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    before = schema_of(path)
    for _ in range(2):
        Journal(path).close()
    assert applied_steps(path) == ["commits-and-changes"]
    assert schema_of(path) == before


def test_a_journal_written_before_the_schema_had_steps_opens_and_is_upgraded(tmp_path: Path) -> None:
    write_unversioned_journal(tmp_path / JOURNAL_FILE)
    with FilesystemDataStore(tmp_path) as ds:
        # The record cut short is replayed, the history is intact, commits go on from it.
        assert ds.get_key(Key("settings.b"), LIVE) == '"3"'
        assert ds.journal.unapplied() == []
        assert [(c.generation, c.transaction, c.caller) for c in ds.history()] == [
            (3, "other", None),
            (2, "default", Caller(1000, 1000, 11)),
            (1, "default", Caller(0, 0, 10)),
        ]
        assert ds.journal.get(2).changes == {Key("settings.a"): Change('"1"', '"2"')}
        ds.set_key(Key("settings.a"), '"4"', Pending("default"))
        ds.commit_transaction("default")
        assert ds.journal.last_generation == 4
        assert ds.restore_changes(1) == {Key("settings.a"): '"1"', Key("settings.b"): None}
    assert applied_steps(tmp_path / JOURNAL_FILE) == ["commits-and-changes"]
    with FilesystemDataStore(tmp_path) as ds:
        assert [c.generation for c in ds.history()] == [4, 3, 2, 1]


def later_schema(step: str = "ALTER TABLE commits ADD COLUMN note TEXT") -> sqlite_utils.Migrations:
    """The schema with one more step appended, as a later version of the journal would have it."""
    schema = sqlite_utils.Migrations(SCHEMA.name)
    schema(name="commits-and-changes")(journal_module._commits_and_changes)

    @schema(name="a-later-step")
    def _later(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE later (x INTEGER)")
        db.execute(step)

    return schema


def test_a_later_step_upgrades_an_existing_journal_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_unversioned_journal(tmp_path / JOURNAL_FILE)
    Journal(tmp_path / JOURNAL_FILE).close()
    monkeypatch.setattr(journal_module, "SCHEMA", later_schema())
    journal = Journal(tmp_path / JOURNAL_FILE)
    try:
        assert journal.last_generation == 3
        assert "note" in {c.name for c in sqlite_utils.Database(journal.db.conn)["commits"].columns}
    finally:
        journal.close()
    assert applied_steps(tmp_path / JOURNAL_FILE) == ["commits-and-changes", "a-later-step"]


def test_a_failing_step_changes_nothing_and_the_journal_does_not_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Journal(tmp_path / JOURNAL_FILE).close()
    before = schema_of(tmp_path / JOURNAL_FILE)
    monkeypatch.setattr(journal_module, "SCHEMA", later_schema("ALTER TABLE nowhere ADD COLUMN x TEXT"))
    with pytest.raises(JournalError, match="Cannot open the commit journal"):
        Journal(tmp_path / JOURNAL_FILE)
    assert schema_of(tmp_path / JOURNAL_FILE) == before  # the step's first statement was undone
    assert applied_steps(tmp_path / JOURNAL_FILE) == ["commits-and-changes"]


def test_a_journal_opened_twice_at_once_is_upgraded_once(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    write_unversioned_journal(path)
    other = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None), execute_plugins=False)
    other.execute("BEGIN IMMEDIATE")  # another opener, upgrading: it holds the write lock
    opened: list[Journal | BaseException] = []

    def open_journal() -> None:
        try:
            opened.append(Journal(path))
        except BaseException as exc:
            opened.append(exc)

    thread = threading.Thread(target=open_journal)
    thread.start()
    thread.join(0.3)  # it found the step pending, and waits for the lock
    SCHEMA.apply(other)
    other.commit()
    other.close()
    thread.join()
    (journal,) = opened
    assert isinstance(journal, Journal), journal
    assert journal.last_generation == 3
    journal.close()
    assert applied_steps(path) == ["commits-and-changes"]
