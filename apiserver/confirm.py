"""Commit-confirmed: durable deadlines for commits that must be confirmed or are reverted.

``POST /tx/commit_and_apply?confirm=SECONDS`` records ``{generation: deadline}`` in
``confirm-pending.json`` beside the datastore's journal *before* it commits (written to a
temporary file, fsynced, renamed), so a deadline survives a crash, a restart of the server or a
reboot of the host: on start, a record whose generation was committed is waited for again, or
reverted at once if its deadline has passed; a record whose commit never happened is dropped.
Deadlines are wall-clock times (the monotonic clock restarts with the host).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from thar.atomic import write_atomic

__all__ = ["CONFIRM_FILE", "ConfirmError", "Confirmations"]

CONFIRM_FILE = "confirm-pending.json"
log = logging.getLogger("apiserver")


class ConfirmError(Exception):
    """The file of pending confirmations cannot be read or written."""


class Confirmations:
    """Generations waiting for ``POST /tx/confirm``, and the task that reverts the late ones.

    ``path`` None keeps them in memory only (a datastore without a directory)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.pending: dict[int, float] = {}  # generation -> deadline (seconds since the epoch)
        self._wake = asyncio.Event()

    # -- the durable record ------------------------------------------------------------------
    def load(self, last_generation: int) -> None:
        """Read the record left by an earlier run; drop generations that were never committed."""
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            pending = {int(generation): float(deadline) for generation, deadline in data.items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ConfirmError(f"Cannot read the pending confirmations in {self.path}: {exc}") from exc
        self.pending = {g: d for g, d in pending.items() if g <= last_generation}
        if self.pending != pending:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        if not self.pending:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = json.dumps({str(g): d for g, d in sorted(self.pending.items())})
        try:
            write_atomic(self.path, data, sync_dir=True)
        except OSError as exc:
            raise ConfirmError(f"Cannot record the pending confirmations in {self.path}: {exc}") from exc

    def expect(self, generation: int, seconds: int) -> None:
        """Record that ``generation`` (about to be committed) must be confirmed within ``seconds``."""
        self.pending[generation] = time.time() + seconds
        self._save()
        self._wake.set()

    def forget(self, generation: int) -> None:
        """Drop one record (its commit failed, or it was reverted)."""
        if self.pending.pop(generation, None) is not None:
            self._save()
            self._wake.set()

    def confirm(self) -> list[int]:
        """Confirm every pending generation; the list confirmed (empty: nothing was pending)."""
        confirmed = sorted(self.pending)
        if confirmed:
            self.pending.clear()
            self._save()
            self._wake.set()
        return confirmed

    # -- the timer ---------------------------------------------------------------------------
    async def run(self, revert: Callable[[int], Awaitable[None]]) -> None:
        """Revert each generation whose deadline passes (newest first), until cancelled."""
        while True:
            self._wake.clear()
            now = time.time()
            due = sorted((g for g, d in self.pending.items() if d <= now), reverse=True)
            for generation in due:
                if generation in self.pending:  # a confirm may have raced the deadline
                    try:
                        await revert(generation)
                    except Exception:
                        log.exception("Reverting unconfirmed generation %d failed; trying again", generation)
                        await asyncio.sleep(1.0)
                        continue
            if due:
                continue
            timeout = min(self.pending.values()) - time.time() if self.pending else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    @contextlib.asynccontextmanager
    async def running(self, revert: Callable[[int], Awaitable[None]]) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run(revert), name="thar-confirm-timer")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
