"""Variant conditions: which variant a migration runs on.

Bottlerocket decides at compile time (``cfg!(variant_runtime = "k8s")``); thar decides at run
time from the variant name of the running image (``os.variant_id``, from its os-release). A
variant name is ``platform-runtime[-version][-flavor]``: ``aws-k8s-1.24-nvidia`` has platform
``aws``, runtime ``k8s``, family ``aws-k8s``, version ``1.24`` and flavor ``nvidia``
(Bottlerocket's older name for the flavor is ``variant_type``); ``aws-dev`` has runtime ``dev``.

A condition is a mapping of attributes to values that must all match
(``{"variant_family": "aws-k8s", "variant_flavor": "nvidia"}``), or ``{"not": condition}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MigrationError

__all__ = ["ATTRIBUTES", "Variant", "matches"]

_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
ATTRIBUTES = ("variant", "variant_platform", "variant_runtime", "variant_family", "variant_version", "variant_flavor")


@dataclass(frozen=True)
class Variant:
    """The parts of a variant name."""

    name: str
    platform: str
    runtime: str
    version: str | None
    flavor: str | None

    @classmethod
    def parse(cls, name: str) -> Variant:
        parts = name.split("-")
        if len(parts) < 2 or not all(parts):
            raise MigrationError(f"Variant name '{name}' is not platform-runtime[-version][-flavor], e.g. aws-k8s-1.24")
        rest = parts[2:]
        version = None
        if rest and _VERSION.fullmatch(rest[0]):
            version = rest.pop(0)
        return cls(name, parts[0], parts[1], version, "-".join(rest) or None)

    @property
    def family(self) -> str:
        return f"{self.platform}-{self.runtime}"

    def attribute(self, name: str) -> str | None:
        """The value of a condition attribute (``variant_type`` is an alias of ``variant_flavor``)."""
        values = {
            "variant": self.name,
            "variant_platform": self.platform,
            "variant_runtime": self.runtime,
            "variant_family": self.family,
            "variant_version": self.version,
            "variant_flavor": self.flavor,
            "variant_type": self.flavor,
        }
        if name not in values:
            raise MigrationError(f"Unknown variant attribute '{name}'; use one of {', '.join(ATTRIBUTES)}")
        return values[name]


def matches(condition: Mapping[str, Any], variant: Variant) -> bool:
    """True when ``variant`` satisfies ``condition`` (every attribute equal, or ``not``)."""
    if "not" in condition:
        if len(condition) != 1:
            raise MigrationError(f"Condition {dict(condition)} mixes 'not' with attributes; nest them inside 'not'")
        inner = condition["not"]
        if not isinstance(inner, Mapping):
            raise MigrationError(f"'not' in condition {dict(condition)} must hold a mapping")
        return not matches(inner, variant)
    return all(variant.attribute(name) == value for name, value in condition.items())
