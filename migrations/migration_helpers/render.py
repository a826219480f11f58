"""Rendering the templates of generated settings, through schnauzer.

ReplaceTemplateMigration renders a schnauzer v1 template (a Handlebars body in strict mode,
every helper but ``if_not_null`` registered, as ``schnauzer SETTING``). ReplaceSchnauzerMigration
runs a ``schnauzer-v2 render --requires … --template …`` command line as schnauzer-v2 would,
which registers only the helpers it requires. Both render against the migration's own data —
``{"settings": nested(settings.*), "os": nested(os.*)}``, used as it is — never against a
running API.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from collections.abc import Mapping
from typing import Any

from thar.datastore import DatastoreError, Key, KeyType, from_map_with_prefix, to_json

from ..errors import MigrationError

__all__ = ["preload_engine", "render_schnauzer_cmdline", "render_template", "schnauzer_args", "template_context"]


def template_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"settings": …, "os": …}`` nested from the flat ``settings.*`` and ``os.*`` keys."""
    context: dict[str, Any] = {}
    for prefix in ("settings", "os"):
        pairs: dict[Key, str] = {}
        for name, value in data.items():
            if name.startswith(prefix + "."):
                try:
                    pairs[Key(name, KeyType.DATA)] = to_json(value)
                except DatastoreError as exc:
                    raise MigrationError(f"Cannot build the template context: {exc}") from exc
        try:
            context[prefix] = from_map_with_prefix(pairs, prefix) if pairs else {}
        except DatastoreError as exc:
            raise MigrationError(f"Cannot build the template context from the {prefix}.* keys: {exc}") from exc
    return context


def preload_engine() -> None:
    """Import schnauzer now (raises ImportError when it is absent)."""
    import thar.schnauzer.cli
    import thar.schnauzer.render
    import thar.schnauzer.v1  # noqa: F401


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Render a schnauzer v1 template against ``context``."""
    try:
        from thar.schnauzer.render import render_body
        from thar.schnauzer.v1 import v1_helpers

        return render_body(template, context, v1_helpers())
    except Exception as exc:
        raise MigrationError(f"Cannot render template '{template}': {exc}") from exc


def schnauzer_args(cmdline: str) -> list[str]:
    """The arguments of a ``schnauzer-v2 …`` command line (split as a shell would)."""
    try:
        argv = shlex.split(cmdline)
    except ValueError as exc:
        raise MigrationError(f"Cannot split the schnauzer command line {cmdline!r}: {exc}") from exc
    if not argv or argv[0].rsplit("/", 1)[-1] != "schnauzer-v2":
        raise MigrationError(f"Not a schnauzer-v2 command line: {cmdline!r}")
    return argv[1:]


def render_schnauzer_cmdline(cmdline: str, context: Mapping[str, Any]) -> str:
    """What ``cmdline`` renders (before schnauzer-v2's JSON encoding of its output) against
    ``context``."""
    args = schnauzer_args(cmdline)
    try:
        from thar.schnauzer.cli import build_parser
        from thar.schnauzer.importer import StaticImporter
        from thar.schnauzer.render import render_parsed, render_template_file
        from thar.schnauzer.template import template_from_requirements

        usage = io.StringIO()
        try:
            with contextlib.redirect_stderr(usage):
                ns = build_parser().parse_args(args)
        except SystemExit as exc:
            raise MigrationError(f"Invalid schnauzer command line {cmdline!r}: {usage.getvalue().strip()}") from exc
        importer = StaticImporter(dict(context))
        if ns.command == "render":
            return render_parsed(template_from_requirements(ns.requires, ns.template), importer)
        return render_template_file(ns.path, importer)
    except MigrationError:
        raise
    except Exception as exc:
        raise MigrationError(f"Cannot render schnauzer command line {cmdline!r}: {exc}") from exc
