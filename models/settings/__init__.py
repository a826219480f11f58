"""Settings extensions: one module per extension, each mounted at ``settings.<NAME>``.

Every module declares ``NAME`` (the extension's kebab-case key under ``settings``),
``MODEL`` (the type of ``settings.<NAME>``: a ``SettingsStruct``, or a map / scalar type for
the extensions whose value is a map or a string) and ``RUST_TYPES``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

__all__ = ["extensions"]


def extensions() -> dict[str, Any]:
    """``{extension name: model type}`` for every extension module."""
    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME"):
            found[module.NAME] = module.MODEL
    return found
