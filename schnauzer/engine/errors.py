"""Errors raised by the template engine.

Both kinds carry the position of the offending tag (1-based line and column) when it is known, so
a message such as ``Variable "settings.motd" not found in strict mode (line 3, column 5)`` points
the template author at the exact place to fix.
"""

from __future__ import annotations

__all__ = ["EngineError", "RenderError", "TemplateSyntaxError", "position_of"]


def position_of(source: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in ``source``."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


class EngineError(Exception):
    """A template could not be parsed or rendered."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")


class TemplateSyntaxError(EngineError):
    """The template text is not valid Handlebars (unclosed or mismatched block, bad tag …)."""


class RenderError(EngineError):
    """Rendering failed: a missing value in strict mode, an undefined helper, a helper error …"""
