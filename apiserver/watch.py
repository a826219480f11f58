"""Watches: ``GET /settings/watch`` long-polls until a commit changes a key under a prefix.

The controller calls ``WatchHub.record`` (in the writer thread) with each commit once its
snapshot shows it; the hub keeps the changed keys of recent commits in memory and wakes every
waiting request on the event loop. A request whose ``since`` is older than what the hub holds
(e.g. after a restart) reads the journal instead. The answer is the *current* value of each
changed key under the prefix — a key removed since is ``null`` — nested as ``GET /settings``
nests them, so a watcher that missed several commits gets one answer that brings it up to date.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from thar.datastore import Commit, DataStore, Key, from_map_with_prefix

__all__ = ["RECENT_COMMITS", "WatchHub", "changed_settings"]

RECENT_COMMITS = 4096


class WatchHub:
    """Recent commits' changed keys, and the event that wakes the watches."""

    def __init__(self, generation: int) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event = asyncio.Event()
        self.closed = False
        self._lock = threading.Lock()
        # (generation, changed key names), oldest first; complete for generations > self.floor
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=RECENT_COMMITS)
        self.floor = generation

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the watches wait on (the server's, once it runs)."""
        self.loop = loop

    def record(self, commit: Commit) -> None:
        """A commit happened (called from any thread)."""
        with self._lock:
            if len(self._recent) == self._recent.maxlen:
                self.floor = self._recent[0][0]
            self._recent.append((commit.generation, frozenset(key.name for key in commit.changes)))
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self.event = self.event, asyncio.Event()
        event.set()

    def close(self) -> None:
        """Wake every watch for the last time (the server is stopping)."""
        self.closed = True
        self._wake()

    def changed_since(self, since: int, upto: int) -> set[str] | None:
        """Key names changed by commits in ``(since, upto]``; None if the hub does not hold all of them."""
        if since < self.floor:
            return None
        with self._lock:
            recent = list(self._recent)
        names: set[str] = set()
        for generation, keys in recent:
            if since < generation <= upto:
                names |= keys
        return names


def journal_changed_since(datastore: DataStore, since: int, upto: int, prefix: str) -> set[str]:
    """The same from the journal (runs in the writer thread)."""
    names: set[str] = set()
    for commit in datastore.history(limit=max(upto - since, 0), before=upto + 1, prefix=prefix):
        if commit.generation > since:
            names |= {key.name for key in commit.changes}
    return names


def changed_settings(names: Iterable[str], prefix: str, live: Mapping[str, str]) -> dict[str, Any]:
    """The changed settings under ``prefix`` as ``GET /settings`` nests them; removed ones ``null``."""
    pairs = {Key(name): live.get(name, "null") for name in names if name.startswith(prefix)}
    return from_map_with_prefix(pairs, "settings") if pairs else {}
