"""Templated settings, rendered through schnauzer's library in sundog's own process (the same
code the `schnauzer` and `schnauzer-v2` programs run, without starting a Python per setting).

- Current form: the generator is `schnauzer-v2 render [--requires …]… --template '…'`; its
  arguments are parsed by schnauzer-v2's own parser and the template rendered against the API
  sundog talks to (unless the command names another `--api-socket`).
- Legacy form: generator `schnauzer settings.KEY` plus `template` metadata on the same key
  (served by `GET /metadata/templates?keys=settings.KEY`), rendered against the whole live
  model with every v1 helper.

Either way the result is a string setting; a render error fails the generator (exit code 1,
schnauzer's message as its stderr). When schnauzer cannot be imported, the command runs as a
program like any other.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from thar.apiclient import ApiClientError, get_json

from .errors import ApiFailed, GeneratorFailed, InvalidCommand, TemplateFailed
from .generators import Generator, split_command

__all__ = ["is_legacy_template", "is_schnauzer_v2", "render_legacy_template", "render_schnauzer_v2"]


def is_legacy_template(generator: Generator) -> bool:
    """True for `schnauzer <its own key>` (the pre-1.16 templated generator)."""
    try:
        words = split_command(generator.key, generator.command)
    except InvalidCommand:
        return False
    return len(words) == 2 and os.path.basename(words[0]) == "schnauzer" and words[1] == generator.key


def fetch_template(socket_path: str, key: str) -> str | None:
    """The `template` metadata of `key`, or None when it has none."""
    uri = "/metadata/templates?keys=" + quote(key, safe="/")
    try:
        found = get_json(socket_path, uri)
    except ApiClientError as exc:
        raise ApiFailed(f"retrieving the template of '{key}'", exc) from exc
    value = found.get(key) if isinstance(found, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise TemplateFailed(key, "its 'template' metadata is not a string")
    return value


def render_legacy_template(socket_path: str, generator: Generator) -> str | None:
    """Render the generator's template through schnauzer; None when the key has no template."""
    text = fetch_template(socket_path, generator.key)
    if text is None:
        return None
    try:
        v1: Any = importlib.import_module("thar.schnauzer.v1")
        importer: Any = importlib.import_module("thar.schnauzer.importer")
    except ImportError as exc:
        raise TemplateFailed(generator.key, f"schnauzer is not available ({exc})") from exc
    try:
        result = v1.render_v1_template(text, importer.fetch_api_root(socket_path))
    except Exception as exc:  # schnauzer's render errors carry the reason
        raise TemplateFailed(generator.key, str(exc) or type(exc).__name__) from exc
    return str(result)


def is_schnauzer_v2(argv: Sequence[str]) -> bool:
    """True for a `schnauzer-v2 …` command line."""
    return os.path.basename(argv[0]) == "schnauzer-v2"


def render_schnauzer_v2(socket_path: str, generator: Generator, argv: Sequence[str]) -> str | None:
    """Run `schnauzer-v2 ARGS` in-process; the rendered text, or None when schnauzer cannot be
    imported (the caller then runs the program)."""
    try:
        cli: Any = importlib.import_module("thar.schnauzer.cli")
        errors: Any = importlib.import_module("thar.schnauzer.errors")
    except ImportError:
        return None
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            args = cli.build_parser().parse_args(list(argv[1:]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if code == 0:  # --help
            code = 1
        raise GeneratorFailed(generator.key, generator.command, code, usage.getvalue()) from None
    if getattr(args, "api_socket", None) is None:
        args.api_socket = socket_path
    try:
        return str(cli.run(args))
    except errors.SchnauzerError as exc:
        raise GeneratorFailed(generator.key, generator.command, 1, str(exc)) from exc
