"""Logging: `HH:MM:SS [LEVEL] message` lines. early-boot-config logs to stdout (its errors go
to stderr as one message); providers run as processes log to stderr, as upstream's do."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["LOG_LEVELS", "stderr_logging", "stdout_logging"]

TRACE = logging.DEBUG - 5

LOG_LEVELS: dict[str, int] = {
    "off": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

_NAMES = {logging.WARNING: "WARN", TRACE: "TRACE"}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = _NAMES.get(record.levelno, record.levelname)
        return super().format(record)


def _setup(stream: TextIO, level: int) -> None:
    logger = logging.getLogger("early_boot_config")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Formatter("%(asctime)s [%(levelname)s] %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def stdout_logging(level: int) -> None:
    """The command's logging: everything to stdout."""
    _setup(sys.stdout, level)


def stderr_logging(level: int) -> None:
    """A provider process's logging: everything to stderr (stdout carries its answer)."""
    _setup(sys.stderr, level)
