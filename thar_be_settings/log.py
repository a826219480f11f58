"""A minimal logger in Bottlerocket's `simplelog` format: `HH:MM:SS [LEVEL] message`.

`error` records go to stderr, every other level to stdout. The levels are `thar.logs.LEVELS`;
the `logging` module itself is not used: thar-be-settings runs after every settings change and
its start-up time matters.
"""

from __future__ import annotations

import sys
import time

from thar.logs import CLOCK, LEVELS

__all__ = ["LEVELS", "Logger", "log"]


class Logger:
    """Records at or below `level` (`off` < `error` < `warn` < `info` < `debug` < `trace`) are printed."""

    def __init__(self, level: str = "info") -> None:
        self.threshold = LEVELS[level]
        self.all_to_stderr = False
        """True: every record goes to stderr (when stdout carries output, as with --dry-run)."""

    def set_level(self, level: str) -> None:
        self.threshold = LEVELS[level]

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def _emit(self, level: str, message: str) -> None:
        if LEVELS[level] < self.threshold:
            return
        stream = sys.stderr if level == "error" or self.all_to_stderr else sys.stdout
        stream.write(f"{time.strftime(CLOCK)} [{level.upper()}] {message}\n")
        stream.flush()

    def error(self, message: str) -> None:
        self._emit("error", message)

    def warn(self, message: str) -> None:
        self._emit("warn", message)

    def info(self, message: str) -> None:
        self._emit("info", message)

    def debug(self, message: str) -> None:
        self._emit("debug", message)

    def trace(self, message: str) -> None:
        self._emit("trace", message)


log = Logger()
"""The process-wide logger (`--log-level` sets its level)."""
