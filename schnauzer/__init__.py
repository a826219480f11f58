"""schnauzer: Bottlerocket's configuration templates (TOML frontmatter + Handlebars body).

The main entry points are re-exported here (imported on first use, so that importing a
submodule such as ``schnauzer.helper_api`` stays cheap)::

    from thar.schnauzer import ApiImporter, render_template_file
    text = render_template_file("/usr/share/templates/chrony-conf", ApiImporter())

See README.md beside this file for the format, the pipeline, the CLIs and the errors.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ApiImporter",
    "Requirement",
    "SchnauzerError",
    "StaticImporter",
    "TemplateFile",
    "parse_template",
    "render_parsed",
    "render_template_file",
    "render_template_text",
]

_EXPORTS = {
    "ApiImporter": "thar.schnauzer.importer",
    "StaticImporter": "thar.schnauzer.importer",
    "SchnauzerError": "thar.schnauzer.errors",
    "Requirement": "thar.schnauzer.template",
    "TemplateFile": "thar.schnauzer.template",
    "parse_template": "thar.schnauzer.template",
    "render_parsed": "thar.schnauzer.render",
    "render_template_file": "thar.schnauzer.render",
    "render_template_text": "thar.schnauzer.render",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'schnauzer' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
