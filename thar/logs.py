"""Logging for every thar program: Bottlerocket's level names and its `simplelog` line format.

The levels are `off error warn info debug trace` (any case); `trace` is below `logging.DEBUG`
and `off` above `logging.CRITICAL`. Lines read ``HH:MM:SS [LEVEL] message``.

Importing this module does not import `logging` (the table is written out), so a program can
check a `--log-level` and decide whether it needs logging at all for free; `setup_logging`
imports it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    import logging
    from collections.abc import Iterable
    from typing import TextIO

__all__ = ["CLOCK", "DEBUG", "FORMAT", "LEVELS", "TRACE", "formatter", "level_number", "setup_logging"]

DEBUG = 10
"""`logging.DEBUG`."""

TRACE = DEBUG - 5
"""Bottlerocket's trace level, below debug."""

LEVELS: dict[str, int] = {
    "off": 60,  # logging.CRITICAL + 10: nothing is logged
    "error": 40,  # logging.ERROR
    "warn": 30,  # logging.WARNING
    "info": 20,  # logging.INFO
    "debug": DEBUG,
    "trace": TRACE,
}
"""Level names (lower case) and their `logging` levels: the one table every program uses."""

FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
"""The line format: ``HH:MM:SS [LEVEL] message`` (with `CLOCK`)."""

CLOCK = "%H:%M:%S"
"""The time in each line."""

_SHORT_NAMES = {30: "WARN", TRACE: "TRACE"}


def level_number(level: str | int) -> int:
    """The `logging` level of a `LEVELS` name (any case); a number is returned as is.

    Raises `KeyError` for an unknown name."""
    return level if isinstance(level, int) else LEVELS[level.lower()]


def formatter(*, short_names: bool = True, datefmt: str | None = CLOCK) -> logging.Formatter:
    """A `logging.Formatter` for `FORMAT`. `short_names`: Bottlerocket's level names (`WARN`,
    `TRACE`) rather than `logging`'s (`WARNING`, `Level 5`). `datefmt` None: `logging`'s own
    timestamp (date, time and milliseconds)."""
    import logging

    class LevelFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            record.levelname = _SHORT_NAMES.get(record.levelno, record.levelname)
            return super().format(record)

    cls = LevelFormatter if short_names else logging.Formatter
    return cls(FORMAT, datefmt)


def setup_logging(
    level: str | int,
    loggers: str | Iterable[str] | None = None,
    *,
    stream: TextIO | None = None,
    short_names: bool = True,
    datefmt: str | None = CLOCK,
) -> int:
    """Send the records of `loggers` (one name, several, or None: the root logger) at `level`
    (a `LEVELS` name, any case, or a number) to `stream`; without a stream, errors go to stderr
    and every other record to stdout, as Bottlerocket's programs print them.

    The named loggers stop propagating to the root. Calling it again replaces the handlers
    rather than adding more. Returns the numeric level; raises `KeyError` for an unknown name.
    """
    import logging

    number = level_number(level)
    lines = formatter(short_names=short_names, datefmt=datefmt)
    handlers: list[logging.Handler]
    if stream is not None:
        handlers = [logging.StreamHandler(stream)]
    else:
        out = logging.StreamHandler(sys.stdout)
        out.addFilter(lambda record: record.levelno < logging.ERROR)
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.ERROR)
        handlers = [out, err]
    for handler in handlers:
        handler.setFormatter(lines)
    names: Iterable[str | None] = [loggers] if loggers is None or isinstance(loggers, str) else loggers
    for name in names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(number)
        if name is not None:
            logger.propagate = False
    return number
