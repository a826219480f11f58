"""Which helpers a template gets (spec/schnauzer.md §2.5).

A helper is usable only when the template's frontmatter lists it under the extension that owns
it (``std = { version = "v1", helpers = ["base64_decode"] }``). Before any settings are fetched:

* an extension that lists helpers must be in the owner map, else `NoSuchSettingExtension`;
* every helper it lists must be one of that extension's, else `NoSuchHelpers`.

An extension with an empty helper list is not looked up at all. Only the requested helpers are
registered; the engine's built-ins (``if``, ``each``, ``eq``, …) are always there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from thar.schnauzer.errors import NoSuchHelpers, NoSuchSettingExtension
from thar.schnauzer.helper_api import Helper
from thar.schnauzer.helpers import OWNERS, HelperEnvironment, all_helpers
from thar.schnauzer.template import Requirement

__all__ = ["HelperCatalog", "build_registry", "default_catalog"]


@dataclass(frozen=True)
class HelperCatalog:
    """The helpers a render may draw from: ``owners`` maps an extension name to the names of the
    helpers it provides; ``helpers`` maps each helper name to its implementation."""

    owners: Mapping[str, tuple[str, ...]]
    helpers: Mapping[str, Helper]

    def extended(self, extension: str, helpers: Iterable[Helper]) -> HelperCatalog:
        """This catalog plus ``helpers`` owned by ``extension`` (a test double's own helpers)."""
        extra = tuple(helpers)
        owners = dict(self.owners)
        owners[extension] = (*owners.get(extension, ()), *(h.name for h in extra))
        return HelperCatalog(owners, {**self.helpers, **{h.name: h for h in extra}})


@cache
def _host_catalog() -> HelperCatalog:
    return HelperCatalog(OWNERS, all_helpers(None))


def default_catalog(env: HelperEnvironment | None = None) -> HelperCatalog:
    """Bottlerocket's helpers (§6) with the real host's facts, or with ``env``'s."""
    if env is None:
        return _host_catalog()
    return HelperCatalog(OWNERS, all_helpers(env))


def check_requirements(requirements: Iterable[Requirement], owners: Mapping[str, tuple[str, ...]]) -> None:
    """Raise `NoSuchSettingExtension` / `NoSuchHelpers` for helpers no extension provides."""
    for requirement in requirements:
        if not requirement.helpers:
            continue
        provided = owners.get(requirement.name)
        if provided is None:
            raise NoSuchSettingExtension(requirement.name, owners)
        missing = [h for h in requirement.helpers if h not in provided]
        if missing:
            raise NoSuchHelpers(requirement.name, missing, provided)


def build_registry(requirements: Iterable[Requirement], catalog: HelperCatalog | None = None) -> dict[str, Helper]:
    """The helpers to register for a template with ``requirements``, by name."""
    catalog = catalog or default_catalog()
    requirements = tuple(requirements)
    check_requirements(requirements, catalog.owners)
    return {name: catalog.helpers[name] for r in requirements for name in r.helpers}
