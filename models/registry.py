"""Every model type by its Rust name, for conformance tests and error messages.

Each module under ``models.modeled_types`` and ``models.settings`` declares
``RUST_TYPES: dict[str, Any]`` (Rust type name -> pydantic type or model); this gathers them.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

__all__ = ["rust_types"]


def rust_types() -> dict[str, Any]:
    """``{Rust type name: Python type}`` over every model module."""
    found: dict[str, Any] = {}
    for package_name in ("thar.models.modeled_types", "thar.models.settings"):
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            for name, value in getattr(module, "RUST_TYPES", {}).items():
                if name in found and found[name] is not value:
                    raise ValueError(f"Rust type {name} is declared twice ({module.__name__})")
                found[name] = value
    return found
