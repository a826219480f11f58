"""``schnauzer SETTING_KEY``: the deprecated v1 setting generator (spec/schnauzer.md §8).

sundog runs it for a setting whose ``template`` metadata is a Handlebars template, e.g.
``settings.updates.metadata-base-url`` with ``https://updates.example/{{ os.arch }}/``:

1. ``GET /metadata/templates?keys=KEY`` must answer ``{KEY: "<non-empty template>"}``;
2. ``GET /`` gives the context: the whole model (``settings``, ``services``,
   ``configuration-files``, ``os``), not minimised;
3. the template is rendered in strict mode with every helper of §6 except ``if_not_null``
   (v1 templates have no frontmatter);
4. the result is printed as a JSON string and a newline.

``-h``/``--help``: usage on stdout, exit 0. No argument or several: usage on stderr, exit 2.
Any failure: stderr, exit 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from thar.apiclient import ApiClientError, default_socket_path
from thar.apiclient.get import get_json
from thar.schnauzer.cli import write_json_string
from thar.schnauzer.errors import RetrieveSettings, SchnauzerError, TemplateLookup
from thar.schnauzer.helper_api import Helper
from thar.schnauzer.helpers import HelperEnvironment, all_helpers
from thar.schnauzer.importer import fetch_api_root
from thar.schnauzer.render import render_body

__all__ = ["fetch_template", "main", "render_setting", "render_v1_template", "v1_helpers"]

# Query characters escaped like Bottlerocket's v1 client: controls, space, '"', '#', '<', '>'
# (and '%', so that the server reads the key back unchanged).
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"#<>%')


def v1_helpers(env: HelperEnvironment | None = None) -> dict[str, Helper]:
    """Every Bottlerocket helper except ``if_not_null``."""
    return {name: helper for name, helper in all_helpers(env).items() if name != "if_not_null"}


def fetch_template(socket_path: str, key: str) -> str:
    """The ``template`` metadata of setting ``key``; `TemplateLookup` unless a non-empty string."""
    uri = "/metadata/templates?" + quote(f"keys={key}", safe=_QUERY_SAFE)
    try:
        response = get_json(socket_path, uri)
    except ApiClientError as exc:
        raise RetrieveSettings(f"GET {uri} failed: {exc}") from exc
    value: Any = response.get(key) if isinstance(response, dict) else None
    if value is None or value == "":
        raise TemplateLookup(f"Setting '{key}' has no 'template' metadata (GET {uri} returned {json.dumps(response)})")
    if not isinstance(value, str):
        raise TemplateLookup(f"Metadata 'template' of setting '{key}' must be a string, not {json.dumps(value)}")
    return value


def render_v1_template(template: str, model: Mapping[str, Any], env: HelperEnvironment | None = None) -> str:
    """Render a v1 template (a bare Handlebars text, no frontmatter) against a whole API model
    (``settings``, ``services``, ``configuration-files``, ``os``); `RenderTemplate` on failure."""
    return render_body(template, model, v1_helpers(env))


def render_setting(socket_path: str, key: str, env: HelperEnvironment | None = None) -> str:
    """Render the v1 template of setting ``key`` against the API's whole model."""
    helpers = v1_helpers(env)
    template = fetch_template(socket_path, key)
    model = fetch_api_root(socket_path)
    return render_body(template, model, helpers)


def _usage(program: str, *, requested: bool = False) -> int:
    print(f"Usage: {program} SETTING_KEY", file=sys.stdout if requested else sys.stderr)
    return 0 if requested else 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "schnauzer"
    if "-h" in args or "--help" in args:
        return _usage(program, requested=True)
    if len(args) != 1:
        return _usage(program)
    try:
        rendered = render_setting(default_socket_path(), args[0])
    except SchnauzerError as exc:
        print(exc, file=sys.stderr)
        return 1
    write_json_string(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
