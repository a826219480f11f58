"""Logging: `HH:MM:SS [LEVEL] message` lines. early-boot-config logs to stdout (its errors go
to stderr as one message); providers run as processes log to stderr, as upstream's do."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from thar.apiclient.logs import LOG_LEVELS, LevelFormatter

__all__ = ["LOG_LEVELS", "stderr_logging", "stdout_logging"]


def _setup(stream: TextIO, level: int) -> None:
    logger = logging.getLogger("early_boot_config")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LevelFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def stdout_logging(level: int) -> None:
    """The command's logging: everything to stdout."""
    _setup(sys.stdout, level)


def stderr_logging(level: int) -> None:
    """A provider process's logging: everything to stderr (stdout carries its answer)."""
    _setup(sys.stderr, level)
