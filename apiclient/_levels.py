"""Log level names and their `logging` numbers, as constants: `apiclient.cli` checks `--log-level`
and decides whether logging needs setting up at all without importing `logging`.
`apiclient.logs` publishes the table as `LOG_LEVELS`."""

from __future__ import annotations

__all__ = ["DEBUG", "LOG_LEVELS", "TRACE"]

DEBUG = 10
"""`logging.DEBUG`."""

TRACE = DEBUG - 5
"""Bottlerocket's trace level, below debug."""

LOG_LEVELS: dict[str, int] = {
    "off": 60,  # logging.CRITICAL + 10: nothing is logged
    "error": 40,  # logging.ERROR
    "warn": 30,  # logging.WARNING
    "info": 20,  # logging.INFO
    "debug": DEBUG,
    "trace": TRACE,
}
"""Level names (lower case) and their `logging` levels."""
