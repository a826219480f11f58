"""The render pipeline: parse → helper registry → fetch settings → render (spec/schnauzer.md §1, §5).

::

    from thar.schnauzer.importer import ApiImporter
    from thar.schnauzer.render import render_template_file

    text = render_template_file("/usr/share/templates/chrony-conf", ApiImporter())

Every step raises its own `SchnauzerError` kind: `TemplateFileRead`, `TemplateParse`
(`GrammarParse`, `FrontmatterParse`, `HelperNameCollision`), `ConstructRegistry`
(`NoSuchSettingExtension`, `NoSuchHelpers`), `RetrieveSettings`, `RenderTemplate`. The first
error aborts the render; there is never partial output.
"""

from __future__ import annotations

import os
from typing import Any

from thar.schnauzer.engine import EngineError, compile_template
from thar.schnauzer.errors import RenderTemplate, TemplateFileRead
from thar.schnauzer.helper_api import HelperError
from thar.schnauzer.helpers import HelperEnvironment
from thar.schnauzer.importer import Importer
from thar.schnauzer.registry import HelperCatalog, build_registry, default_catalog
from thar.schnauzer.template import TemplateFile, parse_template

__all__ = ["read_template_file", "render_body", "render_parsed", "render_template_file", "render_template_text"]


def read_template_file(path: str | os.PathLike[str]) -> str:
    """A template file's text; `TemplateFileRead` when it cannot be read or is not UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TemplateFileRead(os.fspath(path), exc.strerror or str(exc)) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateFileRead(os.fspath(path), f"not UTF-8 text ({exc})") from exc


def render_body(body: str, context: Any, helpers: Any) -> str:
    """Render a Handlebars ``body`` in strict mode; any engine or helper error is `RenderTemplate`."""
    try:
        return compile_template(body).render(context, helpers, strict=True)
    except (EngineError, HelperError) as exc:
        raise RenderTemplate(str(exc)) from exc
    except RecursionError as exc:
        raise RenderTemplate("the template nests too deeply") from exc
    except Exception as exc:  # a bug in the engine or a helper must still be a render failure
        raise RenderTemplate(f"internal error while rendering ({type(exc).__name__}: {exc})") from exc


def render_parsed(
    template: TemplateFile,
    importer: Importer,
    env: HelperEnvironment | None = None,
    *,
    catalog: HelperCatalog | None = None,
) -> str:
    """Render a parsed template: its helpers are checked and registered before the settings are
    fetched from ``importer``. ``catalog`` replaces Bottlerocket's helpers (tests); otherwise
    ``env`` supplies the host facts the helpers use (the real host when None)."""
    helpers = build_registry(template.requirements, catalog or default_catalog(env))
    context = importer.fetch_context(template.requirements)
    return render_body(template.body, context, helpers)


def render_template_text(
    text: str,
    importer: Importer,
    env: HelperEnvironment | None = None,
    *,
    catalog: HelperCatalog | None = None,
) -> str:
    """Parse a v2 template's text and render it."""
    return render_parsed(parse_template(text), importer, env, catalog=catalog)


def render_template_file(
    path: str | os.PathLike[str],
    importer: Importer,
    env: HelperEnvironment | None = None,
    *,
    catalog: HelperCatalog | None = None,
) -> str:
    """Read, parse and render the v2 template file at ``path``."""
    return render_template_text(read_template_file(path), importer, env, catalog=catalog)
