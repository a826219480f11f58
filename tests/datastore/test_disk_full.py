"""A full disk during a commit, on a real tmpfs: the commit is wholly made or it fails with
``OutOfSpace`` and changes nothing — live, the history and the transaction, also after a restart.

The sweep commits the same large change-set (``BIG`` values of 8 KiB, new and growing keys and
removals) with every amount of free room from none to more than enough, in steps of ``STEP``;
so the disk fills at each point of the commit path where a write needs room: the new values
(written beside live before anything is recorded) and the journal record. Taking the
transaction out of the listing and putting values in place are renames and in-place rewrites,
which need no new room; the "applied" mark of a checkpoint (every commit here) comes after the
committed transaction's files are released, so it finds room (were it refused, the mark would
wait for the next checkpoint and the commit would stand: ``made, mark deferred``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from thar.datastore import LIVE, FilesystemDataStore, Key, OutOfSpace, Pending, to_json

from ..tmpfs import PAGE, empty, fill, mounted_tmpfs

BIG = 120
VALUE = 8 * 1024
STEP = 32 * 1024
SLOW_STEP = PAGE
TX = "big"


def big_value(i: int) -> str:
    return to_json(f"{i:04d}" + "x" * (VALUE - 6))


def seed(base: Path) -> FilesystemDataStore:
    """A datastore with history, and a large transaction staged: 20 keys to grow, BIG - 20
    new ones under a new subtree, 5 to remove."""
    base.mkdir()
    ds = FilesystemDataStore(base)
    old = {Key(f"settings.full.k{i:03d}"): to_json(f"old {i}") for i in range(20)}
    old.update({Key(f"settings.full.gone.g{i}"): to_json("doomed") for i in range(5)})
    ds.stage("seed", old)
    ds.commit_transaction("seed")
    values = {Key(f"settings.full.k{i:03d}"): big_value(i) for i in range(20)}
    values.update({Key(f"settings.full.new.n{i:03d}"): big_value(i) for i in range(20, BIG)})
    ds.stage(TX, values)
    ds.checkpoint()
    return ds


def changes_of(ds: FilesystemDataStore) -> dict[Key, str | None]:
    changes: dict[Key, str | None] = dict(ds.get_prefix("settings.", Pending(TX)))
    changes.update(dict.fromkeys(ds.get_prefix("settings.full.gone.", LIVE)))
    return changes


def state(ds: FilesystemDataStore) -> tuple[dict[Key, str], list[int], dict[Key, str], set[str]]:
    """Live, the history's generations, the transaction, and the names in the store's
    directories that are not keys (temporary files must not be left)."""
    leftovers = {
        name
        for _, dirs, files in os.walk(ds.base)
        for name in (*dirs, *files)
        if "~" in name and not name.startswith((".~drop-", ".~commit-"))  # removed by a thread
    }
    return (
        ds.get_prefix("", LIVE),
        [c.generation for c in ds.history()],
        ds.get_prefix("", Pending(TX)),
        leftovers,
    )


def abandon(ds: FilesystemDataStore) -> None:
    """Stop using ``ds`` as a killed process would: no checkpoint, no clean-up."""
    ds.journal.close()
    os.close(ds._base_fd)


def sweep(tmp_path: Path, step: int) -> dict[str, int]:
    """Commit with 0, ``step``, 2 × ``step`` … bytes free until the commit is made with room to
    spare; around the first amount that makes it, page by page (where the mark's few pages
    decide). Returns how often each outcome happened."""
    outcomes: dict[str, int] = {}
    with mounted_tmpfs(tmp_path / "fs", 8 * 1024 * 1024) as fs:
        base = fs / "datastore"
        leave, fine_until = 0, -1
        while True:
            shutil.rmtree(base, ignore_errors=True)
            empty(fs)
            ds = seed(base)
            ds.CHECKPOINT_EVERY = 1  # every commit marks itself applied: that write can fail too
            before = state(ds)
            changes = changes_of(ds)
            fill(fs, leave)
            where = f"with {leave // 1024} KiB free"
            try:
                ds.commit_changes(changes, TX, drop_transaction=True)
            except OutOfSpace as exc:
                assert state(ds) == before, f"{where}: a commit that failed changed the datastore"
                assert "nothing was changed" in str(exc)
                outcome = "refused: journal" if "commit journal" in str(exc) else "refused: new values"
                expected = before
            else:
                expected = state(ds)
                live, generations, pending, leftovers = expected
                assert generations == [2, 1] and pending == {} and not leftovers, where
                assert {k: v for k, v in live.items() if k.name.startswith("settings.full.")} == {
                    k: v for k, v in changes.items() if v is not None
                }, f"{where}: live is not the commit's"
                outcome = "made, mark deferred" if ds.journal.unapplied() else "made"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            abandon(ds)
            empty(fs)
            reopened = FilesystemDataStore(base)
            assert state(reopened)[:3] == expected[:3], f"{where}: after a restart the datastore is not as answered"
            reopened.close()
            if outcome == "made" and leave > 3 * 1024 * 1024:
                break
            if outcome.startswith("made") and fine_until < 0 and step > PAGE:
                fine_until, leave = leave, leave - step  # go over the last step again, page by page
            if leave < fine_until:
                leave += PAGE
            else:
                leave += step
    return outcomes


def test_a_full_disk_fails_the_commit_cleanly_at_every_point(tmp_path: Path) -> None:
    outcomes = sweep(tmp_path, STEP)
    # Each point of the path was reached: the new values, the record, none.
    assert {"refused: new values", "refused: journal", "made"} <= set(outcomes), outcomes


@pytest.mark.slow
def test_a_full_disk_fails_the_commit_cleanly_at_every_page(tmp_path: Path) -> None:
    outcomes = sweep(tmp_path, SLOW_STEP)
    assert {"refused: new values", "refused: journal", "made"} <= set(outcomes), outcomes


def test_a_full_disk_fails_a_staging_step_cleanly(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "fs", 4 * 1024 * 1024) as fs:
        ds = seed(fs / "datastore")
        before = state(ds)
        fill(fs, 200 * 1024)
        more = {Key(f"settings.full.more.m{i:03d}"): big_value(i) for i in range(BIG)}
        with pytest.raises(OutOfSpace, match="nothing was changed"):
            ds.stage(TX, {**more, Key("settings.full.k000"): to_json("small")})
        assert state(ds) == before
        with pytest.raises(OutOfSpace):
            ds.stage("fresh", more)
        assert ds.list_transactions() == {TX}, "a refused staging step left a transaction behind"
        abandon(ds)
        empty(fs)
        reopened = FilesystemDataStore(fs / "datastore")
        assert state(reopened) == before
        reopened.close()
