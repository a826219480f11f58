"""Logging for apiclient and settings-committer: stderr only, and only apiclient's own messages.

Bottlerocket's levels are `off error warn info debug trace` (case-insensitive); trace is below
debug. Standard output carries only response data. Level names print as `logging` names them
(`WARNING`).
"""

from __future__ import annotations

import sys

from thar import logs
from thar.logs import LEVELS as LOG_LEVELS
from thar.logs import TRACE

__all__ = ["LOG_LEVELS", "TRACE", "setup_logging"]


def setup_logging(level: str) -> int:
    """Send the `apiclient` logger's records at `level` (a `LOG_LEVELS` name, any case) to stderr.

    Returns the numeric level. Raises `KeyError` for an unknown name. Calling it again replaces
    the handler rather than adding a second one.
    """
    return logs.setup_logging(level, "apiclient", stream=sys.stderr, short_names=False)
