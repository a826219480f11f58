"""thar's Handlebars engine: the handlebars-rust 4.5 dialect Bottlerocket templates are written in.

    template = compile_template(source)          # parsed once, cached by source text
    text = template.render(context, helpers)     # strict mode, HTML escaping

See README.md beside this file for the dialect and its quirks.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from thar.schnauzer.engine.errors import EngineError, RenderError, TemplateSyntaxError
from thar.schnauzer.engine.parser import parse
from thar.schnauzer.engine.render import Node, State
from thar.schnauzer.helper_api import Helper

__all__ = ["EngineError", "RenderError", "Template", "TemplateSyntaxError", "compile_template"]

_NO_HELPERS: Mapping[str, Helper] = {}


class Template:
    """A parsed template; render it any number of times with different contexts."""

    __slots__ = ("_nodes", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._nodes: tuple[Node, ...] = tuple(parse(source))

    def render(
        self,
        context: Any,
        helpers: Mapping[str, Helper] = _NO_HELPERS,
        *,
        strict: bool = True,
    ) -> str:
        """Render with ``context`` (JSON-like data) and the custom ``helpers`` by name.

        Built-in helpers are always available. In strict mode (the default, as in Bottlerocket)
        a missing value is an error; with ``strict=False`` it renders as nothing / null.
        Raises ``RenderError``; nothing is returned on failure (no partial output).
        """
        st = State(self.source, context, helpers, strict)
        try:
            for node in self._nodes:
                node.render(st)
        except RecursionError as err:
            raise RenderError("Template nesting too deep to render") from err
        return "".join(st.out)

    def __repr__(self) -> str:
        preview = self.source[:40] + ("…" if len(self.source) > 40 else "")
        return f"Template({preview!r})"


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Template:
    """Parse ``source`` once; the same text returns the same ``Template`` (cached)."""
    return Template(source)
