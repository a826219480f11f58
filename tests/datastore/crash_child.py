"""The child process of the crash test (``test_crash.py``): commits rounds forever until killed.

Usage::

    python crash_child.py DATASTORE START_ROUND RETURNED_LOG   # commit rounds START, START+1, …
    python crash_child.py --exit-after-imports                  # measure the start-up time

Round ``r`` stages ``KEY_COUNT`` keys ``settings.crash.k000`` … whose values all carry the round
number, plus one new key ``settings.crash.extra.r<r>``, in the transaction ``crash``, and
commits them. Every ``REMOVAL_EVERY``-th round also removes the extra keys of the previous
``REMOVAL_EVERY`` rounds in the same generation (``commit_changes`` with ``None`` values), so
commits overwrite, create and remove keys. After a commit returns, ``r`` is appended to the
returned log and fsynced, so the parent knows which commits returned before the kill.

The expected state after round ``R`` is a pure function of ``R`` (``expected_live``), which the
parent compares with what it reads back. Round ``r`` is generation ``r`` of the journal. The
child prints nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, to_json

__all__ = [
    "KEY_COUNT",
    "PREFIX",
    "REMOVAL_EVERY",
    "TX",
    "commit_round",
    "expected_live",
    "extra_key",
    "is_removal_round",
    "key_name",
    "key_value",
    "log_returned",
    "run_round",
    "stage_round",
]

KEY_COUNT = 200
PREFIX = "settings.crash."
TX = "crash"
REMOVAL_EVERY = 5


def key_name(i: int) -> str:
    return f"{PREFIX}k{i:03d}"


def key_value(round_: int, i: int) -> str:
    return to_json(f"r{round_}-k{i}")


def extra_key(round_: int) -> str:
    return f"{PREFIX}extra.r{round_}"


def extra_value(round_: int) -> str:
    return to_json(f"r{round_}-extra")


def is_removal_round(round_: int) -> bool:
    return round_ % REMOVAL_EVERY == 0


def removed_extras(round_: int) -> list[str]:
    """The extra keys round ``round_`` removes (none unless it is a removal round)."""
    if not is_removal_round(round_):
        return []
    return [extra_key(j) for j in range(round_ - REMOVAL_EVERY, round_) if j >= 1]


def staged(round_: int) -> dict[Key, str]:
    """What round ``round_`` stages in the pending transaction."""
    pairs = {Key(key_name(i)): key_value(round_, i) for i in range(KEY_COUNT)}
    pairs[Key(extra_key(round_))] = extra_value(round_)
    return pairs


def expected_live(round_: int) -> dict[str, str]:
    """Live below ``PREFIX`` after rounds 1 … ``round_`` all committed (0: before any)."""
    if round_ == 0:
        return {}
    state = {key_name(i): key_value(round_, i) for i in range(KEY_COUNT)}
    # The last removal round removed every extra key before it; the ones since then remain.
    first = max(1, REMOVAL_EVERY * (round_ // REMOVAL_EVERY))
    for j in range(first, round_ + 1):
        state[extra_key(j)] = extra_value(j)
    return state


def stage_round(ds: FilesystemDataStore, round_: int) -> None:
    """Stage round ``round_`` in the pending transaction."""
    ds.set_keys(staged(round_), Pending(TX))


def commit_round(ds: FilesystemDataStore, round_: int) -> None:
    """Commit what ``stage_round`` staged (one generation), with the removals of a removal round."""
    if is_removal_round(round_):
        changes: dict[Key, str | None] = dict(ds.get_prefix("settings.", Pending(TX)))
        for name in removed_extras(round_):
            changes[Key(name)] = None
        ds.commit_changes(changes, TX, drop_transaction=True)
    else:
        ds.commit_transaction(TX)


def run_round(ds: FilesystemDataStore, round_: int) -> None:
    """Stage and commit round ``round_``."""
    stage_round(ds, round_)
    commit_round(ds, round_)


def log_returned(fd: int, round_: int) -> None:
    """Append ``round_`` to the returned log and make it durable."""
    os.write(fd, f"{round_}\n".encode())
    os.fsync(fd)


def main(argv: list[str]) -> int:
    if argv == ["--exit-after-imports"]:
        return 0
    if len(argv) != 3:
        print("usage: crash_child.py DATASTORE START_ROUND RETURNED_LOG", file=sys.stderr)
        return 2
    path, start, log = Path(argv[0]), int(argv[1]), argv[2]
    ds = FilesystemDataStore(path, durable=False)
    assert ds.get_key(Key(key_name(0)), LIVE) in (None, key_value(start - 1, 0))
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    round_ = start
    while True:
        run_round(ds, round_)
        log_returned(fd, round_)
        round_ += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
