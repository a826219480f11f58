"""The errors of the schnauzer render pipeline, one class per kind (spec/schnauzer.md §5).

::

    SchnauzerError
    ├── TemplateFileRead            the template file cannot be read or is not UTF-8
    ├── TemplateParse               the v2 file format (§2)
    │   ├── GrammarParse            frontmatter/delimiter do not match the grammar
    │   ├── FrontmatterParse        the frontmatter is not valid TOML or not the schema
    │   └── HelperNameCollision     a helper is requested more than once
    ├── RequirementsParse           a `--requires` argument of schnauzer-v2 is malformed
    ├── ConstructRegistry           the requested helpers cannot be registered (§2.5)
    │   ├── NoSuchSettingExtension  an extension with helpers is not in the owner map
    │   └── NoSuchHelpers           a helper does not belong to the extension naming it
    ├── RetrieveSettings            the API request, its status, JSON or shape failed
    ├── TemplateLookup              (v1) the setting has no usable template metadata
    └── RenderTemplate              the Handlebars engine or a helper failed

Messages say what went wrong and, where it helps, what to change; the *kind* is the contract.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConstructRegistry",
    "FrontmatterParse",
    "GrammarParse",
    "HelperNameCollision",
    "NoSuchHelpers",
    "NoSuchSettingExtension",
    "RenderTemplate",
    "RequirementsParse",
    "RetrieveSettings",
    "SchnauzerError",
    "TemplateFileRead",
    "TemplateLookup",
    "TemplateParse",
]


class SchnauzerError(Exception):
    """Any failure of schnauzer; ``str(exc)`` is a one-paragraph message for a person."""


class TemplateFileRead(SchnauzerError):
    """The template file could not be read, or is not UTF-8 text."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Failed to read template file '{path}': {reason}")
        self.path = path


class TemplateParse(SchnauzerError):
    """The text is not a valid v2 template (frontmatter, delimiter, body)."""


class GrammarParse(TemplateParse):
    """The frontmatter and delimiter do not match the template grammar (§2.1)."""

    def __init__(self, line: int, column: int, reason: str) -> None:
        super().__init__(
            f"Error when parsing template grammar at line {line}, column {column}: {reason}. "
            "A v2 template is a TOML frontmatter, a line of at least three '+' directly followed "
            "by a newline, then the body; this is usually due to errors in the frontmatter TOML."
        )
        self.line = line
        self.column = column


class FrontmatterParse(TemplateParse):
    """The frontmatter is not valid TOML, or not the `required-extensions` schema (§2.2)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Error when parsing template frontmatter: {reason}")


class HelperNameCollision(TemplateParse):
    """A helper name is requested more than once across the required extensions (§2.4)."""

    def __init__(self, helper_names: Iterable[str]) -> None:
        self.helper_names = tuple(helper_names)
        super().__init__(
            f"Helper names cannot collide: [{', '.join(self.helper_names)}] imported multiple times; "
            "list each helper under exactly one extension."
        )


class RequirementsParse(SchnauzerError):
    """A `--requires` argument is not `NAME@VERSION[(helpers=[h1, h2])]`."""

    def __init__(self, requirement: str, reason: str) -> None:
        super().__init__(
            f"Could not parse extension requirement from '{requirement}': {reason}; "
            "expected NAME@VERSION or NAME@VERSION(helpers=[helper1, helper2])"
        )
        self.requirement = requirement


class ConstructRegistry(SchnauzerError):
    """The helpers the template asks for cannot be registered (§2.5)."""


class NoSuchSettingExtension(ConstructRegistry):
    """An extension that lists helpers provides no helpers at all."""

    def __init__(self, extension: str, known: Iterable[str]) -> None:
        super().__init__(
            f"Failed to register template helpers from extension '{extension}': no such settings extension "
            f"provides helpers (extensions with helpers: {', '.join(sorted(known))})"
        )
        self.extension = extension


class NoSuchHelpers(ConstructRegistry):
    """Helpers listed under an extension that does not provide them."""

    def __init__(self, extension: str, helpers: Iterable[str], provided: Iterable[str]) -> None:
        self.extension = extension
        self.helpers = tuple(helpers)
        super().__init__(
            f"Failed to register template helpers from extension '{extension}': it has no helper(s) "
            f"{', '.join(self.helpers)} (it provides: {', '.join(provided)})"
        )


class RetrieveSettings(SchnauzerError):
    """The settings could not be fetched from the API, or the answer has the wrong shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Failed to retrieve settings from the API: {reason}")


class TemplateLookup(SchnauzerError):
    """(v1) The setting has no non-empty string `template` metadata."""


class RenderTemplate(SchnauzerError):
    """The Handlebars engine or a helper failed; nothing was output."""

    def __init__(self, reason: str, source: str | None = None) -> None:
        where = f" '{source}'" if source else ""
        super().__init__(f"Failed to render template{where}: {reason}")
