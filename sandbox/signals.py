"""SIGINT and SIGTERM during a boot: they interrupt it, never between starting a process and
recording it where the clean-up finds it (``Deferral``); while serving they go to the apiserver.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

from .errors import Interrupted

if TYPE_CHECKING:
    from .activation import Apiserver

__all__ = ["DEFERRAL", "Deferral", "Signals"]


class Deferral:
    """Sections the boot's interruption must not split: starting a process and recording it where
    the clean-up finds it. A signal arriving inside one interrupts the boot when it ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


DEFERRAL = Deferral()


class Signals:
    """SIGINT/SIGTERM: during the boot they interrupt it (at once, or at the end of a deferred
    section); while serving they go to the apiserver (as SIGTERM); during the final clean-up they
    are only noted."""

    def __init__(self) -> None:
        self.mode = "interrupt"
        self.forward_to: Apiserver | None = None
        self.received: int | None = None
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in self._old:
            signal.signal(s, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self.mode == "forward" and self.forward_to is not None:
            self.forward_to.signal(signal.SIGTERM)
        elif self.mode == "interrupt":
            self.mode = "ignore"
            if DEFERRAL.depth:
                DEFERRAL.pending = signum
            else:
                raise Interrupted(signum)

    def forward(self, apiserver: Apiserver) -> None:
        self.forward_to = apiserver
        self.mode = "forward"

    def restore(self) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
