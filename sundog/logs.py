"""Logging as Bottlerocket's simplelog does it: `HH:MM:SS [LEVEL] message`, errors on stderr,
everything else on stdout. Levels `off error warn info debug trace`, any case."""

from __future__ import annotations

import logging
import sys

from thar.apiclient.logs import LOG_LEVELS, LevelFormatter

__all__ = ["LOG_LEVELS", "setup_logging"]


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def setup_logging(logger_names: tuple[str, ...], level: str) -> None:
    """Send the named loggers' records at `level` (a `LOG_LEVELS` name) to stdout and stderr."""
    number = LOG_LEVELS[level.lower()]
    formatter = LevelFormatter()
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_Below(logging.ERROR))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.ERROR)
    for handler in (out, err):
        handler.setFormatter(formatter)
    for name in logger_names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(out)
        logger.addHandler(err)
        logger.setLevel(number)
        logger.propagate = False
