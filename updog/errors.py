"""updog's one error type: its message is what updog prints on stderr before exiting 1."""

from __future__ import annotations

__all__ = ["UpdogError"]


class UpdogError(Exception):
    """A failure updog reports as ``{message}`` on stderr, exit 1."""
