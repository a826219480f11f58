"""Logging for apiclient and settings-committer: stderr only, and only apiclient's own messages.

Bottlerocket's levels are `off error warn info debug trace` (case-insensitive); trace is below
debug. Standard output carries only response data.
"""

from __future__ import annotations

import logging
import sys

# The level table lives in a module without `logging`, for apiclient.cli's start-up.
from thar.apiclient._levels import LOG_LEVELS, TRACE

__all__ = ["LOG_LEVELS", "TRACE", "LevelFormatter", "setup_logging"]

_NAMES = {logging.WARNING: "WARN", TRACE: "TRACE"}


class LevelFormatter(logging.Formatter):
    """`HH:MM:SS [LEVEL] message` with Bottlerocket's level names (`WARN`, `TRACE`), as its
    simplelog prints them; the boot tools (sundog, early-boot-config) log with it."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s [%(levelname)s] %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = _NAMES.get(record.levelno, record.levelname)
        return super().format(record)


def setup_logging(level: str) -> int:
    """Send the `apiclient` logger's records at `level` (a `LOG_LEVELS` name, any case) to stderr.

    Returns the numeric level. Raises `KeyError` for an unknown name. Calling it again replaces
    the handler rather than adding a second one.
    """
    number = LOG_LEVELS[level.lower()]
    logger = logging.getLogger("apiclient")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(number)
    logger.propagate = False
    return number
