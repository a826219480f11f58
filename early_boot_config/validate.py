"""Checking user data against a variant's settings model before anything is sent.

The model is thar's (`models`): strict types, closed structs, Bottlerocket's validated
strings. Problems come back one line each as `<dotted setting> = <value>: <rule>`.
`models` (pydantic) is imported only when there is user data to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserDataInvalid, VariantUnknown

if TYPE_CHECKING:
    from thar.models import Variant

__all__ = ["load_named_variant", "problems", "validate_settings"]


def load_named_variant(name_or_dir: str) -> Variant:
    """A variant by thar name (`thar-dev`), by directory (Bottlerocket's format), or by a
    Bottlerocket variant name (`aws-k8s-1.31`: the extensions of its family, no defaults)."""
    from thar import variants
    from thar.models import Variant, VariantError, extensions_for_family, load_variant

    try:
        if Path(name_or_dir).is_dir():
            return load_variant(Path(name_or_dir))
        if name_or_dir in variants.names():
            return load_variant(variants.path(name_or_dir))
        return Variant(
            name=name_or_dir, directory=Path(name_or_dir), extensions=extensions_for_family(name_or_dir), defaults={}
        )
    except (VariantError, OSError) as exc:
        raise VariantUnknown(name_or_dir, str(exc)) from exc


def problems(variant: Variant, settings: Any) -> list[str]:
    """Every problem of `settings` (no `settings` wrapper) under `variant`'s model; [] when it fits."""
    from thar.models import ModelError

    try:
        variant.parse_settings(settings)
    except ModelError as exc:
        return list(exc.lines)
    return []


def validate_settings(variant: Variant, settings: Any, source: str) -> None:
    """Raise `UserDataInvalid` naming `source` when `settings` does not fit the model."""
    found = problems(variant, settings)
    if found:
        raise UserDataInvalid(source, variant.name, found)
